"""The record every app produces: what a pipeline hands its shell to send."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    """A record for a shell to produce."""

    topic: str
    key: str | None
    value: bytes
    partition: int | None = None
    """Explicit partition (checkpoints go to the partition they describe)."""
