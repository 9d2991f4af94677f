"""Thresholds of the camera-health engine (``HealthParams``) and shared constants."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INF = math.inf
# Kinds whose open episode makes the camera's detections meaningless.
SUPPRESSING_KINDS = ("frozen", "dark", "angle_changed")


@dataclass(frozen=True)
class HealthParams:
    """Thresholds of the camera-health engine; every default is the documented one."""

    offline_after_s: float = field(
        default=60.0,
        metadata={
            "help": "Silence (no frame, no ``streaming`` status) longer than this is offline."
        },
    )
    lateness_s: float = field(
        default=5.0,
        metadata={
            "help": (
                "How late (event time) a record may arrive and still count; frames wait "
                "this long in the reorder buffer and the offline deadline includes it."
            )
        },
    )
    frozen_after_s: float = field(
        default=120.0, metadata={"help": "The picture unchanged this long is frozen."}
    )
    frozen_min_frames: int = field(
        default=5,
        metadata={"help": "...and over at least this many frames (a slow camera is not frozen)."},
    )
    frozen_tolerance: float = field(
        default=1e-4,
        metadata={
            "help": (
                "Two frames are the same picture when brightness (absolute, 0..1), "
                "sharpness (relative) and signature (L2) differ by no more than this. "
                "Sensor noise on a live static scene moves sharpness by ~0.3 %, far more."
            )
        },
    )
    featureless_brightness: float = field(
        default=0.02,
        metadata={
            "help": (
                "Frames darker than this (lights off, lens capped) carry no picture to "
                "compare and never count as frozen."
            )
        },
    )
    dark_ratio: float = field(
        default=0.3,
        metadata={
            "help": (
                "Dark: brightness below this fraction of the camera's baseline (and the "
                "structure lost)."
            )
        },
    )
    blur_ratio: float = field(
        default=0.25,
        metadata={
            "help": ("Blurred: contrast-normalised sharpness below this fraction of its baseline.")
        },
    )
    sustained_s: float = field(
        default=120.0,
        metadata={"help": "Dark and blurred must hold on every frame this long before they open."},
    )
    recover_s: float = field(
        default=30.0,
        metadata={
            "help": (
                "Dark, blurred and angle_changed close after this long back to normal; "
                "``ended_at`` is the first normal frame."
            )
        },
    )
    run_gap_s: float = field(
        default=30.0,
        metadata={
            "help": (
                "A sustained run (or a recovery) is broken by a gap longer than this "
                "without a qualifying frame (camera silent, unreadable, out of hours)."
            )
        },
    )
    hours_margin_s: float = field(
        default=600.0,
        metadata={
            "help": (
                "Dark and blurred are judged, and brightness/sharpness baselines learned, "
                "only from opening + margin to closing - margin: lights go on a little "
                "after the declared opening and off a little before closing."
            )
        },
    )
    angle_distance: float = field(
        default=0.6,
        metadata={
            "help": (
                "Signature L2 distance from the baseline beyond which the view differs "
                "(unit vectors: 0 same, ~1.41 unrelated; people crossing give ~0.2-0.4)."
            )
        },
    )
    angle_sustained_s: float = field(
        default=300.0, metadata={"help": "The view must differ on every readable sample this long."}
    )
    rebaseline_after_s: float = field(
        default=3600.0,
        metadata={
            "help": (
                "An angle change not acknowledged this long after detection becomes the "
                "new baseline and the event closes."
            )
        },
    )
    signature_every_s: float = field(
        default=5.0,
        metadata={
            "help": "Signature checked against its baseline (and learned) at most this often."
        },
    )
    warmup_frames: int = field(
        default=300,
        metadata={
            "help": (
                "Frames learned before any quality event can fire (5 min at 1 fps). The "
                "brightness and sharpness baselines start from an upper quantile "
                "(``warmup_quantile``) of these frames, so a lens blurred or dark from "
                "minute two of a cold start is still judged against the normal picture."
            )
        },
    )
    warmup_quantile: float = field(
        default=0.85,
        metadata={
            "help": (
                "Quantile of the warm-up frames' brightness and sharpness that starts the "
                "baselines: robust to a camera that turns blurred or dark within its "
                "warm-up, as long as a sixth of the warm-up saw the normal picture. "
                "Sharpness is taken only over the warm-up frames lit at least "
                "``dark_ratio`` x the brightness baseline (a dark frame's "
                "contrast-normalised sharpness is inflated)."
            )
        },
    )
    signature_warmup_samples: int = field(
        default=6,
        metadata={
            "help": (
                "Readable signature samples (``signature_every_s`` apart: 30 s) averaged "
                "before the view is judged. The view is learned and judged at any hour, "
                "opening hours or not, whenever the frame is readable."
            )
        },
    )
    readable_brightness: float = field(
        default=0.08,
        metadata={
            "help": (
                "A frame this bright or more has a view to learn or judge even before any "
                "brightness baseline exists (lights off, a capped lens are darker)."
            )
        },
    )
    baseline_time_s: float = field(
        default=1800.0, metadata={"help": "Time constant of the baselines' EWMA (event seconds)."}
    )
    idle_expiry_s: float = field(
        default=7 * 86400.0,
        metadata={
            "help": (
                "A camera with no sign of life this long is dropped from the engine's "
                "state (its baselines are learned again when it returns); one with an "
                "open episode (offline, typically) keeps just enough to close it."
            )
        },
    )

    def __post_init__(self) -> None:
        positive = (
            "offline_after_s",
            "frozen_after_s",
            "sustained_s",
            "angle_sustained_s",
            "rebaseline_after_s",
            "signature_every_s",
            "baseline_time_s",
            "idle_expiry_s",
            "angle_distance",
            "frozen_tolerance",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"HealthParams.{name} must be > 0")
        for name in (
            "lateness_s",
            "recover_s",
            "run_gap_s",
            "hours_margin_s",
            "warmup_frames",
            "signature_warmup_samples",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"HealthParams.{name} must be >= 0")
        if not 0 < self.warmup_quantile <= 1:
            raise ValueError("HealthParams.warmup_quantile must be in (0, 1]")
        if not (0 < self.dark_ratio < 1 and 0 < self.blur_ratio < 1):
            raise ValueError("HealthParams: dark_ratio and blur_ratio must be in (0, 1)")
