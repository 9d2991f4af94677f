"""A deterministic simulated camera fleet: what the GPU inference workers would publish.

`simulate(config)` yields ``(topic, key, record)`` in publication order for a
fleet of ``config.cameras`` cameras sampled at ``config.fps``:

- one `bk.registry.v1` record per camera first (several cameras per kitchen,
  1-3 kitchens per operator, districts and supervision stations of a
  Chengdu-like city, opening hours in Asia/Shanghai);
- one `bk.detections.v1` record per analysed frame;
- `bk.camera-status.v1` heartbeats every ``heartbeat_s`` per camera and on
  every change of state.

The same seed gives the same records, byte for byte, and `ground_truth(config)`
gives what really happened: violation episodes per (camera, class), camera-health
events the processors must raise, and look-alikes they must not raise.

The detector is imperfect on purpose, as the contract says a real one is:
inside a true episode a class is seen on a fraction ``hit_rate`` of the frames
(random misses plus occlusions of up to ``max_miss_run_s``), scores wander
around a per-episode mean, boxes drift smoothly; outside episodes there are
sporadic false positives, mostly low-scored single frames. A small share of
detection records is published late (up to ``max_late_s`` of event time) or
twice, as a replay may deliver them. Every parameter is a field of the
dataclasses below; their defaults are the documented scenario.

Camera-health scenarios (rates in `HealthRates`) leave their signature in the
quality block of the frames and in the status stream; see `HEALTH_DURATIONS_S`
and the `_apply_health` function for exactly what each one does.

Each camera draws from its own seeded random streams, so the records of one
camera do not depend on how many others are simulated before it.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from schemas.records import (
    SCHEMA_VERSION,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_REGISTRY,
    VIOLATION_CLASSES,
    CameraStatus,
    Detection,
    FrameDetections,
    Quality,
    Record,
    RegistryEntry,
    encode,
)

try:
    from zoneinfo import ZoneInfo

    _SHANGHAI: Any = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database: China has kept UTC+8 without DST since 1991
    _SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_START_TS = 1_793_577_600.0
"""2026-11-02 08:00 Asia/Shanghai (a Monday), as Unix seconds."""

HEALTH_WARMUP_S = 600.0
"""No health scenario starts before this: a camera's baselines are still being
learned (the health engine's ``warmup_frames``, 300 at 1 fps, plus margin)."""
ANGLE_REBASELINE_S = 3600.0
"""The health engine's default ``rebaseline_after_s``: how long violations on a
turned camera stay suppressed, so no true episode is planned there."""
MODEL_NAME = "bk-yolo11m-kitchen-v3.2-fp16"
MAX_CAMERAS = 100_000
"""Largest fleet `FleetConfig` accepts."""
MAX_DURATION_S = 7 * 86400.0
"""Longest run `FleetConfig` accepts (one week of event time)."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ClassProfile:
    """How often a class truly occurs and how the detector sees it."""

    rate_per_camera_hour: float
    """Mean number of true episodes per camera-hour (Poisson, renewal process)."""
    duration_s: tuple[float, float]
    """Episode duration, drawn log-uniformly in this range."""
    hit_rate: float
    """Share of the episode's frames on which the detector reports the class."""
    max_miss_run_s: float
    """Longest occlusion (a run of missed frames) inside an episode."""
    score_mean: tuple[float, float]
    """Per-episode mean score, uniform in this range."""
    score_sd: float
    """Frame-to-frame score noise (AR(1), clipped to 0.30..0.97)."""
    box_size: tuple[float, float]
    """Box width as a share of the frame width, uniform in this range."""
    box_speed: float
    """Standard deviation of the box centre's velocity, frame widths per second."""
    needs_people: bool = True
    """Only happens while the kitchen is open (staff behaviour)."""
    fp_weight: float = 1.0
    """Relative share of this class among false positives."""


_P = ClassProfile
# fmt: off
DEFAULT_CLASSES: dict[str, ClassProfile] = {
    #                    rate/cam-h  duration s   hit   miss  score mean    sd    box size     speed
    "no_hat":          _P(0.25, (60, 600),   0.75, 10, (0.60, 0.85), 0.07, (0.05, 0.10), 0.010,
                          fp_weight=1.5),
    "no_mask":         _P(0.30, (60, 900),   0.70, 10, (0.58, 0.85), 0.07, (0.04, 0.08), 0.010,
                          fp_weight=1.5),
    "no_uniform":      _P(0.15, (120, 900),  0.80, 8,  (0.62, 0.88), 0.06, (0.12, 0.30), 0.010,
                          fp_weight=0.8),
    "no_gloves":       _P(0.25, (30, 300),   0.60, 10, (0.55, 0.80), 0.08, (0.03, 0.07), 0.015,
                          fp_weight=2.0),
    "smoking":         _P(0.08, (30, 240),   0.60, 10, (0.60, 0.90), 0.08, (0.02, 0.05), 0.010,
                          fp_weight=0.8),
    "phone_use":       _P(0.15, (20, 300),   0.65, 10, (0.58, 0.88), 0.08, (0.03, 0.06), 0.010,
                          fp_weight=1.5),
    "trash_uncovered": _P(0.10, (600, 3600), 0.90, 6,  (0.70, 0.92), 0.05, (0.08, 0.20), 0.0,
                          needs_people=False, fp_weight=0.7),
    "rodent":          _P(0.06, (3, 20),     0.75, 3,  (0.65, 0.92), 0.07, (0.03, 0.07), 0.040,
                          needs_people=False, fp_weight=0.8),
    "animal":          _P(0.03, (10, 120),   0.80, 5,  (0.65, 0.92), 0.06, (0.08, 0.20), 0.030,
                          needs_people=False, fp_weight=0.4),
}
# fmt: on
del _P
assert set(DEFAULT_CLASSES) == set(VIOLATION_CLASSES)


@dataclass(frozen=True)
class DetectorNoise:
    """The detector's errors outside episodes and the feed's disorder."""

    visible_hit_prob: float = 0.93
    """Hit probability on a frame where the object is not occluded; occlusion runs
    make up the rest of the misses so that the overall share is ``hit_rate``."""
    min_hits_per_episode: int = 2
    """Every true episode is seen on at least this many frames (if it has them)."""
    fp_per_camera_hour: float = 6.0
    """False-positive events per camera-hour, all classes together."""
    fp_high_score_share: float = 0.15
    """Share of false positives scored high (``fp_high_score``) instead of low."""
    fp_low_score: tuple[float, float] = (0.25, 0.50)
    fp_high_score: tuple[float, float] = (0.50, 0.85)
    fp_burst_share: float = 0.03
    """Share of false-positive events repeated on 2-3 frames within 4 s."""
    fp_clearance_s: float = 90.0
    """No false positive of a class this close to a true episode of that class."""
    duplicate_rate: float = 0.002
    """Share of detection records published a second time (same bytes)."""
    late_rate: float = 0.003
    """Share of detection records published late."""
    max_late_s: float = 4.5
    """Largest publication delay, in event time (the contract allows 5 s)."""


@dataclass(frozen=True)
class HealthRates:
    """Camera-health scenarios, in events per camera-hour unless stated.

    Events (the processors must raise): ``offline``, ``frozen``, ``blurred``,
    ``dark``, ``angle_change``. Look-alikes (they must not): ``blip``,
    ``ir_switch``, ``people_crossing``, ``steam``, ``lights_off``.
    """

    offline: float = 0.08
    blip: float = 0.25
    frozen: float = 0.05
    blurred: float = 0.05
    dark: float = 0.04
    ir_switch: float = 0.05
    angle_change: float = 0.03
    people_crossing: float = 3.0
    steam: float = 0.10
    lights_off: float = 0.8
    """Probability that a kitchen switches its lights off while it is closed."""

    @classmethod
    def off(cls) -> HealthRates:
        """No health scenario at all: every camera streams a clean, lit, steady view."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class Phenomena:
    """What fools a debouncer in a real kitchen (issue 13), each with ground truth.

    - **Stationary look-alikes**: a static object read as a class that moves or is
      held (a bag or mop head as a rodent or animal, a ladle as a cigarette, a
      phone-shaped box as phone use): the box centre wanders less than
      ``lookalike_wander`` of the frame, the score is moderate on most frames, for
      minutes. Truth: ``violation_lookalikes`` (must not be reported).
    - **Frozen pictures with a false positive**: a share of ``frozen`` scenarios
      repeat a frame that holds a confident false detection. Truth:
      ``violation_lookalikes`` with scenario ``frozen_false_positive``.
    - **Small objects flicker**: true episodes of ``small_classes`` are seen on a
      share of frames drawn per episode from ``small_hit_rate``; held objects
      (``held_classes``) jitter ``hand_jitter`` of the frame per frame.
    - **Cold starts**: a share of cameras is turned, blurred or dark within the
      first ``cold_start_within_s`` (a turn may come before opening).
    """

    lookalikes_per_camera_hour: float = 0.25
    lookalike_classes: tuple[str, ...] = ("rodent", "animal", "smoking", "phone_use")
    lookalike_duration_s: tuple[float, float] = (120.0, 900.0)
    lookalike_score: tuple[float, float] = (0.5, 0.75)
    lookalike_hit_rate: tuple[float, float] = (0.70, 0.95)
    lookalike_wander: float = 0.005
    frozen_false_positive_share: float = 0.7
    frozen_fp_score: tuple[float, float] = (0.8, 0.95)
    small_classes: tuple[str, ...] = ("phone_use", "smoking", "no_gloves")
    small_hit_rate: tuple[float, float] = (0.30, 0.65)
    held_classes: tuple[str, ...] = ("phone_use", "smoking")
    hand_jitter: tuple[float, float] = (0.01, 0.03)
    cold_start_share: float = 0.15
    cold_start_within_s: float = 1800.0

    @classmethod
    def off(cls) -> Phenomena:
        """None of them: the clean scenario of the first benchmarks."""
        return cls(
            lookalikes_per_camera_hour=0.0,
            frozen_false_positive_share=0.0,
            small_classes=(),
            held_classes=(),
            cold_start_share=0.0,
        )


HEALTH_DURATIONS_S: dict[str, tuple[float, float]] = {
    "offline": (90, 900),  # > the 60 s threshold by a clear margin
    "blip": (5, 40),  # < 60 s: must not be reported
    "frozen": (180, 1200),
    "blurred": (300, 1800),
    "dark": (300, 1800),
    "ir_switch": (600, 3600),
    "people_crossing": (3, 12),
    "steam": (10, 45),
}
"""Uniform duration ranges; ``angle_change`` lasts to the end, ``lights_off`` follows
the closing hours."""

PROFILES: dict[str, HealthRates] = {
    "default": HealthRates(),
    "violations_only": HealthRates.off(),
    "health_stress": HealthRates(
        offline=0.5, blip=0.5, frozen=0.4, blurred=0.4, dark=0.4, ir_switch=0.4,
        angle_change=0.3, people_crossing=6.0, steam=0.5, lights_off=1.0,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate. The defaults are the reference scenario of bench/quality.py."""

    cameras: int = 40
    duration_s: float = 7200.0
    start_ts: float = DEFAULT_START_TS
    seed: int = 7
    fps: float = 1.0
    heartbeat_s: float = 10.0
    episode_gap_s: float = 180.0
    """Least time between true episodes of one camera and class (merge gap is 60 s)."""
    classes: dict[str, ClassProfile] = field(default_factory=lambda: dict(DEFAULT_CLASSES))
    detector: DetectorNoise = field(default_factory=DetectorNoise)
    health: HealthRates = field(default_factory=HealthRates)
    phenomena: Phenomena = field(default_factory=Phenomena)

    def __post_init__(self) -> None:
        # The documented bounds: anything inside them simulates, anything
        # outside is refused here with the reason, never an IndexError later.
        if not 1 <= self.cameras <= MAX_CAMERAS:
            raise ValueError(f"cameras must be 1..{MAX_CAMERAS}, got {self.cameras}")
        if not 0 < self.fps <= 30:
            raise ValueError(f"fps must be in (0, 30], got {self.fps}")
        if not 1.0 / self.fps <= self.duration_s <= MAX_DURATION_S:
            raise ValueError(
                f"duration_s must be one frame ({1.0 / self.fps:g} s) to {MAX_DURATION_S:.0f} s "
                f"(7 days), got {self.duration_s}"
            )

    @classmethod
    def for_profile(cls, profile: str, **kwargs: Any) -> FleetConfig:
        """A config with the health rates of ``PROFILES[profile]``."""
        return cls(health=PROFILES[profile], **kwargs)

    @property
    def end_ts(self) -> float:
        return self.start_ts + self.duration_s


# --------------------------------------------------------------------------- truth


@dataclass
class GroundTruth:
    """What really happened in a simulated run (times are Unix seconds, UTC).

    - ``violations``: ``{camera_id, cls, start, end}``; ``start``/``end`` are the
      first and last frame on which the class is truly present.
    - ``camera_events``: ``{camera_id, kind, start, end, scenario}`` the health
      engine must raise; ``end`` is the first normal frame after it, or ``None``
      for ``angle_changed`` (the new view stays).
    - ``must_not_report``: ``{camera_id, kind, start, end, scenario}``: look-alikes
      of ``kind`` that must raise nothing.
    - ``violation_lookalikes``: ``{camera_id, cls, start, end, scenario}``: what
      must not be reported as a violation of ``cls`` (a stationary look-alike, a
      frozen picture's false positive).
    - ``meta``: the run's start, end, seed and camera ids.
    """

    violations: list[dict[str, Any]] = field(default_factory=list)
    camera_events: list[dict[str, Any]] = field(default_factory=list)
    must_not_report: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    violation_lookalikes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "meta": self.meta,
                "violations": self.violations,
                "camera_events": self.camera_events,
                "must_not_report": self.must_not_report,
                "violation_lookalikes": self.violation_lookalikes,
            },
            ensure_ascii=False,
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> GroundTruth:
        obj = json.loads(data)
        return cls(
            violations=obj["violations"],
            camera_events=obj["camera_events"],
            must_not_report=obj["must_not_report"],
            meta=obj.get("meta", {}),
            violation_lookalikes=obj.get("violation_lookalikes", []),
        )

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        return cls.from_json(Path(path).read_bytes())


# --------------------------------------------------------------------------- the fleet

_DISTRICTS: dict[str, tuple[str, ...]] = {
    "锦江区": ("春熙路", "盐市口", "东大街"),
    "青羊区": ("草市街", "府南", "少城"),
    "金牛区": ("驷马桥", "荷花池", "茶店子"),
    "武侯区": ("火车南站", "玉林", "红牌楼"),
    "成华区": ("建设路", "猛追湾", "双桥子"),
    "高新区": ("桂溪", "芳草", "中和"),
    "双流区": ("东升", "西航港", "九江"),
}
_BRANDS = (
    "蜀香", "金鼎", "红杏", "老码头", "天府", "锦城", "蓉城", "香满楼", "福满园", "味之源",
    "巴蜀人家", "小龙坎", "陈麻婆", "钟水饺", "龙抄手", "谭豆花", "大蓉和", "银杏",
)  # fmt: skip
_COMPANY_SUFFIX = ("餐饮管理有限公司", "餐饮有限公司", "食品有限公司", "酒家")
_SCHOOLS = ("实验小学", "外国语学校", "第七中学", "树德中学", "师范附属小学", "石室中学")
_KITCHEN_NAMES = ("总店", "分店", "中央厨房", "旗舰店", "二店", "三店")

# (kind, weight, opening hours, cameras per kitchen)
_KITCHEN_KINDS: tuple[tuple[str, float, list[list[str]], tuple[int, int]], ...] = (
    ("all_day", 0.45, [["06:00", "21:00"]], (2, 4)),
    ("late", 0.10, [["07:00", "22:00"]], (2, 4)),
    ("central", 0.10, [["05:00", "20:00"]], (3, 6)),
    ("canteen", 0.25, [["06:00", "09:00"], ["10:30", "13:30"], ["16:00", "19:30"]], (2, 4)),
    ("restaurant", 0.10, [["09:30", "14:00"], ["16:30", "22:00"]], (2, 3)),
)


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


def _local_intervals(
    hours: list[list[str]], start_ts: float, end_ts: float
) -> list[tuple[float, float]]:
    """Opening intervals (Unix seconds) covering [start_ts, end_ts], in Asia/Shanghai."""
    out: list[tuple[float, float]] = []
    day0 = datetime.fromtimestamp(start_ts, _SHANGHAI).date() - timedelta(days=1)
    day1 = datetime.fromtimestamp(end_ts, _SHANGHAI).date() + timedelta(days=1)
    day = day0
    while day <= day1:
        midnight = datetime(day.year, day.month, day.day, tzinfo=_SHANGHAI).timestamp()
        for a, b in hours:
            ha, ma = map(int, a.split(":"))
            hb, mb = map(int, b.split(":"))
            out.append((midnight + ha * 3600 + ma * 60, midnight + hb * 3600 + mb * 60))
        day += timedelta(days=1)
    return sorted(out)


def _rng(seed: int, *parts: object) -> random.Random:
    # String seeds are hashed with SHA-512: stable across processes and versions.
    return random.Random(":".join(map(str, (seed, *parts))))


def _np_rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def _build_registry(config: FleetConfig) -> list[tuple[RegistryEntry, str]]:
    """One registry entry per camera (and the kitchen kind), deterministic in the seed."""
    rng = _rng(config.seed, "registry")
    out: list[tuple[RegistryEntry, str]] = []
    districts = list(_DISTRICTS)
    op_no = 0
    kitchen_no = 0
    weights = [k[1] for k in _KITCHEN_KINDS]
    while len(out) < config.cameras:
        op_no += 1
        district = rng.choice(districts)
        first_kind = rng.choices(_KITCHEN_KINDS, weights)[0]
        if first_kind[0] == "canteen":
            op_name = f"成都市{rng.choice(_SCHOOLS)}（{district}）"
            n_kitchens = 1
        else:
            op_name = f"成都{rng.choice(_BRANDS)}{rng.choice(_COMPANY_SUFFIX)}"
            n_kitchens = rng.choice((1, 1, 2, 3))
        for k in range(n_kitchens):
            kitchen_no += 1
            kind = (
                first_kind
                if k == 0 or first_kind[0] == "canteen"
                else rng.choices(_KITCHEN_KINDS[:3], weights[:3])[0]
            )
            kdistrict = district if k == 0 else rng.choice(districts)
            station = f"{kdistrict}{rng.choice(_DISTRICTS[kdistrict])}市场监管所"
            for _ in range(rng.randint(*kind[3])):
                if len(out) >= config.cameras:
                    break
                cam_no = len(out) + 1
                entry = RegistryEntry(
                    v=SCHEMA_VERSION,
                    camera_id=f"cam-{cam_no:05d}",
                    kitchen_id=f"kit-{kitchen_no:04d}",
                    operator_id=f"op-{op_no:04d}",
                    operator_name=op_name,
                    district=kdistrict,
                    station=station,
                    opening_hours=[list(h) for h in kind[2]],
                )
                out.append((entry, kind[0]))
    return out


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


# --------------------------------------------------------------------------- frames

_CHUNK = 512
_SIG_NOISE = 0.02  # per-cell noise of the signature: correlation with the view ~0.987


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _base_view(nrng: np.random.Generator) -> np.ndarray:
    """An 8x8 grid of gradient magnitude: counters and shelves give strong rows/columns."""
    g = nrng.gamma(2.0, 1.0, (8, 8))
    for _ in range(nrng.integers(1, 4)):
        g[nrng.integers(0, 8), :] += nrng.uniform(1.5, 4.0)
    for _ in range(nrng.integers(0, 3)):
        g[:, nrng.integers(0, 8)] += nrng.uniform(1.0, 3.0)
    return _unit(g.reshape(64))


def _detections_for(
    cam: _CameraPlan, config: FleetConfig, rng: random.Random
) -> dict[int, list[Detection]]:
    """Per-frame detections: flickering true episodes plus false positives."""
    out: dict[int, list[Detection]] = {}
    det = config.detector
    fps = config.fps
    ph = config.phenomena
    for cls, i0, i1 in cam.episodes:
        prof = config.classes[cls]
        n_ep = i1 - i0 + 1
        hit_rate = prof.hit_rate
        if cls in ph.small_classes:
            hit_rate = rng.uniform(*ph.small_hit_rate)
        hand = rng.uniform(*ph.hand_jitter) if cls in ph.held_classes else 0.0
        p_vis = min(det.visible_hit_prob, hit_rate)
        f_vis = min(1.0, hit_rate / p_vis) if p_vis > 0 else 0.0
        max_occ = max(2, int(round(prof.max_miss_run_s * fps)))
        mean_occ = (2 + max_occ) / 2
        # Mean visible run V with V / (V + mean_occ) = f_vis.
        p_occ = 0.0 if f_vis >= 1.0 else (1.0 - f_vis) / (f_vis * mean_occ)
        hits: list[int] = []
        occluded = 0 if rng.random() < f_vis else rng.randint(2, max_occ)
        for i in range(i0, i1 + 1):
            if occluded > 0:
                occluded -= 1
                continue
            if rng.random() < p_occ:
                occluded = rng.randint(2, max_occ) - 1
                continue
            if rng.random() < p_vis:
                hits.append(i)
        need = min(det.min_hits_per_episode, n_ep)
        if len(hits) < need:
            extra = [i for i in range(i0, i1 + 1) if i not in hits]
            hits = sorted(hits + rng.sample(extra, need - len(hits)))
        hit_set = set(hits)
        mean = rng.uniform(*prof.score_mean)
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        cx, cy = (
            rng.uniform(w / 2 + 0.02, 1 - w / 2 - 0.02),
            rng.uniform(h / 2 + 0.02, 0.95 - h / 2),
        )
        vx = vy = 0.0
        err = 0.0
        for i in range(i0, i1 + 1):
            # The object moves whether or not the detector sees it.
            if prof.box_speed > 0:
                vx = 0.85 * vx + rng.gauss(0, prof.box_speed * 0.5 / fps)
                vy = 0.85 * vy + rng.gauss(0, prof.box_speed * 0.3 / fps)
                cx += vx / fps
                cy += vy / fps
                if not w / 2 <= cx <= 1 - w / 2:
                    vx = -vx
                    cx = min(max(cx, w / 2), 1 - w / 2)
                if not h / 2 <= cy <= 1 - h / 2:
                    vy = -vy
                    cy = min(max(cy, h / 2), 1 - h / 2)
            err = 0.5 * err + rng.gauss(0, prof.score_sd)
            if i not in hit_set:
                continue
            score = round(min(0.97, max(0.30, mean + err)), 3)
            jx, jy = rng.gauss(0, 0.004), rng.gauss(0, 0.004)
            if hand:
                # Held in a hand: the object jitters on every frame.
                jx += rng.uniform(-hand / 2, hand / 2)
                jy += rng.uniform(-hand / 2, hand / 2)
            box = _box(cx + jx, cy + jy, w * rng.uniform(0.95, 1.05), h * rng.uniform(0.95, 1.05))
            out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    for cls, i, score in cam.false_positives:
        prof = config.classes[cls]
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        box = _box(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), w, h)
        out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    wander = ph.lookalike_wander
    for cls, i0, i1, p in cam.lookalikes:
        # A static object: the box centre stays within +-wander/2 (detector jitter
        # and a slow drift of the box edges), the score moderate.
        prof = config.classes[cls]
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        dx = dy = 0.0
        err = 0.0
        for i in range(i0, min(i1, len(cam.frame_ts))):
            dx = min(wander / 4, max(-wander / 4, dx + rng.gauss(0, wander / 20)))
            dy = min(wander / 4, max(-wander / 4, dy + rng.gauss(0, wander / 20)))
            err = 0.6 * err + rng.gauss(0, 0.04)
            if rng.random() >= p["hit_rate"]:
                continue
            jx = rng.uniform(-wander / 4, wander / 4)
            jy = rng.uniform(-wander / 4, wander / 4)
            lo, hi = config.phenomena.lookalike_score
            score = round(min(hi, max(lo, p["score"] + err)), 3)
            box = _box(p["cx"] + dx + jx, p["cy"] + dy + jy, w, h)
            out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    for s in cam.scenarios:
        fp = s.params.get("false_positive")
        if fp is not None:
            # The last live frame holds the false detection; the frozen frames repeat it.
            cls, score = fp
            w = rng.uniform(*config.classes[cls].box_size)
            box = _box(rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), w, w)
            out[s.i0 - 1] = [Detection(cls=cls, score=score, box=box)]
    return out


def _box(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    x1 = min(max(cx - w / 2, 0.0), 1.0)
    y1 = min(max(cy - h / 2, 0.0), 1.0)
    x2 = min(max(cx + w / 2, x1), 1.0)
    y2 = min(max(cy + h / 2, y1), 1.0)
    return (round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4))


@dataclass
class _FrameModel:
    """Per-frame quality inputs for one camera after the health scenarios are applied."""

    emit: np.ndarray  # a frame is published
    frozen: np.ndarray  # repeats the previous frame's quality exactly
    brightness: np.ndarray
    sharpness: np.ndarray
    view: np.ndarray  # index into views
    mix: np.ndarray  # weight of the view in the signature (structure lost in the dark)
    noise: np.ndarray  # signature noise sd
    views: np.ndarray
    crossings: list[tuple[int, int, float]]


def _apply_health(cam: _CameraPlan, config: FleetConfig, nrng: np.random.Generator) -> _FrameModel:
    n = len(cam.frame_ts)
    ts = np.asarray(cam.frame_ts)
    t = ts - config.start_ts
    b0 = cam.brightness0
    brightness = (
        b0
        + 0.015 * np.sin(2 * np.pi * t / 1800.0 + nrng.uniform(0, 2 * np.pi))
        + nrng.normal(0, 0.008, n)
    )
    sharpness = cam.sharpness0 * np.exp(nrng.normal(0, 0.08, n))
    emit = np.ones(n, dtype=bool)
    frozen = np.zeros(n, dtype=bool)
    view = np.zeros(n, dtype=np.int64)
    mix = np.ones(n)
    noise = np.full(n, _SIG_NOISE)
    views = [_base_view(nrng)]
    crossings: list[tuple[int, int, float]] = []
    for s in cam.scenarios:
        sl = slice(s.i0, s.i1)
        m = s.i1 - s.i0
        p = s.params
        if s.name in ("offline", "blip"):
            emit[sl] = False  # nothing: no frames, no streaming status
        elif s.name == "frozen":
            frozen[sl] = True
        elif s.name in ("blurred", "steam"):
            sharpness[sl] *= p["sharp"]
            noise[sl] = _SIG_NOISE * 1.5
        elif s.name == "dark":
            brightness[sl] = b0 * p["factor"] * np.exp(nrng.normal(0, 0.05, m))
            sharpness[sl] *= 0.6
            mix[sl], noise[sl] = 0.5, 0.12  # sensor noise swamps the structure
        elif s.name == "lights_off":
            brightness[sl] = p["level"] + nrng.normal(0, 0.003, m)
            sharpness[sl] *= 0.5
            mix[sl], noise[sl] = 0.5, 0.12
        elif s.name == "ir_switch":
            # The IR cut filter flips: brightness jumps, the structure stays.
            brightness[sl] = b0 * p["factor"] + nrng.normal(0, 0.008, m)
            sharpness[sl] *= p["sharp"]
        elif s.name == "angle_change":
            new = _unit(p["view_mix"] * views[-1] + _base_view(nrng))
            views.append(new)
            view[s.i0 :] = len(views) - 1
            brightness[s.i0 :] += nrng.uniform(-0.08, 0.08)
            sharpness[s.i0 :] *= nrng.uniform(0.7, 1.3)
        elif s.name == "people_crossing":
            crossings.append((s.i0, s.i1, p["amp"]))
    np.clip(brightness, 0.0, 1.0, out=brightness)
    return _FrameModel(
        emit, frozen, brightness.round(4), sharpness.round(2), view, mix, noise,
        np.asarray(views), crossings,
    )  # fmt: skip


def _signatures(fm: _FrameModel, i0: int, i1: int, nrng: np.random.Generator) -> list[list[float]]:
    m = i1 - i0
    raw = fm.views[fm.view[i0:i1]] * fm.mix[i0:i1, None]
    raw = raw + nrng.standard_normal((m, 64)) * fm.noise[i0:i1, None]
    for c0, c1, amp in fm.crossings:
        if c1 <= i0 or c0 >= i1:
            continue
        for i in range(max(c0, i0), min(c1, i1)):
            # A person (2x3 cells) walks across the grid, adding gradients where they are.
            col = int((i - c0) / max(1, c1 - c0) * 7)
            row = 3 + (c0 % 3)
            raw[i - i0].reshape(8, 8)[row : row + 3, col : col + 2] += amp
    return _unit(raw).round(5).tolist()


_HeapItem = tuple[float, int, int, str, str, Record]


def _camera_stream(cam: _CameraPlan, config: FleetConfig) -> Iterator[_HeapItem]:
    """One camera's records as (publish_ts, camera index, n, topic, key, record)."""
    rng = _rng(config.seed, "frames", cam.index)
    nrng = _np_rng(config.seed, 2, cam.index)
    fm = _apply_health(cam, config, nrng)
    dets = _detections_for(cam, config, rng)
    det_cfg = config.detector
    n = len(cam.frame_ts)
    ts_list = cam.frame_ts
    emit = fm.emit.tolist()
    frozen = fm.frozen.tolist()
    bright = fm.brightness.tolist()
    sharp = fm.sharpness.tolist()
    hb = max(1, int(round(config.heartbeat_s * config.fps)))
    cid = cam.camera_id
    idx = cam.index
    worker = cam.worker_id
    fps = config.fps
    heap: list[tuple[float, int, str, Record]] = []
    counter = 0
    seq = 0
    streaming = True
    anchor = 0
    prev_quality: Quality | None = None
    empty: list[Detection] = []
    prev_dets: list[Detection] = empty
    p_dup, p_late, max_late = det_cfg.duplicate_rate, det_cfg.late_rate, det_cfg.max_late_s

    def status(ts: float, state: str, detail: str) -> None:
        nonlocal counter
        rec = CameraStatus(
            v=SCHEMA_VERSION, camera_id=cid, ts=ts, worker_id=worker, state=state,
            fps=fps if state == "streaming" else 0.0, detail=detail,
        )  # fmt: skip
        heapq.heappush(heap, (ts, counter, TOPIC_CAMERA_STATUS, rec))
        counter += 1

    for c0 in range(0, n, _CHUNK):
        c1 = min(n, c0 + _CHUNK)
        sigs = _signatures(fm, c0, c1, nrng)
        for i in range(c0, c1):
            ts = ts_list[i]
            if not emit[i]:
                if streaming:
                    status(ts, "disconnected", "rtsp: no data for 5 s, reconnecting")
                    streaming = False
                    anchor = i
                elif (i - anchor) % hb == 0:
                    status(ts, "connecting", "rtsp: connect timeout, retrying")
            else:
                if not streaming:
                    status(ts, "streaming", "reconnected")
                    streaming = True
                    anchor = i
                    seq = 0  # a new stream session
                elif (i - anchor) % hb == 0:
                    status(ts, "streaming", "")
                if frozen[i] and prev_quality is not None:
                    # A stuck encoder: the same picture, so the same detections.
                    quality = prev_quality
                    frame_dets = prev_dets
                else:
                    quality = Quality(
                        brightness=bright[i], sharpness=sharp[i], signature=sigs[i - c0]
                    )
                    prev_quality = quality
                    frame_dets = prev_dets = dets.get(i, empty)
                rec = FrameDetections(
                    v=SCHEMA_VERSION, camera_id=cid, frame_ts=ts, seq=seq, worker_id=worker,
                    model=MODEL_NAME, width=cam.width, height=cam.height, quality=quality,
                    detections=frame_dets,
                )  # fmt: skip
                seq += 1
                r = rng.random()
                pub = ts + rng.uniform(1.0, max_late) if r < p_late else ts
                heapq.heappush(heap, (pub, counter, TOPIC_DETECTIONS, rec))
                counter += 1
                if r >= 1.0 - p_dup:
                    # A replayed copy: the same record again, a little later.
                    heapq.heappush(heap, (ts + rng.uniform(0.2, max_late), counter,
                                          TOPIC_DETECTIONS, rec))  # fmt: skip
                    counter += 1
            while heap and heap[0][0] <= ts:
                pub, k, topic, rec = heapq.heappop(heap)
                yield pub, idx, k, topic, cid, rec
    while heap:
        pub, k, topic, rec = heapq.heappop(heap)
        yield pub, idx, k, topic, cid, rec


def simulate_timed(
    config: FleetConfig, plan: FleetPlan | None = None
) -> Iterator[tuple[float, str, str, Record]]:
    """Like `simulate`, with the publication time (event time plus any delay) first."""
    plan = plan or plan_fleet(config)
    for cam in plan.cameras:
        yield config.start_ts - 1.0, TOPIC_REGISTRY, cam.camera_id, cam.registry
    streams = [_camera_stream(cam, config) for cam in plan.cameras]
    for pub, _idx, _k, topic, key, rec in heapq.merge(*streams):
        yield pub, topic, key, rec


def simulate(config: FleetConfig) -> Iterator[tuple[str, str, Record]]:
    """The fleet's records as (topic, key, record), in publication order.

    Registry records come first; then detections and statuses of all cameras
    merged in event-time order, except the configured share of late and
    duplicated detection records.
    """
    for _pub, topic, key, rec in simulate_timed(config):
        yield topic, key, rec


def iter_realtime(
    config: FleetConfig,
    speed: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[str, str, Record]]:
    """`simulate`, paced so that event time advances at ``speed`` x the wall clock.

    The caller publishes what it gets; a slow consumer falls behind rather than
    losing records (no catching up by skipping).
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    wall0: float | None = None
    for pub, topic, key, rec in simulate_timed(config):
        if wall0 is None:
            wall0 = clock()
        due = wall0 + max(0.0, pub - config.start_ts) / speed
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield topic, key, rec


def replay_line(topic: str, key: str, record: Record) -> bytes:
    """One line of the contract's replay format: {"topic", "key", "value"}."""
    return b'{"topic":%s,"key":%s,"value":%s}\n' % (
        msgspec.json.encode(topic),
        msgspec.json.encode(key),
        encode(record),
    )


def write_replay(
    config: FleetConfig, path_jsonl: str | Path, truth_path_json: str | Path | None = None
) -> dict[str, Any]:
    """Write the fleet's records as a replay file, and the ground truth as JSON.

    Returns counts per topic, bytes written and seconds taken.
    """
    t0 = time.perf_counter()
    plan = plan_fleet(config)
    counts: dict[str, int] = {}
    size = 0
    buf: list[bytes] = []
    path = Path(path_jsonl)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for _pub, topic, key, rec in simulate_timed(config, plan):
            line = replay_line(topic, key, rec)
            buf.append(line)
            counts[topic] = counts.get(topic, 0) + 1
            if len(buf) >= 4096:
                chunk = b"".join(buf)
                size += len(chunk)
                fh.write(chunk)
                buf.clear()
        chunk = b"".join(buf)
        size += len(chunk)
        fh.write(chunk)
    truth = plan.truth()
    if truth_path_json is not None:
        tp = Path(truth_path_json)
        tp.parent.mkdir(parents=True, exist_ok=True)
        tp.write_bytes(truth.to_json())
    return {
        "records": sum(counts.values()),
        "per_topic": counts,
        "bytes": size,
        "seconds": time.perf_counter() - t0,
        "violations": len(truth.violations),
        "camera_events": len(truth.camera_events),
        "must_not_report": len(truth.must_not_report),
        "violation_lookalikes": len(truth.violation_lookalikes),
    }


def main(argv: list[str] | None = None) -> int:
    """python -m inference_workers.simulator OUT.jsonl [TRUTH.json] [--cameras N] ..."""
    import argparse

    ap = argparse.ArgumentParser(description="Write a simulated fleet as a replay file.")
    ap.add_argument("output")
    ap.add_argument("truth", nargs="?")
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default")
    args = ap.parse_args(argv)
    cfg = FleetConfig.for_profile(
        args.profile, cameras=args.cameras, duration_s=args.hours * 3600, seed=args.seed
    )
    stats = write_replay(cfg, args.output, args.truth)
    print(json.dumps(stats, ensure_ascii=False))
    return 0
