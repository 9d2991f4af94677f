"""The dispositions HTTP endpoint's rules, without a web framework.

``POST /dispositions`` with ``Authorization: Bearer <token>`` and one
``bk.dispositions.v1`` record as the JSON body. Answers: 202 accepted (the
record goes to the topic), 401 missing or wrong token, 413 body too large,
422 body that is not a valid disposition (the message names the field), 503 no
token configured (the endpoint is off rather than open).
"""

from __future__ import annotations

import hmac
import math
import time

from schemas.records import Disposition, RecordError, decode
from stream_apps.http_body import MAX_BODY_BYTES

MAX_SKEW_S = 3600.0
"""Default of BK_DISPOSITION_MAX_SKEW_S: how far a disposition's ``ts`` may be
after the clock before it is refused (never held without bound)."""


def future_reason(ts: float, clock: float, max_skew_s: float) -> str | None:
    """Why a disposition dated ``ts`` is refused against ``clock``, or None."""
    if math.isfinite(clock) and ts > clock + max_skew_s:
        return (
            f"future timestamp: ts {ts:.3f} is {ts - clock:.0f} s after the clock "
            f"(limit {max_skew_s:.0f} s)"
        )
    return None


def authorize(
    authorization: str | None, token: str | None, what: str = "dispositions"
) -> tuple[int, dict] | None:
    """None when the bearer token matches; else (503 or 401, JSON answer)."""
    if not token:
        return 503, {"error": f"{what} endpoint disabled: no BK_DISPOSITIONS_TOKEN"}
    scheme, _, given = (authorization or "").partition(" ")
    # Compare bytes: compare_digest refuses str with non-ASCII characters, and a
    # client's header (or the token) may hold them; that must be a 401, not a 500.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")
    ):
        return 401, {"error": "missing or wrong bearer token"}
    return None


def accept_disposition(
    authorization: str | None,
    body: bytes,
    token: str | None,
    max_bytes: int = MAX_BODY_BYTES,
    clock: float | None = None,
    max_skew_s: float = MAX_SKEW_S,
) -> tuple[int, dict, Disposition | None]:
    """(HTTP status, JSON answer, the record to publish or None).

    ``clock`` is the ops clock; the reference is it or the wall clock, whichever
    is later, so a live endpoint refuses a ``ts`` in 2099 from the first request.
    """
    refused = authorize(authorization, token)
    if refused is not None:
        return *refused, None
    if len(body) > max_bytes:
        return 413, {"error": f"body larger than {max_bytes} bytes"}, None
    try:
        record = decode(Disposition, body)
    except RecordError as exc:
        return 422, {"error": str(exc)}, None
    reference = max(time.time(), clock if clock is not None else -math.inf)
    reason = future_reason(record.ts, reference, max_skew_s)
    if reason is not None:
        return 422, {"error": reason}, None
    return 202, {"accepted": record.alert_id, "action": record.action}, record
