"""The dispositions HTTP endpoint's rules, without a web framework.

``POST /dispositions`` with ``Authorization: Bearer <token>`` and one
``bk.dispositions.v1`` record as the JSON body. Answers: 202 accepted (the
record goes to the topic), 401 missing or wrong token, 413 body too large,
422 body that is not a valid disposition (the message names the field), 503 no
token configured (the endpoint is off rather than open).
"""

from __future__ import annotations

import hmac

from schemas.records import Disposition, RecordError, decode
from stream_apps.http_body import MAX_BODY_BYTES


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
    authorization: str | None, body: bytes, token: str | None, max_bytes: int = MAX_BODY_BYTES
) -> tuple[int, dict, Disposition | None]:
    """(HTTP status, JSON answer, the record to publish or None)."""
    refused = authorize(authorization, token)
    if refused is not None:
        return *refused, None
    if len(body) > max_bytes:
        return 413, {"error": f"body larger than {max_bytes} bytes"}, None
    try:
        record = decode(Disposition, body)
    except RecordError as exc:
        return 422, {"error": str(exc)}, None
    return 202, {"accepted": record.alert_id, "action": record.action}, record
