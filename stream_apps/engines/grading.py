"""Risk grades A-D an inspector can defend (docs/sla-and-rates.md, "Grades").

A grade is a claim about an operator; it is only made when the data can carry
it, and its reason names the inputs:

1. **Exposure first.** Below ``min_exposure_h`` supervised camera-hours in the
   grading window the operator is *not yet graded* (grade ``"ungraded"``,
   colour ``"grey"``), and the reason says how many hours are still needed.
   Shrinkage towards the prior cannot stand in for evidence: with 20 minutes
   of exposure the shrunk rate *is* the city's rate, which says nothing about
   this kitchen.
2. **Relative to the population.** The rate rule compares the operator's
   violations ``n`` with the number expected at the prior rate (the
   district's, or the city's when the district is too small: the same prior
   the shrinkage uses) over its exposure, ``expected = prior_rate * exposure``.
   Grade g fires when ``n >= ratio_g * expected`` *and* ``n - expected >=
   min_excess``: a kitchen is worse than its peers by a factor, and by more
   than a violation or two of chance. Absolute ``rate_thresholds`` (violations
   per 100 camera-hours, shrunk) remain available for a city that has
   calibrated them; none by default.
3. **Records, not only rates.** SLA breaches (``breach_rules``), serious
   classes (``class_rules``) and repeat offences after rectification
   (``repeat_rules``, seed 002 §19-20: 整改后重复再犯 … 从重) raise the grade.
4. **A clean record is never below B.** No violation and no SLA breach over a
   sufficient exposure caps the grade at ``clean_cap`` (B), whatever a
   configuration says.

The highest grade any rule reaches wins; ``reason`` names every input that
fired, strongest first, e.g. ``"C: 9 violations over 240.0 camera-hours
(3.75/100h) = 3.1x the district's 1.21/100h (>= 2.5x); B: sla yellow_card 1>=1"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRADES = ("A", "B", "C", "D")
UNGRADED = "ungraded"
UNGRADED_COLOUR = "grey"
DEFAULT_COLOURS = {"A": "green", "B": "yellow", "C": "orange", "D": "red"}
SLA_PREFIX = "sla:"
REPEAT_KEY = "repeat"


@dataclass(frozen=True)
class GradingParams:
    """How exposure, rates and records map to a risk grade A-D (see module doc)."""

    window: str = field(default="30d", metadata={"help": "Window whose figures set the grade"})
    min_exposure_h: float = field(
        default=72.0,
        metadata={
            "help": "Supervised camera-hours in the grading window below which an "
            "operator is not yet graded (72 h = one camera for three days)",
            "ge": 0,
        },
    )
    relative_thresholds: tuple[tuple[str, float], ...] = field(
        default=(("B", 1.5), ("C", 2.5), ("D", 4.0)),
        metadata={
            "help": "(grade, violations as a multiple of those expected at the "
            "district/city rate) at or above which the grade applies"
        },
    )
    min_excess: float = field(
        default=2.0,
        metadata={
            "help": "Violations above the expected number needed before the "
            "relative rule fires (keeps chance out)",
            "ge": 0,
        },
    )
    rate_thresholds: tuple[tuple[str, float], ...] = field(
        default=(),
        metadata={
            "help": "(grade, shrunk violations per 100 camera-hours) absolute thresholds; "
            "none by default (set them only once calibrated)"
        },
    )
    breach_rules: tuple[tuple[str, int, str], ...] = field(
        default=(
            ("rectify_overdue", 3, "B"),
            ("yellow_card", 1, "B"),
            ("yellow_card", 3, "C"),
            ("escalated", 1, "C"),
            ("escalated", 3, "D"),
            ("inspection_overdue", 1, "B"),
        ),
        metadata={"help": "(SLA breach kind, count in the window at or above which, grade)"},
    )
    class_rules: tuple[tuple[str, int, str], ...] = field(
        default=(("rodent", 1, "B"), ("rodent", 3, "C")),
        metadata={"help": "(violation class, raw count in the window at or above which, grade)"},
    )
    repeat_rules: tuple[tuple[int, str], ...] = field(
        default=((1, "B"), (3, "C")),
        metadata={
            "help": "(repeat offences after rectification in the window at or above which, grade)"
        },
    )
    clean_cap: str = field(
        default="B",
        metadata={"help": "Worst grade of an operator with no violation and no SLA breach"},
    )
    colours: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_COLOURS),
        metadata={"help": "Four-colour label of each grade (seed 003 南昌: 绿、黄、橙、红)"},
    )

    def grades_used(self) -> list[str]:
        return (
            [g for g, _ in self.relative_thresholds]
            + [g for g, _ in self.rate_thresholds]
            + [r[2] for r in (*self.breach_rules, *self.class_rules)]
            + [g for _, g in self.repeat_rules]
            + [self.clean_cap]
        )


@dataclass(frozen=True)
class GradeInputs:
    """What a grade is computed from: one operator over the grading window."""

    exposure_h: float
    counts: dict[str, int]
    """Violation class -> count; "sla:<kind>" -> breaches; "repeat" -> repeat offences."""
    prior_rate_h: float
    """Prior violations per camera-hour (district or city)."""
    prior_source: str
    shrunk_rate: float
    """Shrunk total violations per 100 camera-hours."""


def grade(g: GradingParams, x: GradeInputs) -> tuple[str, str, str, float]:
    """(grade, colour, reason, hours still needed before a grade)."""
    if x.exposure_h < g.min_exposure_h:
        need = g.min_exposure_h - x.exposure_h
        return (
            UNGRADED,
            UNGRADED_COLOUR,
            f"not yet graded: {x.exposure_h:.1f} of {g.min_exposure_h:.1f} supervised "
            f"camera-hours, {need:.1f} h more needed",
            need,
        )
    n = sum(v for k, v in x.counts.items() if not k.startswith(SLA_PREFIX) and k != REPEAT_KEY)
    breaches = sum(v for k, v in x.counts.items() if k.startswith(SLA_PREFIX))
    fired: list[tuple[int, str, str]] = []  # (grade index, input name, text)
    expected = x.prior_rate_h * x.exposure_h
    raw = n / x.exposure_h * 100.0 if x.exposure_h > 0 else 0.0
    for gr, ratio in g.relative_thresholds:
        if n >= ratio * expected and n - expected >= g.min_excess and n > 0:
            times = f"{n / expected:.1f}x" if expected > 0 else "above"
            fired.append(
                (
                    GRADES.index(gr),
                    "rate",
                    f"{n} violations over {x.exposure_h:.1f} camera-hours ({raw:.2f}/100h) = "
                    f"{times} the {x.prior_source}'s {x.prior_rate_h * 100:.2f}/100h "
                    f"(>= {ratio:g}x)",
                )
            )
    for gr, threshold in g.rate_thresholds:
        if x.shrunk_rate >= threshold:
            fired.append((GRADES.index(gr), "abs", f"rate {x.shrunk_rate:.2f}>={threshold:.2f}"))
    for kind, at_least, gr in g.breach_rules:
        c = x.counts.get(SLA_PREFIX + kind, 0)
        if c >= at_least:
            fired.append((GRADES.index(gr), f"sla {kind}", f"sla {kind} {c}>={at_least}"))
    for cls, at_least, gr in g.class_rules:
        c = x.counts.get(cls, 0)
        if c >= at_least:
            fired.append((GRADES.index(gr), f"class {cls}", f"class {cls} {c}>={at_least}"))
    for at_least, gr in g.repeat_rules:
        c = x.counts.get(REPEAT_KEY, 0)
        if c >= at_least:
            fired.append((GRADES.index(gr), "repeat", f"repeat offences {c}>={at_least}"))
    if not fired:
        top = 0
        reason = (
            f"A: {n} violations over {x.exposure_h:.1f} camera-hours, "
            f"{expected:.1f} expected at the {x.prior_source}'s rate; no SLA, class or repeat rule"
        )
    else:
        top = max(i for i, _, _ in fired)
        strongest: dict[str, tuple[int, str]] = {}
        for i, name, text in fired:
            if name not in strongest or i > strongest[name][0]:
                strongest[name] = (i, text)
        ordered = sorted(strongest.values(), key=lambda t: (-t[0], t[1]))
        reason = "; ".join(f"{GRADES[i]}: {t}" for i, t in ordered)
    cap = GRADES.index(g.clean_cap)
    if n == 0 and breaches == 0 and top > cap:
        top = cap
        reason = f"{GRADES[cap]}: capped, no violation and no SLA breach ({reason})"
    gr = GRADES[top]
    return gr, g.colours.get(gr, DEFAULT_COLOURS[gr]), reason, 0.0


__all__ = [
    "DEFAULT_COLOURS",
    "GRADES",
    "UNGRADED",
    "GradeInputs",
    "GradingParams",
    "grade",
]
