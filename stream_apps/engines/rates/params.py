"""Settings and counters of the rates engine; every default is the documented one."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from stream_apps.engines.grading import GRADES, GradingParams

DEFAULT_WINDOWS: tuple[tuple[str, float], ...] = (
    ("1h", 3600.0),
    ("24h", 86400.0),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
)


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


__all__ = ["DEFAULT_WINDOWS", "RateCounters", "RateParams"]
