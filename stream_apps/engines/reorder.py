"""One camera's reorder buffer on event time, shared by the engines.

Records wait here until the camera's newest event time is ``lateness_s``
past them, then leave in ``(ts, seq)`` order, so a feed with the contract's
disorder gives exactly the answer of an ordered one. A record that repeats
one still waiting or the last released (same ``ts`` and ``seq``) is a
duplicate; one that sorts before what was already released is late. Both are
refused (``offer`` says which) and the caller counts them.

The payload is whatever the engine needs of the record (detections, a
quality tuple); ``to_dict``/``from_dict`` take the payload's codec so the
snapshot stays plain JSON with named fields.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from stream_apps.engines.infinity import finite_or_none, inf_from_none

P = TypeVar("P")

ACCEPTED = 0
DUPLICATE = 1
LATE = 2

_NEG_INF = -math.inf
_EMPTY: list = []  # never mutated: returned when nothing is ready


def _key(item: tuple[float, int, Any]) -> tuple[float, int]:
    return (item[0], item[1])


class ReorderBuffer(Generic[P]):
    """Pending ``(ts, seq, payload)`` of one camera and what was released."""

    __slots__ = ("pending", "max_ts", "released_ts", "released_seq")

    def __init__(self) -> None:
        self.pending: list[tuple[float, int, P]] = []
        self.max_ts = _NEG_INF
        self.released_ts = _NEG_INF
        self.released_seq = -1

    def offer(self, ts: float, seq: int, payload: P) -> int:
        """Add a record: ``ACCEPTED``, or ``DUPLICATE``/``LATE`` (then nothing changed)."""
        if ts <= self.released_ts:
            if ts < self.released_ts or seq < self.released_seq:
                return LATE
            if seq == self.released_seq:
                return DUPLICATE
        pending = self.pending
        item = (ts, seq, payload)
        if ts > self.max_ts:
            pending.append(item)
            self.max_ts = ts
            return ACCEPTED
        for p in pending:
            if p[0] == ts and p[1] == seq:
                return DUPLICATE
        bisect.insort(pending, item, key=_key)
        return ACCEPTED

    def release(self, lateness_s: float) -> list[tuple[float, int, P]]:
        """Take, in order, every record at least ``lateness_s`` older than the newest."""
        pending = self.pending
        if not pending or pending[0][0] > self.max_ts - lateness_s:
            return _EMPTY
        horizon = self.max_ts - lateness_s
        n = 1
        while n < len(pending) and pending[n][0] <= horizon:
            n += 1
        out = pending[:n]
        del pending[:n]
        last = out[-1]
        self.released_ts, self.released_seq = last[0], last[1]
        return out

    def drain(self) -> list[tuple[float, int, P]]:
        """Take everything still waiting (the camera went silent)."""
        out, self.pending = self.pending, []
        if out:
            self.released_ts, self.released_seq = out[-1][0], out[-1][1]
        return out

    def to_dict(self, encode: Callable[[P], Any]) -> dict[str, Any]:
        return {
            "pending": [{"ts": t, "seq": q, "payload": encode(p)} for t, q, p in self.pending],
            # JSON has no infinity: nothing seen or released yet says null.
            "max_ts": finite_or_none(self.max_ts),
            "released_ts": finite_or_none(self.released_ts),
            "released_seq": self.released_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], decode: Callable[[Any], P]) -> ReorderBuffer[P]:
        buf: ReorderBuffer[P] = cls()
        buf.pending = [(e["ts"], e["seq"], decode(e["payload"])) for e in d["pending"]]
        buf.max_ts = inf_from_none(d["max_ts"])
        buf.released_ts = inf_from_none(d["released_ts"])
        buf.released_seq = d["released_seq"]
        return buf


__all__ = ["ACCEPTED", "DUPLICATE", "LATE", "ReorderBuffer"]
