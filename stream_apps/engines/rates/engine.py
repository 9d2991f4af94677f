"""`RateEngine`: the rates engine's lifecycle (feed / advance / snapshot / restore).

What it counts and how (exposure, counts, windows, shrinkage, emission, grade)
is the package doc, ``stream_apps/engines/rates/__init__.py``. This module
routes inputs to the cameras and series (``series``), settles exposure and
emits at each cadence boundary, building rows with ``records``.
"""

from __future__ import annotations

from typing import Any

from schemas.records import (
    Alert,
    CameraEvent,
    CameraStatus,
    FrameDetections,
    OperatorRate,
    Record,
    RegistryEntry,
    SlaBreach,
    Violation,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.grading import REPEAT_KEY
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.rates.params import RateCounters, RateParams
from stream_apps.engines.rates.records import Figures, Operator, grade, operator_rate
from stream_apps.engines.rates.series import SLA_PREFIX, Camera, Series, window_resolutions

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes."""


class RateEngine:
    """Operator rates over rolling windows on event time (see the package doc)."""

    def __init__(self, params: RateParams | None = None) -> None:
        self.params = p = params or RateParams()
        self._window_res = window_resolutions(p)
        # The emission cadence is always kept too: the bucket an as_of cuts is
        # summed from it (see Series.window).
        self._fine = p.emit_every_s
        self._resolutions = tuple(sorted(set(self._window_res.values()) | {p.emit_every_s}))
        self._cameras: dict[str, Camera] = {}
        # camera -> (operator_id, district, station, active)
        self._registry: dict[str, tuple[str, str, str, bool]] = {}
        self._awaiting_clock: set[str] = set()
        self._series: dict[str, Series] = {}
        self._seen: dict[str, float] = {}  # counted record id -> time it was raised
        self._horizon: int | None = None  # last settled cadence boundary
        self._origin: float | None = None  # where supervision begins (start_at)
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

    def start_at(self, origin: float) -> None:
        """Before the first ``advance``: the input's event time begins at ``origin``.

        Cameras registered before the clock are supervised from there, and rows
        are emitted at every cadence boundary after it, so the rows do not
        depend on the first clock value (which depends on how the input was
        batched). Ignored once the clock runs.
        """
        if self._now == float("-inf") and self._horizon is None:
            self._origin = origin

    def advance(self, now: float) -> list[OperatorRate]:
        """Watermark moved to ``now``: settle exposure, emit at each cadence boundary crossed."""
        if now <= self._now:
            return []
        self._now = now
        step = self.params.emit_every_s
        # Registered before the clock started: supervised from the start of the
        # cadence bucket the clock started in. The first clock value depends on
        # how the camera partitions' first reports interleaved; its bucket does not.
        origin = self._origin
        started = (now // step) * step if origin is None else min(origin, now)
        for camera_id in sorted(self._awaiting_clock):
            self._cam(camera_id).seen(started)
        self._awaiting_clock.clear()
        target = int((now - self.params.settle_s) // step) * step
        if self._horizon is None and origin is not None:
            # every boundary after the origin (none yet: wait for the next advance)
            first = int(origin // step) * step + step
            if target < first:
                return []
            self._horizon = first - step
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
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "horizon": self._horizon,
            "origin": self._origin,
            "cameras": {k: c.to_dict() for k, c in self._cameras.items()},
            "registry": {k: list(v) for k, v in self._registry.items()},
            "awaiting_clock": sorted(self._awaiting_clock),
            "series": {k: s.to_dict() for k, s in self._series.items()},
            "seen": dict(self._seen),
            "counters": self.counters.as_dict(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version("rates engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops")
        self._now = inf_from_none(snapshot.get("now"))
        self._horizon = snapshot["horizon"]
        self._origin = snapshot.get("origin")
        self._cameras = {k: Camera.from_dict(c) for k, c in snapshot["cameras"].items()}
        self._registry = {k: tuple(v) for k, v in snapshot["registry"].items()}
        self._awaiting_clock = set(snapshot["awaiting_clock"])
        self._series = {
            k: Series.from_dict(s, self._resolutions) for k, s in snapshot["series"].items()
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
    def _cam(self, camera_id: str) -> Camera:
        cam = self._cameras.get(camera_id)
        if cam is None:
            cam = self._cameras[camera_id] = Camera()
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
                cam.reactivate(now)
        elif was_active:
            cam.deactivate(now if now is not None else 0.0)

    def _health(self, ev: CameraEvent) -> None:
        if ev.kind not in self.params.unhealthy_kinds:
            return
        self.counters.health_events += 1
        cam = self._cam(ev.camera_id)
        cam.seen(ev.started_at)
        if ev.operator_id:
            cam.op_hint = ev.operator_id
        cam.unhealthy(ev.event_id, ev.started_at, ev.ended_at)

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

    def _get_series(self, key: str) -> Series:
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = Series(self._resolutions)
        return s

    def _targets(self, camera_id: str) -> list[Series]:
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
            healthy = cam.settle(until)
            if healthy:
                targets = self._targets(camera_id)
                for a, b in healthy:
                    for s in targets:
                        s.add_exposure(a, b)
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
    def _operators(self) -> dict[str, Operator]:
        """Every operator with a series: its place (first registry entry) and active cameras."""
        cams_of: dict[str, int] = {}
        place: dict[str, tuple[str, str]] = {}
        for _camera, reg in sorted(self._registry.items()):
            if reg[3]:
                cams_of[reg[0]] = cams_of.get(reg[0], 0) + 1
            place.setdefault(reg[0], (reg[1], reg[2]))
        ops: dict[str, Operator] = {}
        for key in self._series:
            if key.startswith("op:"):
                op = key[3:]
                district, station = place.get(op, ("", ""))
                ops[op] = Operator(op, district, station, cams_of.get(op, 0))
        return ops

    def _emit(self, as_of: int) -> list[OperatorRate]:
        p = self.params
        city = self._series.get("city")
        cache: dict[tuple[str, str], tuple[float, dict[str, int]]] = {}

        def priors(
            series: Series | None, key: str, window: str, res: int, start: int
        ) -> tuple[float, dict[str, int]]:
            if series is None:
                return 0.0, {}
            got = cache.get((key, window))
            if got is None:
                got = cache[(key, window)] = series.window(res, start, as_of, self._fine)
            return got

        out: list[OperatorRate] = []
        ops = self._operators()
        for op in sorted(ops):
            who = ops[op]
            district = who.district
            series = self._series["op:" + op]
            figures: dict[str, Figures] = {}
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
                figures[name] = Figures(
                    name, w, start, exp_s, counts, prior_src, prior_exp, prior_counts
                )
            if all(f.empty() for f in figures.values()):
                continue
            graded = grade(p, figures[p.grading.window])
            out += [operator_rate(p, who, as_of, f, graded) for f in figures.values()]
        return out


__all__ = ["SNAPSHOT_VERSION", "RateEngine"]
