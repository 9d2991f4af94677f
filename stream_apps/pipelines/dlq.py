"""Dead letters: a record that failed validation, with why and where it came from."""

from __future__ import annotations

from schemas.records import SCHEMA_VERSION, TOPIC_DLQ, DeadLetter, encode
from stream_apps.pipelines.output import Output

DLQ_VALUE_MAX = 8192
"""Bytes of the rejected value kept in the dead letter (the rest is cut)."""
DLQ_KEY_MAX = 256
"""Bytes of the rejected record's key kept in the dead letter (and used as its key)."""
DLQ_REASON_MAX = 1024
"""Characters of the reason kept (a reason may quote the bad input)."""


def excerpt(data: bytes, limit: int) -> str:
    """At most ``limit`` bytes of ``data`` as text (UTF-8, bad bytes replaced), with
    how much was cut: ``…[+N bytes]``. A character split by the cut is dropped."""
    if len(data) <= limit:
        return data.decode("utf-8", "replace")
    return data[:limit].decode("utf-8", "ignore") + f"…[+{len(data) - limit} bytes]"


def dead_letter(
    app: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    ts: float,
) -> Output:
    """The bk.dlq.v1 record for a rejected input record."""
    text_key = excerpt(key, DLQ_KEY_MAX) if key is not None else None
    if len(reason) > DLQ_REASON_MAX:
        reason = reason[:DLQ_REASON_MAX] + f"…[+{len(reason) - DLQ_REASON_MAX} characters]"
    letter = DeadLetter(
        v=SCHEMA_VERSION,
        reason=reason,
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=text_key,
        value=excerpt(value or b"", DLQ_VALUE_MAX),
        app=app,
        ts=ts,
    )
    return Output(TOPIC_DLQ, text_key, encode(letter))
