"""Settings and counters of the alert engine; every default is the documented one."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

SEVERITY_RANK = {"minor": 0, "major": 1, "critical": 2}

DEFAULT_CAMERA_SEVERITY: dict[str, str] = {
    # Losing the picture is losing supervision; a dark or blurred picture is
    # degraded but still shows something.
    "offline": "major",
    "frozen": "major",
    "angle_changed": "major",
    "dark": "minor",
    "blurred": "minor",
}


@dataclass(frozen=True)
class AlertParams:
    """Settings of the alert engine; every default is the documented one."""

    group_window_s: float = 600.0
    """Members of one operator + class + kitchen starting this close to the first join it."""
    camera_kinds: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_CAMERA_SEVERITY))
    """Camera-health kinds that raise alerts."""
    camera_severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAMERA_SEVERITY))
    replay_horizon_s: float = 6 * 3600.0
    """Members detected longer than this before the watermark are too late to
    raise anything (they were seen before, or the feed is broken); dispositions
    for unknown alerts wait this long for their alert."""
    retain_resolved_s: float = 7 * 86400.0
    """A resolved alert is kept this long after resolution, for late dispositions."""
    max_age_s: float = 60 * 86400.0
    """Any alert is forgotten this long after creation."""
    repeat_window_s: float = field(
        default=30 * 86400.0,
        metadata={
            "help": "An offence of the same operator and class this soon after one was "
            "rectified is a repeat offence (seed 002 §19: 整改后重复再犯)",
            "ge": 0,
        },
    )
    repeat_raises_severity: bool = field(
        default=True, metadata={"help": "A repeat offence is raised one severity level"}
    )
    licence_stages: frozenset[str] = field(
        default_factory=lambda: frozenset({"0d", "expired", "profile_incomplete"}),
        metadata={
            "help": "Licence-alert stages (bk.licence_alerts) that also raise an alert an "
            "inspector acts on, with the SLA clocks (seed 002 §15); the earlier warnings "
            "stay warnings. Later stages of the same licence join that alert"
        },
    )
    lenient_within_s: float = field(
        default=86400.0,
        metadata={
            "help": "A first minor offence rectified within this many seconds is flagged "
            "for leniency (seed 002 §19: 及时改正)",
            "ge": 0,
        },
    )


@dataclass
class AlertCounters:
    """Plain counters the shell exports as metrics."""

    members: int = 0
    duplicates: int = 0
    too_late: int = 0
    alerts: int = 0
    dispositions: int = 0
    unknown_alert: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Precision:
    """Verdicts on alerts of one class or camera."""

    confirmed: int
    false_positive: int

    @property
    def precision(self) -> float | None:
        n = self.confirmed + self.false_positive
        return self.confirmed / n if n else None
