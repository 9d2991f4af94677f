"""Grades an inspector can defend (issue 18 item 10): one behaviour per test."""

from __future__ import annotations

from schemas.records import Evidence, RegistryEntry, Violation
from stream_apps.engines.grading import GradeInputs, GradingParams, grade
from stream_apps.engines.rates import RateEngine, RateParams

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC
H = 3600.0


def inputs(exposure_h: float, counts: dict[str, int], prior_per_100h: float = 1.0) -> GradeInputs:
    return GradeInputs(
        exposure_h=exposure_h,
        counts=counts,
        prior_rate_h=prior_per_100h / 100.0,
        prior_source="district",
        shrunk_rate=0.0,
    )


def test_too_little_exposure_is_not_yet_graded_with_the_hours_still_needed():
    g, colour, reason, need = grade(GradingParams(), inputs(20.0, {"no_hat": 5}))
    assert (g, colour) == ("ungraded", "grey")
    assert need == 52.0
    assert reason == "not yet graded: 20.0 of 72.0 supervised camera-hours, 52.0 h more needed"


def test_the_rate_rule_is_relative_to_the_district_and_names_its_inputs():
    # 200 camera-hours at the district's 1/100h: 2 expected; 9 seen = 4.5x -> D.
    g, colour, reason, _ = grade(GradingParams(), inputs(200.0, {"no_hat": 9}))
    assert (g, colour) == ("D", "red")
    assert reason == (
        "D: 9 violations over 200.0 camera-hours (4.50/100h) = 4.5x the district's "
        "1.00/100h (>= 4x)"
    )


def test_a_kitchen_like_its_peers_is_a_even_with_violations():
    g, _, reason, _ = grade(GradingParams(), inputs(200.0, {"no_hat": 2}))
    assert g == "A"
    assert reason.startswith("A: 2 violations over 200.0 camera-hours, 2.0 expected")


def test_chance_alone_does_not_fire_the_relative_rule():
    # 3x the expected 0.5, but only 1.5 above it: below min_excess, no grade from the rate.
    g, _, _, _ = grade(GradingParams(), inputs(50.0 * 2, {"no_hat": 2}, prior_per_100h=0.5))
    assert g == "A"


def test_no_violations_and_no_breaches_is_never_below_b_whatever_the_rules_say():
    harsh = GradingParams(class_rules=(("rodent", 0, "D"),), breach_rules=(("escalated", 0, "D"),))
    g, _, reason, _ = grade(harsh, inputs(500.0, {}))
    assert g == "B"
    assert reason.startswith("B: capped, no violation and no SLA breach")


def test_repeat_offences_raise_the_grade():
    g, _, reason, _ = grade(GradingParams(), inputs(500.0, {"no_hat": 3, "repeat": 3}, 1.0))
    assert g == "C" and "repeat offences 3>=3" in reason


def reg(camera: str, operator: str) -> RegistryEntry:
    return RegistryEntry(
        v=1,
        camera_id=camera,
        kitchen_id="k-" + operator,
        operator_id=operator,
        operator_name="x",
        district="河西区",
        station="友谊路所",
        opening_hours=[["00:00", "24:00"]],
    )


def test_a_40_minute_replay_of_clean_operators_grades_nobody_d():
    # The case: 12 cameras, 40 minutes, most operators with no violation.
    e = RateEngine(RateParams())
    for i in range(12):
        e.feed(reg(f"c{i}", f"op{i % 6}"))
    e.advance(T0)
    v = Violation(
        v=1,
        violation_id="v1",
        camera_id="c0",
        operator_id=None,
        cls="no_hat",
        severity="minor",
        state="open",
        started_at=T0 + 600,
        detected_at=T0 + 610,
        ended_at=None,
        peak_score=0.9,
        frames=3,
        evidence=Evidence(frame_ts=T0 + 600, box=(0.1, 0.1, 0.2, 0.2)),
    )
    e.feed(v)
    out = []
    t = T0
    while t < T0 + 40 * 60 + 300:
        t += 60
        out += e.advance(t)
    rows = {r.operator_id: r for r in out if r.window == "30d"}
    assert len(rows) == 6
    assert {r.grade for r in rows.values()} == {"ungraded"}
    assert all(r.hours_to_grade > 70 for r in rows.values())
