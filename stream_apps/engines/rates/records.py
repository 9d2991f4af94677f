"""Building `OperatorRate` rows: shrinkage, grade inputs and the record itself.

The engine sums one operator's `Figures` per window (its own exposure and
counts, and its prior's); everything here is a function of those figures and
the params, so a row is the same whoever builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import SCHEMA_VERSION, ClassRate, OperatorRate
from stream_apps.engines.grading import GradeInputs
from stream_apps.engines.grading import grade as grade_of
from stream_apps.engines.ids import stable_id
from stream_apps.engines.rates.params import RateParams
from stream_apps.engines.rates.series import SLA_PREFIX, is_class_key


def rate_id(operator_id: str, window: str, as_of: float) -> str:
    return stable_id(operator_id, window, as_of)


@dataclass(frozen=True, slots=True)
class Figures:
    """One operator's sums over one window ending at an ``as_of``, and its prior's."""

    window: str
    window_s: float
    start: int  # first bucket of the window
    exposure_s: float
    counts: dict[str, int]
    prior_source: str  # "district" or "city"
    prior_exposure_s: float
    prior_counts: dict[str, int]

    def empty(self) -> bool:
        return self.exposure_s == 0.0 and not self.counts


@dataclass(frozen=True, slots=True)
class Graded:
    """What `grade` decided for an operator; every window's row carries it."""

    grade: str
    colour: str
    reason: str
    hours_to_grade: float = 0.0


@dataclass(frozen=True, slots=True)
class Operator:
    """Who a row is about: the operator, its place and its active cameras."""

    operator_id: str
    district: str
    station: str
    cameras: int


def class_total(counts: dict[str, int]) -> int:
    """Violations in ``counts`` (SLA breaches and repeat offences left out)."""
    return sum(v for k, v in counts.items() if is_class_key(k))


def shrunk(
    p: RateParams, n: int, exp_h: float, prior_n: int, prior_exp_h: float
) -> tuple[float, float]:
    """(shrunk rate, prior rate), both per 100 camera-hours."""
    m = p.prior_strength_h
    r0 = prior_n / prior_exp_h if prior_exp_h > 0 else 0.0
    return (n + m * r0) / (exp_h + m) * 100.0, r0 * 100.0


def grade(p: RateParams, f: Figures) -> Graded:
    """The grade of the grading window's figures: see stream_apps/engines/grading.py."""
    n, pn = class_total(f.counts), class_total(f.prior_counts)
    pexp_h = f.prior_exposure_s / 3600.0
    rate, _ = shrunk(p, n, f.exposure_s / 3600.0, pn, pexp_h)
    return Graded(
        *grade_of(
            p.grading,
            GradeInputs(
                exposure_h=f.exposure_s / 3600.0,
                counts=f.counts,
                prior_rate_h=pn / pexp_h if pexp_h > 0 else 0.0,
                prior_source=f.prior_source,
                shrunk_rate=rate,
            ),
        )
    )


def operator_rate(
    p: RateParams, who: Operator, as_of: int, f: Figures, graded: Graded
) -> OperatorRate:
    """The row of one operator, one window, one ``as_of``."""
    counts, pcounts = f.counts, f.prior_counts
    exp_h = f.exposure_s / 3600.0
    pexp_h = f.prior_exposure_s / 3600.0
    classes = []
    for cls in sorted(k for k in set(counts) | set(pcounts) if is_class_key(k)):
        n = counts.get(cls, 0)
        rate, prior = shrunk(p, n, exp_h, pcounts.get(cls, 0), pexp_h)
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
    rate, prior = shrunk(p, n, exp_h, class_total(pcounts), pexp_h)
    return OperatorRate(
        v=SCHEMA_VERSION,
        rate_id=rate_id(who.operator_id, f.window, as_of),
        operator_id=who.operator_id,
        district=who.district,
        station=who.station,
        window=f.window,
        window_s=f.window_s,
        window_start=float(f.start),
        as_of=float(as_of),
        cameras=who.cameras,
        exposure_h=exp_h,
        violations=n,
        raw_rate=n / exp_h * 100.0 if exp_h > 0 else None,
        rate=rate,
        prior_rate=prior,
        prior_source=f.prior_source,
        prior_strength_h=p.prior_strength_h,
        classes=classes,
        sla_breaches={
            k[len(SLA_PREFIX) :]: v for k, v in sorted(counts.items()) if k.startswith(SLA_PREFIX)
        },
        grade=graded.grade,
        colour=graded.colour,
        grade_window=p.grading.window,
        reason=graded.reason,
        hours_to_grade=graded.hours_to_grade,
    )


__all__ = ["Figures", "Graded", "Operator", "class_total", "grade", "operator_rate", "rate_id"]
