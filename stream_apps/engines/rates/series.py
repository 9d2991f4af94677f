"""Exposure and counts: a camera's supervised time, bucketed series per operator.

A `Camera` remembers when it was first seen, how far its exposure is settled
and the spans that do not count (unhealthy camera-health events, time
deactivated in the registry); `Camera.settle` hands out the healthy time up to
a point. A `Series` (one per operator, district and the city) holds exposure
seconds and counts in buckets of several resolutions. Count keys are violation
classes, ``sla:<kind>`` for breaches and ``grading.REPEAT_KEY`` for repeat
offences.
"""

from __future__ import annotations

from typing import Any

from stream_apps.engines.grading import REPEAT_KEY
from stream_apps.engines.rates.params import RateParams

COARSER_RESOLUTIONS = (3600, 21600, 86400)
MIN_BUCKETS = 24
SLA_PREFIX = "sla:"
INACTIVE = "registry:inactive:"


def is_class_key(key: str) -> bool:
    """A count key that is a violation class (not an SLA breach, not a repeat offence)."""
    return not key.startswith(SLA_PREFIX) and key != REPEAT_KEY


def window_resolutions(p: RateParams) -> dict[str, int]:
    """Each window's bucket: the coarsest resolution that still gives it MIN_BUCKETS."""
    res: dict[str, int] = {}
    for name, w in p.windows:
        fit = [r for r in COARSER_RESOLUTIONS if w / r >= MIN_BUCKETS]
        res[name] = max(fit) if fit else p.emit_every_s
    return res


class Series:
    """Exposure seconds and counts in buckets of several resolutions."""

    __slots__ = ("exp", "cnt")

    def __init__(self, resolutions: tuple[int, ...]) -> None:
        self.exp: dict[int, dict[int, float]] = {r: {} for r in resolutions}
        self.cnt: dict[int, dict[int, dict[str, int]]] = {r: {} for r in resolutions}

    def add_exposure(self, start: float, end: float) -> None:
        for res, buckets in self.exp.items():
            t = start
            while t < end:
                b = int(t // res) * res
                stop = min(end, b + res)
                buckets[b] = buckets.get(b, 0.0) + (stop - t)
                t = stop

    def add_count(self, ts: float, key: str) -> None:
        for res, buckets in self.cnt.items():
            b = int(ts // res) * res
            c = buckets.setdefault(b, {})
            c[key] = c.get(key, 0) + 1

    def window(
        self, res: int, start: int, end: float, fine: int | None = None
    ) -> tuple[float, dict[str, int]]:
        """Exposure and counts of the buckets in [start, end).

        A ``res`` bucket that ``end`` cuts is summed from the ``fine`` buckets
        before ``end`` instead, so nothing stamped after ``end`` is counted: a
        row is a function of the events up to its ``as_of`` only, whatever else
        happened to have arrived already.
        """
        cut = int(end // res) * res if fine is not None and fine in self.exp else None
        if cut is not None and cut >= end:
            cut = None
        exposure = 0.0
        counts: dict[str, int] = {}
        spans = [(res, start, end if cut is None else cut)]
        if cut is not None:
            spans.append((fine, max(start, cut), end))
        for r, lo, hi in spans:
            for b, e in self.exp[r].items():
                if lo <= b < hi:
                    exposure += e
            for b, c in self.cnt[r].items():
                if lo <= b < hi:
                    for k, n in c.items():
                        counts[k] = counts.get(k, 0) + n
        return exposure, counts

    def prune(self, keep_from: dict[int, int]) -> None:
        for res, lo in keep_from.items():
            for table in (self.exp[res], self.cnt[res]):
                for b in [b for b in table if b < lo]:
                    del table[b]

    def empty(self) -> bool:
        return not any(self.exp.values()) and not any(self.cnt.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "exp": {str(r): {str(b): e for b, e in t.items()} for r, t in self.exp.items()},
            "cnt": {str(r): {str(b): dict(c) for b, c in t.items()} for r, t in self.cnt.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], resolutions: tuple[int, ...]) -> Series:
        s = cls(resolutions)
        for r, t in d["exp"].items():
            s.exp[int(r)] = {int(b): e for b, e in t.items()}
        for r, t in d["cnt"].items():
            s.cnt[int(r)] = {int(b): dict(c) for b, c in t.items()}
        return s


class Camera:
    """One camera's supervised time: first sight, settled point, spans not counted."""

    __slots__ = ("since", "acc", "intervals", "op_hint")

    def __init__(self) -> None:
        self.since: float | None = None  # first sight
        self.acc: float | None = None  # exposure settled up to here
        # event id -> [started_at, ended_at or None]: time not counted
        self.intervals: dict[str, list[float | None]] = {}
        self.op_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Camera:
        c = cls()
        c.since, c.acc, c.op_hint = d["since"], d["acc"], d["op_hint"]
        c.intervals = {k: list(v) for k, v in d["intervals"].items()}
        return c

    def seen(self, ts: float) -> None:
        if self.acc is None and (self.since is None or ts < self.since):
            self.since = ts

    def deactivate(self, start: float) -> None:
        """Deactivated in the registry at ``start``: nothing counts until reactivated."""
        self.intervals[f"{INACTIVE}{start:.3f}"] = [start, None]

    def reactivate(self, at: float | None) -> None:
        """Active again at ``at``: close the gap the deactivation opened (no clock
        yet: the gap closes where it opened)."""
        for key, iv in self.intervals.items():
            if key.startswith(INACTIVE) and iv[1] is None:
                iv[1] = at if at is not None else iv[0]

    def unhealthy(self, event_id: str, started_at: float, ended_at: float | None) -> None:
        """A camera-health event: its span does not count (open: until it closes)."""
        iv = self.intervals.get(event_id)
        if iv is None:
            self.intervals[event_id] = [started_at, ended_at]
        elif ended_at is not None:
            iv[1] = ended_at

    def settle(self, until: float) -> list[tuple[float, float]] | None:
        """The healthy spans from the settled point up to ``until``, now settled.

        None when there is nothing to settle (never seen, or settled past ``until``).
        """
        start = self.acc if self.acc is not None else self.since
        if start is None or start >= until:
            return None
        healthy = subtract(start, until, self.intervals.values())
        self.acc = until
        done = [k for k, iv in self.intervals.items() if iv[1] is not None and iv[1] <= until]
        for k in done:
            del self.intervals[k]
        return healthy


def subtract(start: float, end: float, gaps: Any) -> list[tuple[float, float]]:
    """[start, end) minus the union of the gaps [a, b) (b None: open-ended)."""
    cuts = sorted(
        (max(a, start), end if b is None else min(b, end))
        for a, b in gaps
        if (b is None or b > start) and a < end
    )
    out = []
    t = start
    for a, b in cuts:
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < end:
        out.append((t, end))
    return out


__all__ = [
    "COARSER_RESOLUTIONS",
    "INACTIVE",
    "MIN_BUCKETS",
    "SLA_PREFIX",
    "Camera",
    "Series",
    "is_class_key",
    "subtract",
    "window_resolutions",
]
