"""What to simulate: fleet size and run length, class profiles, detector noise,
health rates, look-alike phenomena and the named profiles, with their bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from schemas.records import VIOLATION_CLASSES

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
