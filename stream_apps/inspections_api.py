"""The inspections HTTP endpoint's rules: the dispositions endpoint's, for bk.inspections.v1.

``POST /inspections`` with ``Authorization: Bearer <token>`` (the same
``BK_DISPOSITIONS_TOKEN``: the same inspectors' client) and one
``bk.inspections.v1`` record as the JSON body. Answers: 202 accepted, 401
missing or wrong token, 413 body too large, 422 not a valid inspection (the
message names the field), 503 no token configured.
"""

from __future__ import annotations

from schemas.records import Inspection, RecordError, decode
from stream_apps.dispositions_api import MAX_BODY_BYTES, authorize


def accept_inspection(
    authorization: str | None, body: bytes, token: str | None, max_bytes: int = MAX_BODY_BYTES
) -> tuple[int, dict, Inspection | None]:
    """(HTTP status, JSON answer, the record to publish or None)."""
    refused = authorize(authorization, token, "inspections")
    if refused is not None:
        return *refused, None
    if len(body) > max_bytes:
        return 413, {"error": f"body larger than {max_bytes} bytes"}, None
    try:
        record = decode(Inspection, body)
    except RecordError as exc:
        return 422, {"error": str(exc)}, None
    return 202, {"accepted": record.operator_id, "kind": record.kind}, record
