"""Repeat offences after rectification and leniency for first minor ones (seed 002 §19-20)."""

from __future__ import annotations

from schemas.records import Disposition
from stream_apps.engines.alerts import AlertEngine, AlertParams
from tests.unit.test_alerts import T0, reg, violation

DAY = 86400.0


def dispose(alert_id: str, ts: float, action: str) -> Disposition:
    return Disposition(v=1, alert_id=alert_id, ts=T0 + ts, actor="li", action=action)


def engine() -> AlertEngine:
    e = AlertEngine(AlertParams())
    e.feed(reg("cam-1", "k1"))
    return e


def test_the_same_class_again_after_rectification_is_a_repeat_and_raised_one_level():
    e = engine()
    first = e.feed(violation("cam-1", 0))[-1]
    e.feed(dispose(first.alert_id, 3600, "rectified"))
    again = e.feed(violation("cam-1", 10 * DAY))[-1]
    assert again.alert_id != first.alert_id
    assert again.repeat_of == first.alert_id
    assert (again.severity, again.base_severity) == ("major", "minor")


def test_after_the_repeat_window_or_another_class_it_is_not_a_repeat():
    e = engine()
    first = e.feed(violation("cam-1", 0))[-1]
    e.feed(dispose(first.alert_id, 3600, "rectified"))
    other = e.feed(violation("cam-1", 2 * DAY, cls="no_mask"))[-1]
    late = e.feed(violation("cam-1", 40 * DAY))[-1]
    assert other.repeat_of is None and late.repeat_of is None
    assert late.severity == "minor" and late.base_severity is None


def test_an_unrectified_earlier_offence_does_not_make_a_repeat():
    e = engine()
    e.feed(violation("cam-1", 0))
    again = e.feed(violation("cam-1", 2 * DAY))[-1]
    assert again.repeat_of is None


def test_a_first_minor_offence_rectified_within_24_hours_is_flagged_lenient():
    e = engine()
    first = e.feed(violation("cam-1", 0))[-1]
    assert first.lenient is False
    done = e.feed(dispose(first.alert_id, 6 * 3600, "rectified"))[-1]
    assert done.lenient is True


def test_a_second_offence_or_a_slow_fix_is_not_lenient():
    e = engine()
    first = e.feed(violation("cam-1", 0))[-1]
    slow = e.feed(dispose(first.alert_id, 30 * 3600, "rectified"))[-1]
    assert slow.lenient is False
    second = e.feed(violation("cam-1", 5 * DAY))[-1]
    fixed = e.feed(dispose(second.alert_id, 5 * DAY + 600, "rectified"))[-1]
    assert fixed.repeat_of == first.alert_id and fixed.lenient is False


def test_repeat_state_survives_snapshot_and_restore():
    e = engine()
    first = e.feed(violation("cam-1", 0))[-1]
    e.feed(dispose(first.alert_id, 3600, "rectified"))
    fresh = AlertEngine(AlertParams())
    fresh.restore(e.snapshot())
    assert fresh.feed(violation("cam-1", 3 * DAY))[-1].repeat_of == first.alert_id
