"""Alert grouping, dispositions and precision, one behaviour per test."""

from __future__ import annotations

import json

import msgspec

from schemas.records import CameraEvent, Disposition, Evidence, RegistryEntry, Violation
from stream_apps.engines.alerts import AlertEngine, AlertParams, alert_id

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC


def reg(camera: str, kitchen: str, operator: str = "op1") -> RegistryEntry:
    return RegistryEntry(
        v=1,
        camera_id=camera,
        kitchen_id=kitchen,
        operator_id=operator,
        operator_name="某某餐饮",
        district="河西区",
        station="友谊路所",
        opening_hours=[["07:00", "22:00"]],
    )


def violation(
    camera: str, start: float, cls: str = "no_hat", state: str = "open", severity: str = "minor"
) -> Violation:
    return Violation(
        v=1,
        violation_id=f"{camera}-{cls}-{start}",
        camera_id=camera,
        operator_id="op1",
        cls=cls,
        severity=severity,
        state=state,
        started_at=T0 + start,
        detected_at=T0 + start + 15,
        ended_at=None if state == "open" else T0 + start + 100,
        peak_score=0.9,
        frames=5,
        evidence=Evidence(frame_ts=T0 + start, box=(0.1, 0.1, 0.2, 0.2)),
    )


def camera_event(camera: str, start: float, kind: str = "offline") -> CameraEvent:
    return CameraEvent(
        v=1,
        event_id=f"{camera}-{kind}-{start}",
        camera_id=camera,
        operator_id="op1",
        kind=kind,
        state="open",
        started_at=T0 + start,
        detected_at=T0 + start + 60,
        ended_at=None,
        detail="",
    )


def dispose(aid: str, ts: float, action: str) -> Disposition:
    return Disposition(v=1, alert_id=aid, ts=T0 + ts, actor="inspector-7", action=action)


def kitchen_engine() -> AlertEngine:
    """Kitchen k1 has cameras c1 and c2, kitchen k2 has c3; all of operator op1."""
    e = AlertEngine(AlertParams(group_window_s=600.0))
    for cam, kitchen in (("c1", "k1"), ("c2", "k1"), ("c3", "k2")):
        e.feed(reg(cam, kitchen))
    return e


def feed_all(engine, records):
    out = []
    for r in records:
        out += engine.feed(r)
    return out


def test_one_class_on_two_cameras_of_one_kitchen_within_the_window_is_one_alert():
    e = kitchen_engine()
    out = feed_all(e, [violation("c1", 0), violation("c2", 300)])
    assert len({a.alert_id for a in out}) == 1
    last = out[-1]
    assert last.camera_ids == ["c1", "c2"]
    assert last.members == sorted(["c1-no_hat-0", "c2-no_hat-300"])
    assert last.kitchen_id == "k1" and last.operator_id == "op1"
    assert last.created_at == T0 + 15
    assert last.revision == 1
    assert last.alert_id == alert_id("violation", "no_hat", "op1", "kitchen:k1", T0)


def test_the_same_class_in_another_kitchen_is_another_alert():
    e = kitchen_engine()
    out = feed_all(e, [violation("c1", 0), violation("c3", 60)])
    assert len({a.alert_id for a in out}) == 2
    assert {a.kitchen_id for a in out} == {"k1", "k2"}


def test_an_episode_starting_after_the_window_opens_a_new_alert():
    e = kitchen_engine()
    out = feed_all(e, [violation("c1", 0), violation("c2", 600)])
    assert len({a.alert_id for a in out}) == 2


def test_another_class_in_the_same_kitchen_is_another_alert():
    e = kitchen_engine()
    out = feed_all(e, [violation("c1", 0), violation("c2", 60, cls="smoking")])
    assert len({a.alert_id for a in out}) == 2


def test_a_replayed_member_changes_nothing():
    e = kitchen_engine()
    feed_all(e, [violation("c1", 0)])
    assert e.feed(violation("c1", 0)) == []
    assert e.feed(violation("c1", 0, state="closed")) == []
    assert e.counters.duplicates == 1


def test_the_alert_takes_the_highest_member_severity():
    e = kitchen_engine()
    out = feed_all(
        e,
        [
            violation("c1", 0, cls="rodent", severity="major"),
            violation("c2", 5, cls="rodent", severity="critical"),
        ],
    )
    assert out[-1].severity == "critical"


def test_a_camera_health_event_of_interest_becomes_an_alert():
    e = kitchen_engine()
    [a] = e.feed(camera_event("c1", 0, "offline"))
    assert a.source == "camera_health" and a.cls == "offline"
    assert a.severity == "major"
    assert a.created_at == T0 + 60
    # A kitchen-wide outage (the NVR went down) is one alert.
    [b] = e.feed(camera_event("c2", 10, "offline"))
    assert b.alert_id == a.alert_id and b.camera_ids == ["c1", "c2"]


def test_a_camera_kind_not_of_interest_raises_nothing():
    e = AlertEngine(AlertParams(camera_kinds=frozenset({"offline"})))
    assert e.feed(camera_event("c1", 0, "dark")) == []


def test_dispositions_move_the_state():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    [v] = e.feed(dispose(a.alert_id, 3600, "verified"))
    assert v.state == "verified" and v.verified_at == T0 + 3600 and v.resolved_at is None
    [r] = e.feed(dispose(a.alert_id, 7200, "rectified"))
    assert r.state == "rectified" and r.resolved_at == T0 + 7200 and r.resolution == "rectified"
    [c] = e.feed(dispose(a.alert_id, 9000, "closed"))
    assert c.state == "closed" and c.resolved_at == T0 + 7200
    assert c.revision == 3 and c.last_actor == "inspector-7"


def test_a_replayed_disposition_changes_nothing():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    e.feed(dispose(a.alert_id, 3600, "verified"))
    assert e.feed(dispose(a.alert_id, 3600, "verified")) == []


def test_state_does_not_depend_on_the_order_dispositions_arrive_in():
    e1, e2 = kitchen_engine(), kitchen_engine()
    [a] = e1.feed(violation("c1", 0))
    e2.feed(violation("c1", 0))
    ds = [dispose(a.alert_id, 100, "verified"), dispose(a.alert_id, 200, "false_positive")]
    feed_all(e1, ds)
    feed_all(e2, ds[::-1])
    assert e1.alert(a.alert_id) == e2.alert(a.alert_id)
    assert e1.alert(a.alert_id).state == "false_positive"


def test_false_positives_feed_precision_per_class_and_per_camera():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    e.feed(violation("c2", 60))
    [b] = e.feed(violation("c3", 0))
    e.feed(dispose(a.alert_id, 100, "false_positive"))
    e.feed(dispose(b.alert_id, 100, "verified"))
    by_class = e.precision("class")["no_hat"]
    assert (by_class.confirmed, by_class.false_positive, by_class.precision) == (1, 1, 0.5)
    by_camera = e.precision("camera")
    assert by_camera["c1"].false_positive == 1 and by_camera["c2"].false_positive == 1
    assert by_camera["c3"].precision == 1.0


def test_an_overturned_false_positive_moves_its_precision_count():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    e.feed(dispose(a.alert_id, 100, "false_positive"))
    e.feed(dispose(a.alert_id, 500, "rectified"))
    p = e.precision("class")["no_hat"]
    assert (p.confirmed, p.false_positive) == (1, 0)


def test_a_resolved_alert_takes_no_new_member():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    e.feed(dispose(a.alert_id, 100, "false_positive"))
    [b] = e.feed(violation("c2", 200))
    assert b.alert_id != a.alert_id


def test_a_camera_outside_the_registry_is_its_own_kitchen():
    e = kitchen_engine()
    out = feed_all(e, [violation("x1", 0), violation("x2", 10)])
    assert len({a.alert_id for a in out}) == 2
    assert out[0].kitchen_id is None and out[0].operator_id == "op1"


def test_snapshot_and_restore_keep_groups_and_ignore_replays():
    e = kitchen_engine()
    [a] = e.feed(violation("c1", 0))
    snap = json.loads(json.dumps(e.snapshot()))
    r = AlertEngine(AlertParams(group_window_s=600.0))
    r.restore(snap)
    assert r.feed(violation("c1", 0)) == []
    [b] = r.feed(violation("c2", 120))
    assert b.alert_id == a.alert_id and b.revision == 1


def test_replayed_input_gives_identical_outputs():
    records = [
        reg("c1", "k1"),
        reg("c2", "k1"),
        violation("c1", 0),
        violation("c2", 100),
        violation("c1", 0),
        camera_event("c2", 50, "frozen"),
        violation("c1", 2000, cls="smoking", severity="major"),
    ]

    def run():
        e = AlertEngine()
        out = feed_all(e, records)
        ids = sorted({a.alert_id for a in out})
        out += feed_all(e, [dispose(ids[0], 4000, "verified"), dispose(ids[1], 5000, "closed")])
        e.advance(T0 + 10_000)
        return [msgspec.json.encode(a) for a in out]

    assert run() == run()


def test_resolved_alerts_are_forgotten_after_the_retention():
    e = AlertEngine(AlertParams(retain_resolved_s=86400.0, replay_horizon_s=3600.0))
    [a] = e.feed(violation("c1", 0))
    e.feed(dispose(a.alert_id, 100, "closed"))
    e.advance(T0 + 2 * 86400)
    assert e.alert(a.alert_id) is None
