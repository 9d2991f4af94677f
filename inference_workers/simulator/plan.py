"""Everything decided before a frame is drawn: cameras, health scenarios, true
episodes, false positives and look-alikes, and the ground truth that follows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference_workers.simulator.config import (
    ANGLE_REBASELINE_S,
    HEALTH_DURATIONS_S,
    HEALTH_WARMUP_S,
    FleetConfig,
    HealthRates,
)
from inference_workers.simulator.fleet import _build_registry, _local_intervals, _np_rng, _rng
from inference_workers.simulator.truth import GroundTruth
from schemas.records import VIOLATION_CLASSES, RegistryEntry


@dataclass
class _Scenario:
    name: str
    i0: int  # first affected frame
    i1: int  # first frame after it (exclusive); n when it lasts to the end
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class _CameraPlan:
    index: int
    camera_id: str
    registry: RegistryEntry
    worker_id: str
    width: int
    height: int
    frame_ts: list[float]
    brightness0: float
    sharpness0: float
    is_open: np.ndarray  # per frame: the kitchen is open
    scenarios: list[_Scenario] = field(default_factory=list)
    episodes: list[tuple[str, int, int]] = field(default_factory=list)  # cls, i0, i1 inclusive
    false_positives: list[tuple[str, int, float]] = field(default_factory=list)  # cls, i, score
    # stationary look-alikes: cls, i0, i1 (exclusive), params
    lookalikes: list[tuple[str, int, int, dict[str, Any]]] = field(default_factory=list)


@dataclass
class FleetPlan:
    """Everything decided before a frame is drawn: cameras, scenarios, true episodes."""

    config: FleetConfig
    cameras: list[_CameraPlan]
    n_frames: int

    def truth(self) -> GroundTruth:
        return _truth(self)


def plan_fleet(config: FleetConfig) -> FleetPlan:
    """Decide cameras, health scenarios, true episodes and false positives."""
    n = max(1, int(round(config.duration_s * config.fps)))
    registry = _build_registry(config)
    lights: dict[tuple[str, float], dict[str, Any] | None] = {}
    cameras: list[_CameraPlan] = []
    for idx, (entry, _kind) in enumerate(registry):
        rng = _rng(config.seed, "camera", idx)
        nrng = _np_rng(config.seed, 1, idx)
        phase = rng.random() / config.fps
        ts = (
            config.start_ts + phase + np.arange(n) / config.fps + nrng.uniform(-0.03, 0.03, n)
        ).round(3)
        intervals = _local_intervals(entry.opening_hours, config.start_ts, config.end_ts)
        is_open = np.zeros(n, dtype=bool)
        for a, b in intervals:
            is_open |= (ts >= a) & (ts < b)
        width, height = rng.choice(((1920, 1080), (1920, 1080), (1280, 720), (2560, 1440)))
        cam = _CameraPlan(
            index=idx,
            camera_id=entry.camera_id,
            registry=entry,
            worker_id=f"gpu-worker-{idx // 16:02d}",
            width=width,
            height=height,
            frame_ts=ts.tolist(),
            brightness0=rng.uniform(0.35, 0.65),
            sharpness0=math.exp(rng.uniform(math.log(80), math.log(400))),
            is_open=is_open,
        )
        _plan_health(cam, config, rng, intervals, lights)
        _plan_cold_start(cam, config, _rng(config.seed, "cold-start", idx))
        _plan_episodes(cam, config, rng)
        _plan_lookalikes(cam, config, _rng(config.seed, "lookalike", idx))
        cameras.append(cam)
    return FleetPlan(config=config, cameras=cameras, n_frames=n)


def _plan_health(
    cam: _CameraPlan,
    config: FleetConfig,
    rng: random.Random,
    intervals: list[tuple[float, float]],
    lights: dict[tuple[str, float], dict[str, Any] | None],
) -> None:
    rates = config.health
    n = len(cam.frame_ts)
    fps = config.fps
    hours = config.duration_s / 3600.0
    busy = np.zeros(n, dtype=bool)
    ts = np.asarray(cam.frame_ts)

    def frames(seconds: float) -> int:
        return max(1, int(round(seconds * fps)))

    def add(name: str, i0: int, i1: int, margin_s: float, **params: Any) -> None:
        cam.scenarios.append(_Scenario(name, i0, i1, params))
        m = frames(margin_s)
        busy[max(0, i0 - m) : min(n, i1 + m)] = True

    # Lights off while the kitchen is closed: decided per kitchen, so all its cameras agree.
    closed: list[tuple[float, float]] = []
    for (_a0, b0), (a1, _b1) in zip(intervals, intervals[1:], strict=False):
        if a1 > b0:
            closed.append((b0, a1))
    for close_at, open_at in closed:
        if open_at <= config.start_ts or close_at >= config.end_ts:
            continue
        key = (cam.registry.kitchen_id, close_at)
        if key not in lights:
            krng = _rng(config.seed, "lights", *key)
            if krng.random() < rates.lights_off:
                lights[key] = {
                    "off": close_at + krng.uniform(60, 600),
                    "on": open_at - krng.uniform(300, 900),
                    "level": krng.uniform(0.02, 0.06),
                }
            else:
                lights[key] = None
        spec = lights[key]
        if spec is None:
            continue
        i0 = int(np.searchsorted(ts, spec["off"]))
        i1 = int(np.searchsorted(ts, spec["on"]))
        if i1 - i0 >= frames(120):
            add("lights_off", i0, i1, 120, level=spec["level"])

    def place(
        name: str, dur_s: float, need_open: bool, margin_s: float, lo_s: float = HEALTH_WARMUP_S
    ):
        d = frames(dur_s)
        lo = frames(lo_s)
        hi = n - d - frames(60)
        if hi <= lo:
            return None
        for _ in range(40):
            i0 = rng.randint(lo, hi)
            i1 = i0 + d
            if busy[max(0, i0 - frames(margin_s)) : i1 + frames(margin_s)].any():
                continue
            if need_open and not cam.is_open[i0:i1].all():
                continue
            return i0, i1
        return None

    def count(rate: float) -> int:
        return _poisson(rng, rate * hours)

    if rates.angle_change > 0 and rng.random() < 1.0 - math.exp(-rates.angle_change * hours):
        d = frames(600)
        lo = max(int(0.1 * n), frames(HEALTH_WARMUP_S))
        hi = min(int(0.8 * n), n - 1)
        # A run no longer than the warm-up has no room for an angle change
        # (``lo`` would be past the last frame): plan none rather than index past it.
        for _ in range(40 if hi >= lo else 0):
            i0 = rng.randint(lo, hi)
            if not busy[max(0, i0 - frames(120)) : i0 + d].any() and cam.is_open[i0]:
                mix = rng.uniform(0.2, 0.45)
                cam.scenarios.append(_Scenario("angle_change", i0, n, {"view_mix": mix}))
                busy[max(0, i0 - frames(120)) : min(n, i0 + d)] = True
                break
    specs = (
        ("offline", rates.offline, False),
        ("frozen", rates.frozen, False),
        ("blurred", rates.blurred, True),
        ("dark", rates.dark, True),
        ("ir_switch", rates.ir_switch, True),
        ("blip", rates.blip, False),
        ("steam", rates.steam, True),
    )
    for name, rate, need_open in specs:
        for _ in range(count(rate)):
            got = place(name, rng.uniform(*HEALTH_DURATIONS_S[name]), need_open, 120)
            if got is None:
                continue
            params: dict[str, Any] = {}
            if name == "dark":
                params["factor"] = rng.uniform(0.06, 0.15)
            elif name == "ir_switch":
                params["factor"] = rng.uniform(0.35, 0.6)
                params["sharp"] = rng.uniform(0.7, 0.9)
            elif name in ("blurred", "steam"):
                params["sharp"] = (
                    rng.uniform(0.05, 0.15) if name == "blurred" else rng.uniform(0.1, 0.25)
                )
            add(name, *got, 120, **params)
    for _ in range(count(rates.people_crossing)):
        got = place("people_crossing", rng.uniform(*HEALTH_DURATIONS_S["people_crossing"]),
                    True, 20)  # fmt: skip
        if got is not None:
            # A person crossing is not busy time for violations: cover only the crossing.
            cam.scenarios.append(
                _Scenario("people_crossing", *got, {"amp": rng.uniform(0.15, 0.3)})
            )
            busy[got[0] : got[1]] = True
    cam.scenarios.sort(key=lambda s: (s.i0, s.name))


def _plan_cold_start(cam: _CameraPlan, config: FleetConfig, rng: random.Random) -> None:
    """A share of cameras is turned, blurred or dark soon after it first connects.

    Drawn from its own random stream, after the other scenarios, and only where
    it overlaps none of them: the rest of the plan is unchanged by it."""
    ph = config.phenomena
    n = len(cam.frame_ts)
    fps = config.fps
    if config.health == HealthRates.off():
        return  # cold starts are health scenarios: a run without them has none
    if ph.cold_start_share <= 0 or rng.random() >= ph.cold_start_share:
        return
    kind = rng.choice(("angle_change", "angle_change", "blurred", "dark"))
    i0 = int(rng.uniform(60.0, ph.cold_start_within_s) * fps)
    if kind == "angle_change":
        i1, margin = n, 120
    else:
        i1, margin = i0 + int(rng.uniform(*HEALTH_DURATIONS_S[kind]) * fps), 120
    if i1 > n - int(60 * fps) and kind != "angle_change":
        return
    m = int(margin * fps)
    if i0 >= n - int(600 * fps):
        return
    # An angle change lasts to the end; it must be clear of others while it opens.
    until = min(n, i0 + int(600 * fps)) if kind == "angle_change" else i1
    for s in cam.scenarios:
        if s.name == "people_crossing":
            continue
        end = n if s.name == "angle_change" else s.i1
        if s.name == "angle_change" and kind == "angle_change":
            return
        if s.i0 < until + m and end + m > i0:
            return
    if kind != "angle_change" and not cam.is_open[i0:i1].all():
        return
    params: dict[str, Any] = {"cold_start": True}
    if kind == "angle_change":
        params["view_mix"] = rng.uniform(0.0, 0.3)
    elif kind == "dark":
        params["factor"] = rng.uniform(0.06, 0.15)
    else:
        params["sharp"] = rng.uniform(0.05, 0.15)
    cam.scenarios.append(_Scenario(kind, i0, i1, params))
    cam.scenarios.sort(key=lambda s: (s.i0, s.name))


def _plan_lookalikes(cam: _CameraPlan, config: FleetConfig, rng: random.Random) -> None:
    """Stationary look-alikes and the frozen pictures' confident false positives."""
    ph = config.phenomena
    n = len(cam.frame_ts)
    fps = config.fps
    for s in cam.scenarios:
        if s.name == "frozen" and s.i0 > 0 and rng.random() < ph.frozen_false_positive_share:
            cls = rng.choice(VIOLATION_CLASSES)
            s.params["false_positive"] = (cls, round(rng.uniform(*ph.frozen_fp_score), 3))
    if ph.lookalikes_per_camera_hour <= 0 or not ph.lookalike_classes:
        return
    blocked = _blocked_for_violations(cam, n, int(30 * fps), config)
    clear = int(round(config.detector.fp_clearance_s * fps))
    for _ in range(_poisson(rng, ph.lookalikes_per_camera_hour * config.duration_s / 3600.0)):
        cls = rng.choice(ph.lookalike_classes)
        d = max(2, int(rng.uniform(*ph.lookalike_duration_s) * fps))
        if n - d <= 1:
            continue
        i0 = rng.randrange(0, n - d)
        i1 = i0 + d
        if blocked[i0:i1].any():
            continue
        if any(c == cls and a - clear < i1 and b + clear >= i0 for c, a, b in cam.episodes) or any(
            c == cls and a < i1 + clear and b + clear > i0 for c, a, b, _ in cam.lookalikes
        ):
            continue
        cam.lookalikes.append(
            (
                cls,
                i0,
                i1,
                {
                    "score": rng.uniform(*ph.lookalike_score),
                    "hit_rate": rng.uniform(*ph.lookalike_hit_rate),
                    "cx": rng.uniform(0.15, 0.85),
                    "cy": rng.uniform(0.2, 0.85),
                },
            )
        )
    cam.lookalikes.sort(key=lambda x: (x[1], x[0]))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation; exp(-mean) would underflow for long runs
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _blocked_for_violations(
    cam: _CameraPlan, n: int, margin: int, config: FleetConfig
) -> np.ndarray:
    """Frames where no true episode may lie: health scenarios other than a person crossing."""
    blocked = np.zeros(n, dtype=bool)
    for s in cam.scenarios:
        if s.name == "people_crossing":
            continue
        if s.name == "angle_change":
            # Violations are suppressed (by design) while angle_changed is open,
            # i.e. until the new view becomes the baseline: detection (the
            # engine's 300 s sustain, plus slack) and then ANGLE_REBASELINE_S.
            until = s.i0 + int(round((ANGLE_REBASELINE_S + 360.0) * config.fps)) + margin
            blocked[max(0, s.i0 - margin) : min(n, until)] = True
        else:
            blocked[max(0, s.i0 - margin) : min(n, s.i1 + margin)] = True
    return blocked


def _plan_episodes(cam: _CameraPlan, config: FleetConfig, rng: random.Random) -> None:
    n = len(cam.frame_ts)
    fps = config.fps
    margin = int(round(90 * fps))
    blocked = _blocked_for_violations(cam, n, margin, config)
    gap = int(round(config.episode_gap_s * fps))
    for cls in VIOLATION_CLASSES:
        prof = config.classes[cls]
        if prof.rate_per_camera_hour <= 0:
            continue
        mean_wait = 3600.0 / prof.rate_per_camera_hour * fps
        lo, hi = map(math.log, prof.duration_s)
        i = int(rng.expovariate(1.0 / mean_wait))
        while i < n:
            dur = max(1, int(round(math.exp(rng.uniform(lo, hi)) * fps)))
            i1 = min(n - 1, i + dur - 1)
            # An episode cut off by the end of the run (and the 60 s a processor
            # needs to see it close) is not one it could be scored on.
            ok = i + dur - 1 < n - int(60 * fps) and not blocked[i : i1 + 1].any()
            if ok and prof.needs_people:
                ok = bool(cam.is_open[i : i1 + 1].all())
            if ok:
                cam.episodes.append((cls, i, i1))
            i = i1 + gap + int(rng.expovariate(1.0 / mean_wait))
    cam.episodes.sort(key=lambda e: (e[1], e[0]))

    # False positives: outside every episode of their class, on frames a detector can use.
    det = config.detector
    clear = int(round(det.fp_clearance_s * fps))
    near: dict[str, np.ndarray] = {}
    for cls, i0, i1 in cam.episodes:
        arr = near.setdefault(cls, np.zeros(n, dtype=bool))
        arr[max(0, i0 - clear) : min(n, i1 + clear + 1)] = True
    unusable = _blocked_for_violations(cam, n, 0, config)
    classes = list(VIOLATION_CLASSES)
    weights = [config.classes[c].fp_weight for c in classes]
    for _ in range(_poisson(rng, det.fp_per_camera_hour * config.duration_s / 3600.0)):
        cls = rng.choices(classes, weights)[0]
        i = rng.randrange(n)
        high = rng.random() < det.fp_high_score_share
        score = rng.uniform(*(det.fp_high_score if high else det.fp_low_score))
        frames_ = [i]
        if rng.random() < det.fp_burst_share:
            for _ in range(rng.randint(1, 2)):
                frames_.append(frames_[-1] + rng.randint(1, 2))
        for j in frames_:
            if j >= n or unusable[j] or (cls in near and near[cls][j]):
                continue
            s = min(0.97, max(0.05, score + rng.gauss(0, 0.03)))
            cam.false_positives.append((cls, j, round(s, 3)))
    cam.false_positives.sort(key=lambda f: (f[1], f[0]))


_EVENT_KIND = {
    "offline": "offline",
    "frozen": "frozen",
    "blurred": "blurred",
    "dark": "dark",
    "angle_change": "angle_changed",
}
_LOOKALIKE_KIND = {
    "blip": "offline",
    "ir_switch": "dark",
    "lights_off": "dark",
    "people_crossing": "angle_changed",
    "steam": "blurred",
}


def _truth(plan: FleetPlan) -> GroundTruth:
    cfg = plan.config
    truth = GroundTruth(
        meta={
            "seed": cfg.seed,
            "start_ts": cfg.start_ts,
            "end_ts": cfg.end_ts,
            "fps": cfg.fps,
            "cameras": [c.camera_id for c in plan.cameras],
            "hours": cfg.duration_s / 3600.0,
        }
    )
    for cam in plan.cameras:
        ts = cam.frame_ts
        n = len(ts)
        for cls, i0, i1 in cam.episodes:
            truth.violations.append(
                {"camera_id": cam.camera_id, "cls": cls, "start": ts[i0], "end": ts[i1]}
            )
        for cls, i0, i1, _p in cam.lookalikes:
            truth.violation_lookalikes.append(
                {"camera_id": cam.camera_id, "cls": cls, "start": ts[i0],
                 "end": ts[min(i1, n) - 1], "scenario": "stationary_lookalike"}
            )  # fmt: skip
        for s in cam.scenarios:
            end = ts[s.i1] if s.i1 < n else ts[n - 1]
            if "false_positive" in s.params:
                truth.violation_lookalikes.append(
                    {"camera_id": cam.camera_id, "cls": s.params["false_positive"][0],
                     "start": ts[s.i0 - 1], "end": end, "scenario": "frozen_false_positive"}
                )  # fmt: skip
            if s.name == "angle_change":
                end = None
            row = {"start": ts[s.i0], "end": end, "scenario": s.name}
            if s.params.get("cold_start"):
                row["cold_start"] = True
            if s.name in _EVENT_KIND:
                truth.camera_events.append(
                    {"camera_id": cam.camera_id, "kind": _EVENT_KIND[s.name], **row}
                )
            else:
                truth.must_not_report.append(
                    {"camera_id": cam.camera_id, "kind": _LOOKALIKE_KIND[s.name], **row}
                )
    for rows in (
        truth.violations,
        truth.camera_events,
        truth.must_not_report,
        truth.violation_lookalikes,
    ):
        rows.sort(key=lambda r: (r["start"], r["camera_id"]))
    return truth


def ground_truth(config: FleetConfig) -> GroundTruth:
    """What `simulate(config)` will contain, without drawing a frame."""
    return plan_fleet(config).truth()
