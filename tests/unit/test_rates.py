"""Operator rates: exposure, windows, shrinkage and grades, one behaviour per test."""

from __future__ import annotations

import json

import msgspec
import pytest

from schemas.records import CameraEvent, Evidence, RegistryEntry, SlaBreach, Violation
from stream_apps.engines.rates import GradingParams, RateEngine, RateParams

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC, on every bucket boundary
H = 3600.0


def reg(camera: str, operator: str = "op1", district: str = "河西区", active: bool = True):
    return RegistryEntry(
        v=1,
        camera_id=camera,
        kitchen_id="k-" + operator,
        operator_id=operator,
        operator_name="某某餐饮",
        district=district,
        station="友谊路所",
        opening_hours=[["00:00", "24:00"]],
        active=active,
    )


def violation(camera: str, start: float, cls: str = "no_hat", n: int = 0) -> Violation:
    return Violation(
        v=1,
        violation_id=f"{camera}-{cls}-{start}-{n}",
        camera_id=camera,
        operator_id=None,
        cls=cls,
        severity="minor",
        state="open",
        started_at=T0 + start,
        detected_at=T0 + start + 10,
        ended_at=None,
        peak_score=0.9,
        frames=5,
        evidence=Evidence(frame_ts=T0 + start, box=(0.1, 0.1, 0.2, 0.2)),
    )


def health(camera: str, start: float, end: float | None, kind: str = "offline") -> CameraEvent:
    return CameraEvent(
        v=1,
        event_id=f"{camera}-{kind}-{start}",
        camera_id=camera,
        operator_id="op1",
        kind=kind,
        state="open" if end is None else "closed",
        started_at=T0 + start,
        detected_at=T0 + start + 60,
        ended_at=None if end is None else T0 + end,
        detail="",
    )


def breach(operator: str, kind: str, due: float) -> SlaBreach:
    return SlaBreach(
        v=1,
        breach_id=f"{operator}-{kind}-{due}",
        alert_id="a1",
        kind=kind,
        due_at=T0 + due,
        alert_created_at=T0,
        state_at_due="open",
        source="violation",
        cls="no_hat",
        severity="minor",
        kitchen_id="k1",
        operator_id=operator,
        district="河西区",
        station="友谊路所",
        calendar_covered=True,
    )


def engine(**kw) -> RateEngine:
    kw.setdefault("settle_s", 0.0)
    return RateEngine(RateParams(**kw))


def latest(out, operator: str, window: str):
    rows = [r for r in out if r.operator_id == operator and r.window == window]
    return max(rows, key=lambda r: r.as_of)


def run(e: RateEngine, records, until: float, start: float = 0.0):
    """Registry at `start`, then the records, then the clock to `until` (offsets from T0)."""
    out = e.advance(T0 + start)
    for r in records:
        out += e.feed(r)
    return out + e.advance(T0 + until)


def test_exposure_is_supervised_time_minus_health_gaps():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [health("c1", 1800, None), health("c1", 1800, 2700)], until=2 * H)
    assert latest(out, "op1", "24h").exposure_h == pytest.approx(1.75)
    assert latest(out, "op1", "1h").exposure_h == pytest.approx(1.0)


def test_an_open_health_event_stops_exposure_until_it_closes():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [health("c1", H, None, kind="frozen")], until=3 * H)
    assert latest(out, "op1", "24h").exposure_h == pytest.approx(1.0)


def test_overlapping_health_events_are_not_subtracted_twice():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [health("c1", 600, 1800), health("c1", 1200, 2400, kind="dark")], until=H)
    assert latest(out, "op1", "1h").exposure_h == pytest.approx(0.5)


def test_a_health_event_detected_within_settle_s_still_cuts_exposure_from_its_start():
    e = RateEngine(RateParams(settle_s=600.0))
    e.advance(T0)
    e.feed(reg("c1"))  # supervised from the watermark, T0
    e.advance(T0 + 600)  # settles nothing yet: the horizon is T0
    e.advance(T0 + 1500)  # settled to T0+900
    e.feed(health("c1", 1000, None))  # started before the watermark, after the horizon
    out = e.advance(T0 + H + 600)  # settled to T0+1h
    assert latest(out, "op1", "1h").exposure_h == pytest.approx(1000 / H)


def test_a_camera_counts_as_supervised_from_its_first_sight():
    e2 = engine()
    e2.advance(T0)
    e2.feed(reg("c1"))
    e2.advance(T0 + 1800)
    e2.feed(reg("c2"))  # registered half an hour in
    out = e2.advance(T0 + H)
    assert latest(out, "op1", "1h").exposure_h == pytest.approx(1.5)
    assert latest(out, "op1", "1h").cameras == 2


def test_a_deactivated_camera_stops_counting():
    e = engine()
    e.feed(reg("c1"))
    e.advance(T0)
    e.advance(T0 + 1800)
    e.feed(reg("c1", active=False))
    out = e.advance(T0 + H)
    assert latest(out, "op1", "1h").exposure_h == pytest.approx(0.5)


def test_violations_fall_in_the_windows_their_start_is_in():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [violation("c1", 600), violation("c1", 5 * H)], until=5.5 * H)
    one, day = latest(out, "op1", "1h"), latest(out, "op1", "24h")
    assert (one.violations, day.violations) == (1, 2)
    assert day.raw_rate == pytest.approx(2 / 5.5 * 100)
    assert day.classes[0].cls == "no_hat" and day.classes[0].violations == 2


def test_a_replayed_violation_counts_once():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [violation("c1", 600), violation("c1", 600)], until=H)
    assert latest(out, "op1", "1h").violations == 1
    assert e.counters.duplicates == 1


def test_tiny_exposure_is_shrunk_to_the_prior():
    e = engine(prior_strength_h=50.0)
    for i in range(10):
        e.feed(reg(f"big{i}", operator="big"))
    e.advance(T0)
    for i in range(20):
        e.feed(violation(f"big{i % 10}", 60 * i, n=i))
    e.advance(T0 + 2 * H - 300)
    e.feed(reg("tiny1", operator="tiny"))  # five camera-minutes of exposure
    e.feed(violation("tiny1", 2 * H - 200))
    out = e.advance(T0 + 2 * H)
    tiny = latest(out, "tiny", "24h")
    assert tiny.exposure_h == pytest.approx(300 / H)
    assert tiny.raw_rate == pytest.approx(1200.0)
    assert tiny.prior_source == "city"
    city_rate = 21 / (20 + 300 / H) * 100
    assert tiny.prior_rate == pytest.approx(city_rate)
    expected = (1 + 50 * city_rate / 100) / (300 / H + 50) * 100
    assert tiny.rate == pytest.approx(expected)
    assert abs(tiny.rate - city_rate) < 0.01 * abs(tiny.raw_rate - city_rate)


def test_large_exposure_keeps_the_raw_rate():
    e = engine(prior_strength_h=1.0)
    for i in range(10):
        e.feed(reg(f"big{i}", operator="big"))
    e.feed(reg("quiet", operator="quiet"))
    e.advance(T0)
    for i in range(50):
        e.feed(violation(f"big{i % 10}", 600 * i, n=i))
    out = e.advance(T0 + 10 * H)
    big = latest(out, "big", "24h")
    assert big.raw_rate == pytest.approx(50.0)
    assert big.rate == pytest.approx(big.raw_rate, rel=0.01)


def test_a_district_with_enough_exposure_is_the_prior():
    e = engine(min_prior_exposure_h=1.0)
    e.feed(reg("a1", operator="a", district="河西区"))
    e.feed(reg("b1", operator="b", district="南开区"))
    out = run(e, [violation("b1", 600)], until=2 * H)
    a = latest(out, "a", "24h")
    assert a.prior_source == "district"
    assert a.prior_rate == 0.0


def test_grade_follows_the_rate_thresholds_and_names_the_rate():
    grading = GradingParams(
        window="24h",
        min_exposure_h=0.0,
        relative_thresholds=(),
        rate_thresholds=(("B", 10.0), ("C", 40.0), ("D", 1000.0)),
        breach_rules=(),
        class_rules=(),
    )
    e = engine(prior_strength_h=0.001, grading=grading)
    e.feed(reg("c1", operator="bad"))
    e.feed(reg("c2", operator="good"))
    out = run(e, [violation("c1", 600 * i, n=i) for i in range(5)], until=10 * H)
    bad, good = latest(out, "bad", "1h"), latest(out, "good", "1h")
    assert (bad.grade, bad.colour) == ("C", "orange")
    assert bad.reason.startswith("C: rate 50.00>=40.00")
    assert (good.grade, good.colour) == ("A", "green")
    assert good.reason.startswith("A: 0 violations")


def test_sla_history_raises_the_grade_and_says_so():
    grading = GradingParams(
        window="24h",
        min_exposure_h=0.0,
        rate_thresholds=(("B", 10.0),),
        breach_rules=(("yellow_card", 1, "B"), ("escalated", 1, "D")),
        class_rules=(),
    )
    e = engine(grading=grading)
    e.feed(reg("c1"))
    out = run(e, [breach("op1", "escalated", 1800), breach("op1", "escalated", 1800)], until=H)
    row = latest(out, "op1", "1h")
    assert (row.grade, row.colour) == ("D", "red")
    assert row.reason == "D: sla escalated 1>=1"
    assert row.sla_breaches == {"escalated": 1}


def test_a_rodent_sighting_raises_the_grade_by_class_rule():
    e = engine(
        grading=GradingParams(window="24h", min_exposure_h=0.0, rate_thresholds=(("D", 1e9),))
    )
    e.feed(reg("c1"))
    out = run(e, [violation("c1", 600, cls="rodent")], until=H)
    row = latest(out, "op1", "24h")
    assert row.grade == "B" and "class rodent 1>=1" in row.reason


def test_rates_are_emitted_once_per_cadence_boundary_per_operator_and_window():
    e = engine()
    e.feed(reg("c1"))
    e.advance(T0)
    out = e.advance(T0 + 900)
    assert sorted({r.as_of - T0 for r in out}) == [300, 600, 900]
    assert len(out) == 3 * 4
    assert e.advance(T0 + 1000) == []
    assert len({r.rate_id for r in out}) == len(out)


def test_snapshot_and_restore_give_the_uninterrupted_answer():
    records = [reg("c1"), reg("c2", operator="op2"), violation("c1", 600)]
    later = [health("c1", 4000, 5000), violation("c2", 6000), violation("c1", 600)]

    def uninterrupted():
        e = engine()
        out = run(e, records, until=H)
        for r in later:
            out += e.feed(r)
        return out + e.advance(T0 + 3 * H)

    e = engine()
    run(e, records, until=H)
    restored = engine()
    restored.restore(json.loads(json.dumps(e.snapshot())))
    out = []
    for r in later:
        out += restored.feed(r)
    out += restored.advance(T0 + 3 * H)
    expected = [r for r in uninterrupted() if r.as_of > T0 + H]
    assert [msgspec.json.encode(r) for r in out] == [msgspec.json.encode(r) for r in expected]


def test_replayed_input_gives_identical_outputs():
    records = [
        reg("c1"),
        reg("c2", operator="op2", district="南开区"),
        violation("c1", 100),
        health("c2", 200, None),
        violation("c1", 100),
        health("c2", 200, 900),
        breach("op1", "verify_overdue", 1000),
        violation("c2", 1200, cls="smoking"),
    ]

    def once():
        e = engine()
        return [msgspec.json.encode(r) for r in run(e, records, until=6 * H)]

    assert once() == once()


def test_window_records_carry_the_span_actually_summed():
    e = engine()
    e.feed(reg("c1"))
    out = run(e, [], until=2 * H + 300)
    day = latest(out, "op1", "24h")
    assert day.as_of == T0 + 2 * H + 300
    # Hourly buckets: the span starts at the hour holding as_of - 24 h.
    assert day.window_start == T0 + 2 * H - 24 * H
    week = latest(out, "op1", "7d")
    assert week.window_start == T0 - 7 * 86400  # 6-hour buckets


def test_a_row_counts_nothing_stamped_after_its_as_of_whatever_has_arrived():
    """Two arrival orders of one feed: a violation starting after an as_of must not
    count in that row just because it was fed before the row was emitted."""
    early, late = engine(), engine()
    for e in (early, late):
        e.feed(reg("c1"))
        e.advance(T0)
    # early: fed before the clock crosses 2 h; late: fed after
    early.feed(violation("c1", 2 * H + 900))
    rows_early = early.advance(T0 + 2 * H + 1)
    rows_late = late.advance(T0 + 2 * H + 1)
    late.feed(violation("c1", 2 * H + 900))
    pick = [(r.window, r.as_of, r.violations) for r in rows_early if r.as_of == T0 + 2 * H]
    assert pick and pick == [
        (r.window, r.as_of, r.violations) for r in rows_late if r.as_of == T0 + 2 * H
    ]
    assert all(v == 0 for _, _, v in pick)
    rows_early = early.advance(T0 + 3 * H)
    rows_late = late.advance(T0 + 3 * H)
    assert [msgspec_row(r) for r in rows_early] == [msgspec_row(r) for r in rows_late]
    assert latest(rows_early, "op1", "24h").violations == 1


def msgspec_row(r):
    import msgspec

    return msgspec.json.encode(r)
