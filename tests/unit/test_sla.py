"""SLA clocks on the Chinese working-day calendar, one behaviour per test."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import msgspec
import pytest

from schemas.records import Alert, Disposition
from stream_apps.engines.sla import SlaEngine, SlaParams, WorkingCalendar, breach_id

CST = timezone(timedelta(hours=8))

# 2026 as published by the State Council (built here, not loaded): National
# Day + Mid-Autumn golden week 1-7 October, make-up working days Sunday 20
# September and Saturday 10 October.
CAL_2026 = WorkingCalendar(
    holidays={date(2026, 10, d) for d in range(1, 8)},
    workdays={date(2026, 9, 20), date(2026, 10, 10)},
    covered_years={2026},
)


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> float:
    """Epoch seconds of a Beijing local time."""
    return datetime(year, month, day, hour, minute, tzinfo=CST).timestamp()


def end_of(month: int, day: int, year: int = 2026) -> float:
    """24:00 local of a day: the first instant after it."""
    return at(month, day, year=year) + 86400.0


def alert(created_at: float, alert_id: str = "a1", **kw) -> Alert:
    fields = dict(
        v=1,
        alert_id=alert_id,
        source="violation",
        cls="phone_use",  # not fixable at once: no 24-hour track unless a test asks
        severity="minor",
        state="open",
        kitchen_id="k1",
        operator_id="op1",
        district="河西区",
        station="友谊路所",
        camera_ids=["cam-1"],
        members=["v1"],
        first_started_at=created_at - 20,
        created_at=created_at,
        group_until=created_at + 580,
        updated_at=created_at,
        revision=0,
        verified_at=None,
        resolved_at=None,
        resolution=None,
        last_actor=None,
    )
    fields.update(kw)
    return Alert(**fields)


def dispose(ts: float, action: str, alert_id: str = "a1") -> Disposition:
    return Disposition(v=1, alert_id=alert_id, ts=ts, actor="inspector-7", action=action)


def engine(**params) -> SlaEngine:
    return SlaEngine(CAL_2026, SlaParams(grace_s=0.0, **params))


def kinds(breaches) -> list[str]:
    return [b.kind for b in breaches]


def test_verification_is_due_24_hours_after_the_alert_was_raised():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    assert e.advance(created + 86399) == []
    [b] = e.advance(created + 86400)
    assert b.kind == "verify_overdue"
    assert b.due_at == created + 86400
    assert b.breach_id == breach_id("a1", "verify_overdue")
    assert b.state_at_due == "open"


def test_a_verification_in_time_stops_the_verify_clock_only():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    assert e.feed(dispose(created + 3600, "verified")) == []
    out = e.advance(end_of(11, 5))
    assert kinds(out) == ["rectify_overdue"]
    assert out[0].state_at_due == "verified"


def test_rectification_is_due_at_the_end_of_the_third_working_day_after_creation():
    # Monday 2 November: Tue 3, Wed 4, Thu 5 -> due 24:00 Thursday.
    e = engine()
    assert e.deadlines(at(11, 2, 10, 0))["rectify_overdue"] == end_of(11, 5)


def test_rectification_over_a_weekend_skips_saturday_and_sunday():
    # Thursday 5 November: Fri 6, Mon 9, Tue 10.
    assert engine().deadlines(at(11, 5, 16, 30))["rectify_overdue"] == end_of(11, 10)


def test_the_national_day_golden_week_does_not_count_as_working_days():
    # Tuesday 29 September: Wed 30, (1-7 October off), Thu 8, Fri 9.
    assert engine().deadlines(at(9, 29, 9, 0))["rectify_overdue"] == end_of(10, 9)


def test_a_make_up_saturday_counts_as_a_working_day():
    # Friday 9 October: Sat 10 (调休上班), Mon 12, Tue 13; weekends-only would say Wed 14.
    assert engine().deadlines(at(10, 9, 11, 0))["rectify_overdue"] == end_of(10, 13)
    weekends_only = SlaEngine(WorkingCalendar(set(), set()), SlaParams(grace_s=0.0))
    assert weekends_only.deadlines(at(10, 9, 11, 0))["rectify_overdue"] == end_of(10, 14)


def test_yellow_card_and_escalation_count_natural_days_after_the_creation_day():
    # Monday 2 November 10:00: 5 days -> 24:00 Saturday 7th; 10 days -> 24:00 Thursday 12th.
    d = engine().deadlines(at(11, 2, 10, 0))
    assert d["yellow_card"] == end_of(11, 7)
    assert d["escalated"] == end_of(11, 12)


def test_cards_are_never_due_before_the_rectification_deadline():
    # Wednesday 30 September: rectify Thu 8, Fri 9, Sat 10 (make-up) -> 24:00 10 Oct,
    # later than the 5th natural day (5 Oct): the yellow card waits for it.
    d = engine().deadlines(at(9, 30, 10, 0))
    assert d["rectify_overdue"] == end_of(10, 10)
    assert d["yellow_card"] == end_of(10, 10)
    assert d["escalated"] == end_of(10, 10)
    literal = engine(cards_wait_for_rectify=False).deadlines(at(9, 30, 10, 0))
    assert literal["yellow_card"] == end_of(10, 5)


def test_an_unresolved_alert_breaches_every_clock_in_deadline_order_once():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    out = []
    for day in range(3, 16):
        out += e.advance(at(11, day, 12, 0))
    assert kinds(out) == ["verify_overdue", "rectify_overdue", "yellow_card", "escalated"]
    assert [b.due_at for b in out] == [
        created + 86400,
        end_of(11, 5),
        end_of(11, 7),
        end_of(11, 12),
    ]
    assert e.open_clocks() == 0


def test_a_false_positive_resolves_the_alert():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    e.feed(dispose(created + 600, "false_positive"))
    assert e.advance(at(12, 1)) == []


def test_a_late_disposition_emits_the_breach_when_it_arrives():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    # The watermark has not reached the deadline, but the rectification is stamped after it.
    out = e.feed(dispose(end_of(11, 5) + 60, "rectified"))
    # Rectifying implies verifying, also late: both clocks breach, in deadline order.
    assert kinds(out) == ["verify_overdue", "rectify_overdue"]
    assert out[1].due_at == end_of(11, 5)
    # The alert is resolved before the card deadlines: nothing more.
    assert e.advance(at(11, 20)) == []


def test_a_late_disposition_after_the_breach_was_emitted_emits_nothing_more():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    e.feed(dispose(created + 100, "verified"))
    assert kinds(e.advance(end_of(11, 5))) == ["rectify_overdue"]
    assert e.feed(dispose(end_of(11, 6), "rectified")) == []
    assert e.advance(at(11, 30)) == []


def test_grace_lets_a_just_in_time_disposition_delivered_late_count():
    created = at(11, 2, 10, 0)
    e = SlaEngine(CAL_2026, SlaParams(grace_s=120.0))
    e.feed(alert(created))
    e.feed(dispose(created + 10, "verified"))
    assert e.advance(end_of(11, 5) + 60) == []
    assert e.feed(dispose(end_of(11, 5) - 5, "rectified")) == []
    assert e.advance(at(11, 30)) == []


def test_alert_records_carry_dispositions_too():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    e.feed(alert(created, state="rectified", verified_at=created + 5, resolved_at=created + 50))
    assert e.advance(at(11, 30)) == []


def test_a_disposition_before_its_alert_is_kept_for_it():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(dispose(created + 50, "closed"))
    assert e.feed(alert(created)) == []
    assert e.advance(at(11, 30)) == []


def test_snapshot_and_restore_mid_clock_gives_no_duplicate_breach():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created))
    first = e.advance(created + 86400 + 1)
    assert kinds(first) == ["verify_overdue"]
    snap = json.loads(json.dumps(e.snapshot()))
    restored = engine()
    restored.restore(snap)
    # An at-least-once replay of the alert after the checkpoint changes nothing.
    assert restored.feed(alert(created)) == []
    assert restored.advance(created + 86400 + 2) == []
    rest = restored.advance(at(11, 30))
    assert kinds(rest) == ["rectify_overdue", "yellow_card", "escalated"]


def test_replayed_input_gives_identical_outputs():
    created = at(9, 29, 9, 0)
    inputs = [
        alert(created, "a1"),
        alert(created + 3600, "a2", district="南开区", station="王顶堤所"),
        dispose(created + 7200, "verified", "a2"),
        dispose(created + 7200, "verified", "a2"),
        dispose(end_of(10, 12), "rectified", "a2"),
        alert(created, "a1"),
    ]
    clock = [at(9, 30, 12), at(10, 9, 12), at(10, 12, 12), at(10, 20, 12)]

    def run():
        e = engine()
        out = []
        for rec in inputs:
            out += e.feed(rec)
        for now in clock:
            out += e.advance(now)
        return [msgspec.json.encode(b) for b in out]

    once = run()
    assert once == run()
    assert len({json.loads(b)["breach_id"] for b in once}) == len(once)


def test_timely_disposal_rate_per_district_and_station():
    created = at(11, 2, 10, 0)
    e = engine()
    e.feed(alert(created, "a1"))
    e.feed(alert(created, "a2"))
    e.feed(alert(created, "a3", station="马场所"))
    e.feed(dispose(created + 60, "rectified", "a1"))
    e.feed(dispose(end_of(11, 6), "rectified", "a2"))  # a day late
    e.advance(at(11, 20))
    by_district = e.timely_disposal_rate("district")
    assert by_district[("河西区",)].due == 3
    assert by_district[("河西区",)].timely == 1
    by_station = e.timely_disposal_rate("station")
    assert by_station[("河西区", "友谊路所")].rate == 0.5
    assert by_station[("河西区", "马场所")].rate == 0.0


def test_an_alert_not_yet_due_is_not_counted_in_the_timely_rate():
    e = engine()
    e.feed(alert(at(11, 2, 10, 0)))
    e.advance(at(11, 3, 12))
    assert e.timely_disposal_rate("district") == {}


def test_a_deadline_beyond_the_calendar_data_is_flagged():
    created = at(1, 4, 10, 0, year=2027)
    e = engine()
    e.feed(alert(created))
    e.feed(dispose(created + 60, "verified"))
    [b] = e.advance(at(1, 20, year=2027))[:1]
    assert b.kind == "rectify_overdue"
    assert b.calendar_covered is False
    assert e.counters.uncovered_calendar == 1


def test_the_calendar_loader_knows_the_2026_golden_week_and_make_up_days(tmp_path):
    pytest.importorskip("chinese_calendar")
    from stream_apps.calendar_loader import load_calendar

    override = tmp_path / "cal.json"
    override.write_text(json.dumps({"holidays": ["2027-01-01"], "workdays": ["2027-01-09"]}))
    cal = load_calendar(override)
    assert not cal.is_workday(date(2026, 10, 1))
    assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up day
    assert cal.is_workday(date(2026, 9, 20))  # Sunday make-up day
    assert cal.covers(date(2027, 1, 9))
    assert cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 1))


# -- the 24-hour track (seed 002 §18) -------------------------------------------------
def test_a_class_fixable_at_once_must_be_rectified_within_24_hours():
    e = engine()
    created = at(11, 3, 9)
    assert e.feed(alert(created, cls="trash_uncovered")) == []
    assert e.advance(created + 86400.0 - 1) == []
    out = e.advance(created + 86400.0)
    assert [b.kind for b in out] == ["verify_overdue", "rectify_24h_overdue"]
    assert out[1].due_at == created + 86400.0


def test_a_fixable_alert_rectified_within_24_hours_breaches_nothing():
    e = engine()
    created = at(11, 3, 9)
    e.feed(alert(created, cls="no_mask"))
    d = Disposition(v=1, alert_id="a1", ts=created + 3600, actor="li", action="rectified")
    assert e.feed(d) == []
    assert e.advance(created + 40 * 86400.0) == []


def test_other_classes_have_no_24_hour_clock():
    e = engine()
    created = at(11, 3, 9)
    e.feed(alert(created, cls="smoking"))
    kinds = [b.kind for b in e.advance(created + 2 * 86400.0)]
    assert kinds == ["verify_overdue"]
