"""Operator rates: violations per 100 supervised camera-hours, shrunk, graded.

**Exposure.** A camera is supervised from the first time the engine learns of
it (its first frame, camera event or violation, or the watermark when its
registry entry arrives) while its registry entry is active. Its supervised
time is *healthy* except inside a camera-health event of a kind in
``unhealthy_kinds`` (offline, frozen, dark, blurred, angle_changed), from the
event's ``started_at`` to its ``ended_at`` (open events: until closed).
Health events are detected after they start, so exposure is settled
``settle_s`` behind the watermark: an event opened later than that after its
start only stops exposure from the settled point on.

**Counts.** A violation episode counts once (by violation_id, open or closed
record, whichever comes first) at its ``started_at``; an SLA breach counts once
(by breach_id) at its ``due_at``. Both go to the operator of the camera
(registry first, else the record's operator_id); district and city totals are
kept beside. Records raised more than ``dedupe_horizon_s`` before the watermark
are too late to count (that is what bounds the remembered ids).

**Windows.** Counts and exposure live in time buckets, several resolutions
(the cadence, 1 h, 6 h, 1 day): each window uses the coarsest resolution that
still gives it at least 24 buckets. A window sums the buckets from the one
holding ``as_of - window`` up to ``as_of``, so it spans the window plus at most
one bucket (exactly the window when ``as_of`` is on a bucket boundary).

**Shrinkage.** Gamma-Poisson: with prior rate r0 (per camera-hour, the
district's when it has ``min_prior_exposure_h`` in the window, else the
city's) and strength m camera-hours, the posterior mean is
``(n + m * r0) / (E + m)``. Tiny exposure gives the prior; large exposure the
raw rate. The raw count, the exposure and the raw rate travel beside it.

**Emission.** At each cadence boundary ``as_of`` of event time the settled
horizon (watermark - settle_s) crosses, one `OperatorRate` per operator with
data in the longest window, per window, in (operator, window) order. A jump of
the watermark over many boundaries emits the last ``max_catchup_slots`` of
them only.

**Grade.** From the grading window: the shrunk total rate against
``rate_thresholds``, SLA breach counts against ``breach_rules`` and class
counts against ``class_rules``; the highest grade any rule reaches wins and
``reason`` names every rule that fired. Colour follows the grade.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    CameraEvent,
    CameraStatus,
    ClassRate,
    FrameDetections,
    OperatorRate,
    Record,
    RegistryEntry,
    SlaBreach,
    Violation,
)
from stream_apps.engines.grading import (
    GRADES,
    REPEAT_KEY,
    GradeInputs,
    GradingParams,
)
from stream_apps.engines.grading import grade as grade_of
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none

DEFAULT_WINDOWS: tuple[tuple[str, float], ...] = (
    ("1h", 3600.0),
    ("24h", 86400.0),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
)
COARSER_RESOLUTIONS = (3600, 21600, 86400)
MIN_BUCKETS = 24
SLA_PREFIX = "sla:"
INACTIVE = "registry:inactive:"


@dataclass(frozen=True)
class RateParams:
    """Settings of the rates engine; every default is the documented one."""

    windows: tuple[tuple[str, float], ...] = DEFAULT_WINDOWS
    emit_every_s: int = 300
    """Cadence of emission in event time; must divide an hour."""
    settle_s: float = 300.0
    """Exposure and rates are figured this far behind the watermark, so health
    events detected late still cut exposure where they started."""
    prior_strength_h: float = 50.0
    """Weight of the prior, in camera-hours."""
    min_prior_exposure_h: float = 500.0
    """A district with less exposure in the window borrows the city's rate."""
    unhealthy_kinds: frozenset[str] = field(
        default_factory=lambda: frozenset({"offline", "frozen", "dark", "blurred", "angle_changed"})
    )
    dedupe_horizon_s: float = 6 * 3600.0
    max_catchup_slots: int = 288
    grading: GradingParams = field(default_factory=GradingParams)

    def __post_init__(self) -> None:
        if self.emit_every_s <= 0 or 3600 % self.emit_every_s:
            raise ValueError("emit_every_s must divide 3600")
        if any(r not in GRADES for r in self.grading.grades_used()):
            raise ValueError(f"grades must be one of {GRADES}")
        names = [w for w, _ in self.windows]
        if self.grading.window not in names:
            raise ValueError(f"grading window {self.grading.window!r} is not one of {names}")


@dataclass
class RateCounters:
    """Plain counters the shell exports as metrics."""

    violations: int = 0
    breaches: int = 0
    duplicates: int = 0
    too_late: int = 0
    health_events: int = 0
    emitted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def rate_id(operator_id: str, window: str, as_of: float) -> str:
    return stable_id(operator_id, window, as_of)


class _Series:
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
    def from_dict(cls, d: dict[str, Any], resolutions: tuple[int, ...]) -> _Series:
        s = cls(resolutions)
        for r, t in d["exp"].items():
            s.exp[int(r)] = {int(b): e for b, e in t.items()}
        for r, t in d["cnt"].items():
            s.cnt[int(r)] = {int(b): dict(c) for b, c in t.items()}
        return s


class _Camera:
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
    def from_dict(cls, d: dict[str, Any]) -> _Camera:
        c = cls()
        c.since, c.acc, c.op_hint = d["since"], d["acc"], d["op_hint"]
        c.intervals = {k: list(v) for k, v in d["intervals"].items()}
        return c

    def seen(self, ts: float) -> None:
        if self.acc is None and (self.since is None or ts < self.since):
            self.since = ts


class RateEngine:
    """Operator rates over rolling windows on event time (see module doc)."""

    def __init__(self, params: RateParams | None = None) -> None:
        self.params = p = params or RateParams()
        res: dict[str, int] = {}
        for name, w in p.windows:
            fit = [r for r in COARSER_RESOLUTIONS if w / r >= MIN_BUCKETS]
            res[name] = max(fit) if fit else p.emit_every_s
        self._window_res = res
        # The emission cadence is always kept too: the bucket an as_of cuts is
        # summed from it (see _Series.window).
        self._fine = p.emit_every_s
        self._resolutions = tuple(sorted(set(res.values()) | {p.emit_every_s}))
        self._cameras: dict[str, _Camera] = {}
        # camera -> (operator_id, district, station, active)
        self._registry: dict[str, tuple[str, str, str, bool]] = {}
        self._awaiting_clock: set[str] = set()
        self._series: dict[str, _Series] = {}
        self._seen: dict[str, float] = {}  # counted record id -> time it was raised
        self._horizon: int | None = None  # last settled cadence boundary
        self._now = float("-inf")
        self.counters = RateCounters()

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[OperatorRate]:
        """Registry entries, frames/status, camera events, violations, SLA breaches in."""
        if isinstance(record, FrameDetections):
            self._cam(record.camera_id).seen(record.frame_ts)
        elif isinstance(record, CameraStatus):
            if record.state == "streaming":
                self._cam(record.camera_id).seen(record.ts)
        elif isinstance(record, CameraEvent):
            self._health(record)
        elif isinstance(record, Violation):
            self._violation(record)
        elif isinstance(record, SlaBreach):
            self._breach(record)
        elif isinstance(record, Alert):
            self._repeat(record)
        elif isinstance(record, RegistryEntry):
            self._register(record)
        return []

    def advance(self, now: float) -> list[OperatorRate]:
        """Watermark moved to ``now``: settle exposure, emit at each cadence boundary crossed."""
        if now <= self._now:
            return []
        self._now = now
        step = self.params.emit_every_s
        # Registered before the clock started: supervised from the start of the
        # cadence bucket the clock started in. The first clock value depends on
        # how the camera partitions' first reports interleaved; its bucket does not.
        started = (now // step) * step
        for camera_id in sorted(self._awaiting_clock):
            self._cam(camera_id).seen(started)
        self._awaiting_clock.clear()
        target = int((now - self.params.settle_s) // step) * step
        if self._horizon is None:
            slots = [target]
        elif target <= self._horizon:
            return []
        else:
            slots = list(range(self._horizon + step, target + 1, step))
        if len(slots) > self.params.max_catchup_slots:
            skip = slots[: -self.params.max_catchup_slots]
            self._settle(skip[-1])
            slots = slots[-self.params.max_catchup_slots :]
        out: list[OperatorRate] = []
        for s in slots:
            self._settle(s)
            out += self._emit(s)
        self._prune(target)
        self.counters.emitted += len(out)
        return out

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": 1,
            "now": finite_or_none(self._now),
            "horizon": self._horizon,
            "cameras": {k: c.to_dict() for k, c in self._cameras.items()},
            "registry": {k: list(v) for k, v in self._registry.items()},
            "awaiting_clock": sorted(self._awaiting_clock),
            "series": {k: s.to_dict() for k, s in self._series.items()},
            "seen": dict(self._seen),
            "counters": self.counters.as_dict(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._now = inf_from_none(snapshot.get("now"))
        self._horizon = snapshot["horizon"]
        self._cameras = {k: _Camera.from_dict(c) for k, c in snapshot["cameras"].items()}
        self._registry = {k: tuple(v) for k, v in snapshot["registry"].items()}
        self._awaiting_clock = set(snapshot["awaiting_clock"])
        self._series = {
            k: _Series.from_dict(s, self._resolutions) for k, s in snapshot["series"].items()
        }
        self._seen = dict(snapshot["seen"])
        self.counters = RateCounters(**snapshot["counters"])

    # -- queries ------------------------------------------------------------------
    def exposure_hours(self, operator_id: str, window: str, as_of: float) -> float:
        """Settled camera-hours of an operator in a window ending at ``as_of``."""
        s = self._series.get("op:" + operator_id)
        if s is None:
            return 0.0
        res = self._window_res[window]
        w = dict(self.params.windows)[window]
        return s.window(res, int((as_of - w) // res) * res, as_of, self._fine)[0] / 3600.0

    # -- inputs -------------------------------------------------------------------
    def _cam(self, camera_id: str) -> _Camera:
        cam = self._cameras.get(camera_id)
        if cam is None:
            cam = self._cameras[camera_id] = _Camera()
        return cam

    def _register(self, e: RegistryEntry) -> None:
        old = self._registry.get(e.camera_id)
        self._registry[e.camera_id] = (e.operator_id, e.district, e.station, e.active)
        cam = self._cam(e.camera_id)
        now = finite_or_none(self._now)
        was_active = old is None or old[3]
        if e.active:
            if now is not None:
                cam.seen(now)
            elif cam.since is None:
                self._awaiting_clock.add(e.camera_id)
            if not was_active:
                # Inactive until now: close the gap the deactivation opened.
                for key, iv in cam.intervals.items():
                    if key.startswith(INACTIVE) and iv[1] is None:
                        iv[1] = now if now is not None else iv[0]
        elif was_active:
            start = now if now is not None else 0.0
            cam.intervals[f"{INACTIVE}{start:.3f}"] = [start, None]

    def _health(self, ev: CameraEvent) -> None:
        if ev.kind not in self.params.unhealthy_kinds:
            return
        self.counters.health_events += 1
        cam = self._cam(ev.camera_id)
        cam.seen(ev.started_at)
        if ev.operator_id:
            cam.op_hint = ev.operator_id
        iv = cam.intervals.get(ev.event_id)
        if iv is None:
            cam.intervals[ev.event_id] = [ev.started_at, ev.ended_at]
        elif ev.ended_at is not None:
            iv[1] = ev.ended_at

    def _fresh(self, record_id: str, raised_at: float) -> bool:
        if record_id in self._seen:
            self.counters.duplicates += 1
            return False
        if raised_at < self._now - self.params.dedupe_horizon_s:
            self.counters.too_late += 1
            return False
        self._seen[record_id] = raised_at
        return True

    def _violation(self, v: Violation) -> None:
        cam = self._cam(v.camera_id)
        cam.seen(v.started_at)
        if v.operator_id:
            cam.op_hint = v.operator_id
        if not self._fresh("v:" + v.violation_id, v.detected_at):
            return
        self.counters.violations += 1
        for s in self._targets(v.camera_id):
            s.add_count(v.started_at, v.cls)

    def _repeat(self, a: Alert) -> None:
        """A repeat offence (alert.repeat_of set) counts once, at its creation, in the grade."""
        if a.repeat_of is None or a.operator_id is None:
            return
        if not self._fresh("r:" + a.alert_id, a.created_at):
            return
        self._get_series("op:" + a.operator_id).add_count(a.created_at, REPEAT_KEY)

    def _breach(self, b: SlaBreach) -> None:
        if b.operator_id is None or not self._fresh("b:" + b.breach_id, b.due_at):
            return
        self.counters.breaches += 1
        self._get_series("op:" + b.operator_id).add_count(b.due_at, SLA_PREFIX + b.kind)

    # -- exposure -------------------------------------------------------------------
    def _owner(self, camera_id: str) -> tuple[str | None, str | None]:
        reg = self._registry.get(camera_id)
        if reg is not None:
            return reg[0], reg[1]
        cam = self._cameras.get(camera_id)
        return (cam.op_hint if cam else None), None

    def _get_series(self, key: str) -> _Series:
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = _Series(self._resolutions)
        return s

    def _targets(self, camera_id: str) -> list[_Series]:
        op, district = self._owner(camera_id)
        out = [self._get_series("city")]
        if district is not None:
            out.append(self._get_series("district:" + district))
        if op is not None:
            out.append(self._get_series("op:" + op))
        return out

    def _settle(self, until: float) -> None:
        """Add every camera's healthy time up to ``until`` to the buckets."""
        for camera_id, cam in self._cameras.items():
            start = cam.acc if cam.acc is not None else cam.since
            if start is None or start >= until:
                continue
            healthy = _subtract(start, until, cam.intervals.values())
            if healthy:
                targets = self._targets(camera_id)
                for a, b in healthy:
                    for s in targets:
                        s.add_exposure(a, b)
            cam.acc = until
            done = [k for k, iv in cam.intervals.items() if iv[1] is not None and iv[1] <= until]
            for k in done:
                del cam.intervals[k]
        self._horizon = int(until)

    def _prune(self, as_of: int) -> None:
        longest: dict[int, float] = {}
        for name, w in self.params.windows:
            r = self._window_res[name]
            longest[r] = max(longest.get(r, 0.0), w)
        fine = self._fine
        longest[fine] = max(longest.get(fine, 0.0), max(self._window_res.values()) + fine)
        keep = {r: int((as_of - w) // r) * r for r, w in longest.items()}
        for key in list(self._series):
            s = self._series[key]
            s.prune(keep)
            if s.empty():
                del self._series[key]
        horizon = self._now - self.params.dedupe_horizon_s
        for k in [k for k, t in self._seen.items() if t < horizon]:
            del self._seen[k]

    # -- output -------------------------------------------------------------------
    def _emit(self, as_of: int) -> list[OperatorRate]:
        p = self.params
        ops: dict[str, tuple[str, str, int]] = {}
        cams_of: dict[str, int] = {}
        place: dict[str, tuple[str, str]] = {}
        for _camera, reg in sorted(self._registry.items()):
            if reg[3]:
                cams_of[reg[0]] = cams_of.get(reg[0], 0) + 1
            place.setdefault(reg[0], (reg[1], reg[2]))
        for key in self._series:
            if key.startswith("op:"):
                op = key[3:]
                district, station = place.get(op, ("", ""))
                ops[op] = (district, station, cams_of.get(op, 0))
        city = self._series.get("city")
        cache: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}

        def priors(
            series: _Series | None, key: str, window: str, res: int, start: int
        ) -> tuple[float, dict[str, int]]:
            if series is None:
                return 0.0, {}
            got = cache.get((key, window))
            if got is None:
                got = cache[(key, window)] = series.window(res, start, as_of, self._fine)
            return got

        out: list[OperatorRate] = []
        for op in sorted(ops):
            district, station, ncams = ops[op]
            series = self._series["op:" + op]
            figures = {}
            for name, w in p.windows:
                res = self._window_res[name]
                start = int((as_of - w) // res) * res
                exp_s, counts = series.window(res, start, as_of, self._fine)
                prior_src = "city"
                prior_exp, prior_counts = priors(city, "city", name, res, start)
                ds = self._series.get("district:" + district) if district else None
                if ds is not None:
                    d_exp, d_counts = priors(ds, "district:" + district, name, res, start)
                    if d_exp / 3600.0 >= p.min_prior_exposure_h:
                        prior_src, prior_exp, prior_counts = "district", d_exp, d_counts
                figures[name] = (w, start, exp_s, counts, prior_src, prior_exp, prior_counts)
            if all(f[2] == 0.0 and not f[3] for f in figures.values()):
                continue
            gw = figures[p.grading.window]
            grade, colour, reason, to_grade = self._grade(gw[2], gw[3], gw[5], gw[6], gw[4])
            for name, (w, start, exp_s, counts, src, pexp, pcounts) in figures.items():
                out.append(
                    self._record(
                        op,
                        district,
                        station,
                        ncams,
                        name,
                        w,
                        start,
                        as_of,
                        exp_s,
                        counts,
                        src,
                        pexp,
                        pcounts,
                        grade,
                        colour,
                        reason,
                        to_grade,
                    )
                )
        return out

    def _shrunk(
        self, n: int, exp_h: float, prior_n: int, prior_exp_h: float
    ) -> tuple[float, float]:
        """(shrunk rate, prior rate), both per 100 camera-hours."""
        m = self.params.prior_strength_h
        r0 = prior_n / prior_exp_h if prior_exp_h > 0 else 0.0
        return (n + m * r0) / (exp_h + m) * 100.0, r0 * 100.0

    def _grade(
        self,
        exp_s: float,
        counts: dict[str, int],
        pexp_s: float,
        pcounts: dict[str, int],
        prior_src: str = "city",
    ) -> tuple[str, str, str, float]:
        """(grade, colour, reason, hours to grade): see stream_apps/engines/grading.py."""

        def total(c: dict[str, int]) -> int:
            return sum(v for k, v in c.items() if not k.startswith(SLA_PREFIX) and k != REPEAT_KEY)

        n, pn = total(counts), total(pcounts)
        pexp_h = pexp_s / 3600.0
        rate, _ = self._shrunk(n, exp_s / 3600.0, pn, pexp_h)
        return grade_of(
            self.params.grading,
            GradeInputs(
                exposure_h=exp_s / 3600.0,
                counts=counts,
                prior_rate_h=pn / pexp_h if pexp_h > 0 else 0.0,
                prior_source=prior_src,
                shrunk_rate=rate,
            ),
        )

    def _record(
        self,
        op: str,
        district: str,
        station: str,
        ncams: int,
        window: str,
        w: float,
        start: int,
        as_of: int,
        exp_s: float,
        counts: dict[str, int],
        prior_src: str,
        pexp_s: float,
        pcounts: dict[str, int],
        grade: str,
        colour: str,
        reason: str,
        to_grade: float = 0.0,
    ) -> OperatorRate:
        exp_h = exp_s / 3600.0
        pexp_h = pexp_s / 3600.0
        classes = []
        keys = sorted(
            k
            for k in set(counts) | set(pcounts)
            if not k.startswith(SLA_PREFIX) and k != REPEAT_KEY
        )
        for cls in keys:
            n = counts.get(cls, 0)
            rate, prior = self._shrunk(n, exp_h, pcounts.get(cls, 0), pexp_h)
            classes.append(
                ClassRate(
                    cls=cls,
                    violations=n,
                    raw_rate=n / exp_h * 100.0 if exp_h > 0 else None,
                    rate=rate,
                    prior_rate=prior,
                )
            )
        n = sum(c.violations for c in classes)
        pn = sum(v for k, v in pcounts.items() if not k.startswith(SLA_PREFIX) and k != REPEAT_KEY)
        rate, prior = self._shrunk(n, exp_h, pn, pexp_h)
        return OperatorRate(
            v=SCHEMA_VERSION,
            rate_id=rate_id(op, window, as_of),
            operator_id=op,
            district=district,
            station=station,
            window=window,
            window_s=w,
            window_start=float(start),
            as_of=float(as_of),
            cameras=ncams,
            exposure_h=exp_h,
            violations=n,
            raw_rate=n / exp_h * 100.0 if exp_h > 0 else None,
            rate=rate,
            prior_rate=prior,
            prior_source=prior_src,
            prior_strength_h=self.params.prior_strength_h,
            classes=classes,
            sla_breaches={
                k[len(SLA_PREFIX) :]: v
                for k, v in sorted(counts.items())
                if k.startswith(SLA_PREFIX)
            },
            grade=grade,
            colour=colour,
            grade_window=self.params.grading.window,
            reason=reason,
            hours_to_grade=to_grade,
        )


def _subtract(start: float, end: float, gaps: Any) -> list[tuple[float, float]]:
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
    "DEFAULT_WINDOWS",
    "GradingParams",
    "RateCounters",
    "RateEngine",
    "RateParams",
    "rate_id",
]
