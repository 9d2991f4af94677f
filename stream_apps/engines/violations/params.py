"""Parameters of the violation engine: per-class evidence rules and their defaults.

Each field's metadata ("help", bounds) is what the settings tree and
docs/settings.md show; defaults live here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.records import (
    DEFAULT_SEVERITY,
)


@dataclass(frozen=True)
class ClassParams:
    """How much evidence opens, keeps and closes an episode of one class."""

    min_score: float = field(
        default=0.5,
        metadata={"help": "A detection scored below this is not evidence.", "ge": 0, "le": 1},
    )
    open_hits: int = field(
        default=4,
        metadata={"help": "Frames with the class needed within open_window_s to open.", "ge": 1},
    )
    open_window_s: float = field(
        default=12.0, metadata={"help": "Window in which open_hits must fall (s).", "gt": 0}
    )
    keep_hits: int = field(
        default=2,
        metadata={"help": "Hits within keep_window_s for a hit to extend an episode.", "ge": 1},
    )
    keep_window_s: float = field(
        default=15.0, metadata={"help": "Window of keep_hits (s).", "gt": 0}
    )
    close_after_s: float | None = field(
        default=None,
        metadata={"help": "Absence that closes an episode (s); empty means the merge gap."},
    )
    weak_score: float | None = field(
        default=None,
        metadata={
            "help": (
                "Evidence score: with it set, a hit counts (score - weak_score) / "
                "(min_score - weak_score) frames towards open_hits, capped at max_weight: "
                "a hit at min_score counts one frame, a weaker one (down to weak_score) a "
                "part of one, a confident one more. An episode then opens on open_hits of "
                "evidence from at least two frames (one if open_hits is 1), and a hit "
                "keeps it present when keep_hits of evidence back it. "
                "Empty: every hit at or above min_score counts one frame, nothing else."
            ),
            "ge": 0,
            "le": 1,
        },
    )
    max_weight: float = field(
        default=1.0,
        metadata={
            "help": "With weak_score: the most one frame counts towards open_hits.",
            "gt": 0,
        },
    )
    track_radius: float = field(
        default=0.0,
        metadata={
            "help": (
                "Same object: hits count together towards open_hits (and the motion prior) "
                "only when their box centres lie within this distance (share of the "
                "frame) of the newest hit's; false positives scattered over the picture "
                "do not add up. 0 turns it off."
            ),
            "ge": 0,
            "le": 2,
        },
    )
    min_motion: float = field(
        default=0.0,
        metadata={
            "help": (
                "Motion prior: median step of the box centre between consecutive hits "
                "(share of the frame) below which the object is stationary and does not "
                "open; 0 turns it off. Rodents and animals move several % a second, a "
                "cigarette or phone in a hand jitters 1-3 %, a bag, mop head, ladle or "
                "phone-shaped box on a shelf stays within 0.5 %."
            ),
            "ge": 0,
            "le": 1,
        },
    )


# Per-class defaults. Rodents and animals open on two confident frames (the
# motion prior costs them nothing: two frames of a moving animal already show
# it moving). Small held objects (phone, cigarette, gloves) are seen on only
# 30-65 % of frames, often scored just under min_score, so their evidence is a
# score: a hit at 0.5 counts one frame, one at 0.35-0.5 a part of one, a
# confident one (0.65 and up) two, and two frames or more of the same object
# (box centres within track_radius) that add up to two open; the motion prior
# keeps the stationary look-alikes out. A missing hat or mask must persist a
# little longer.
_SMALL = {"weak_score": 0.35, "max_weight": 2.0, "track_radius": 0.15}
DEFAULT_CLASS_PARAMS: dict[str, ClassParams] = {
    "rodent": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1,
                          min_motion=0.008, track_radius=0.25),
    "animal": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1,
                          min_motion=0.008, track_radius=0.25),
    "smoking": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, min_motion=0.005,
                           **_SMALL),
    "phone_use": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, min_motion=0.005,
                             **_SMALL),
    "no_gloves": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, **_SMALL),
    "trash_uncovered": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_hat": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
    "no_mask": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
    "no_uniform": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
}  # fmt: skip


@dataclass(frozen=True)
class ViolationParams:
    """Settings of the violation engine; every default is the documented one."""

    merge_gap_s: float = field(
        default=60.0,
        metadata={"help": "Episodes of one class on one camera closer than this are one (s).",
                  "gt": 0},
    )  # fmt: skip
    lateness_s: float = field(
        default=5.0,
        metadata={"help": "How late (event time) a frame may arrive and still count (s).",
                  "ge": 0},
    )  # fmt: skip
    idle_expiry_s: float = field(
        default=3600.0,
        metadata={"help": "A camera silent this long with nothing open is forgotten (s).",
                  "gt": 0},
    )  # fmt: skip
    repeated_frames_are_one: bool = field(
        default=True,
        metadata={
            "help": (
                "A frame whose quality (brightness, sharpness, signature) is identical to "
                "the previous frame's is the same picture again (a stuck encoder): its "
                "detections are not new evidence, so a run of identical frames counts once."
            )
        },
    )
    classes: dict[str, ClassParams] = field(default_factory=lambda: dict(DEFAULT_CLASS_PARAMS))
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def severity_of(self, cls: str) -> str:
        return self.severity.get(cls, "minor")
