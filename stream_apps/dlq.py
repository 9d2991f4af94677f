"""Dead letters: a record that failed validation, with why and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import SCHEMA_VERSION, TOPIC_DLQ, DeadLetter, encode

DLQ_VALUE_MAX = 8192
"""Bytes of the rejected value kept in the dead letter (the rest is cut)."""


@dataclass(frozen=True)
class Output:
    """A record for a shell to produce."""

    topic: str
    key: str | None
    value: bytes
    partition: int | None = None
    """Explicit partition (checkpoints go to the partition they describe)."""


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
    text_key = key.decode("utf-8", "replace") if key is not None else None
    letter = DeadLetter(
        v=SCHEMA_VERSION,
        reason=reason,
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=text_key,
        value=(value or b"")[:DLQ_VALUE_MAX].decode("utf-8", "replace"),
        app=app,
        ts=ts,
    )
    return Output(TOPIC_DLQ, text_key, encode(letter))
