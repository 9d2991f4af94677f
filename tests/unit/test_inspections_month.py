"""The regulators' loop over a hand-built month (brightkitchen/inspections_scenario.py).

The ops pipeline is driven with the month's feed; its outputs are written
through the StoreWriter into an embedded store, and the four tables the
outside tools read are checked row by row. Every expected value follows from
the scenario's table and the rules in docs/inspections.md (worked out there).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import clickhouse_connect
import pytest

from brightkitchen import inspections_scenario as sc
from clickhouse.migrate import migrate
from schemas.records import TOPIC_RECORDS, decode
from stream_apps.sink.store_writer import TABLES, StoreWriter

BEIJING = timezone(timedelta(hours=8))


def local(ts) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        ts = ts.timestamp()
    return datetime.fromtimestamp(ts, BEIJING).strftime("%m-%d %H:%M")


@pytest.fixture(scope="module")
def month():
    return sc.run_ops()


@pytest.fixture(scope="module")
def store(month, tmp_path_factory):
    _, outputs = month
    client = clickhouse_connect.get_client(
        dsn=f"chdb://{tmp_path_factory.getbasetemp() / 'month-store'}"
    )
    client.command("DROP DATABASE IF EXISTS bk SYNC")
    migrate(client)
    writer = StoreWriter(client)
    by_topic = defaultdict(list)
    for o in outputs:
        by_topic[o.topic].append(decode(TOPIC_RECORDS[o.topic], o.value))
    for topic, records in by_topic.items():
        assert topic in TABLES, topic
        writer.write(topic, records)
        writer.write(topic, records)  # a replay changes nothing
    yield client
    client.close()


def rows(client, sql: str) -> list[tuple]:
    return [tuple(r) for r in client.query(sql).result_rows]


def test_licence_alerts_30_7_0_days_and_on_expiry_and_the_missing_profile(store):
    got = rows(
        store,
        "SELECT operator_id, kind, number, stage, due_at, days_left, severity "
        "FROM bk.licence_alerts FINAL ORDER BY due_at, operator_id",
    )
    assert [(r[0], r[1], r[2], r[3], local(r[4]), r[5], r[6]) for r in got] == [
        # Learnt 20.4 days before expiry: the 30-day stage is raised when learnt,
        # where the clock begins (00:00:30, the cameras' second frame: the frames'
        # origin).
        ("op-a", "food_business", "JY-A-001", "30d", "11-02 00:00", 20.416, "minor"),
        # 7 working days after Monday 2 Nov is Wednesday 11 Nov: due at its end.
        ("op-b", "profile", "", "profile_incomplete", "11-12 00:00", 0.0, "major"),
        ("op-a", "health_certificate", "HC-A-01", "30d", "11-12 10:00", 30.0, "minor"),
        ("op-a", "food_business", "JY-A-001", "7d", "11-15 10:00", 7.0, "minor"),
        ("op-a", "food_business", "JY-A-001", "0d", "11-22 00:00", 0.417, "major"),
        ("op-a", "food_business", "JY-A-001", "expired", "11-22 10:00", 0.0, "critical"),
    ]


def test_an_expired_licence_and_a_missing_profile_are_alerts_with_sla_clocks(store):
    """The day a licence expires, its expiry and a missing profile raise an alert an
    inspector acts on (one per licence: the expiry joins the day's alert, critical);
    nobody answers them in this month, so they breach like any other alert."""
    got = rows(
        store,
        "SELECT operator_id, cls, severity, state, created_at, length(members), "
        "length(camera_ids) FROM bk.alerts FINAL WHERE source = 'licence' ORDER BY created_at",
    )
    assert [(r[0], r[1], r[2], r[3], local(r[4]), r[5], r[6]) for r in got] == [
        ("op-b", "profile", "major", "open", "11-12 00:00", 1, 0),
        ("op-a", "food_business", "critical", "open", "11-22 00:00", 2, 0),
    ]
    got = rows(
        store,
        "SELECT operator_id, kind, due_at FROM bk.sla_breaches FINAL "
        "WHERE source = 'licence' ORDER BY operator_id, due_at, kind",
    )
    assert [(r[0], r[1], local(r[2])) for r in got] == [
        # Sunday 22 Nov: verify by Monday 00:00; three working days: Mon-Wed.
        ("op-a", "verify_overdue", "11-23 00:00"),
        ("op-a", "rectify_overdue", "11-26 00:00"),
        ("op-a", "yellow_card", "11-28 00:00"),
        ("op-a", "escalated", "12-03 00:00"),
        # Thursday 12 Nov: Friday, Monday, Tuesday.
        ("op-b", "verify_overdue", "11-13 00:00"),
        ("op-b", "rectify_overdue", "11-18 00:00"),
        ("op-b", "yellow_card", "11-18 00:00"),
        ("op-b", "escalated", "11-23 00:00"),
    ]


def test_key_monitoring_enters_on_three_cuts_in_opening_hours_and_leaves_after_14_clean_days(
    store,
):
    got = rows(
        store,
        "SELECT operator_id, station, state, since, until, events, suspicious, revision, "
        "reason, length(evidence) FROM bk.key_monitoring FINAL",
    )
    assert [(r[0], r[1], r[2], local(r[3]), local(r[4]), *r[5:]) for r in got] == [
        (
            "op-b",
            "友谊路所",
            "off",
            "11-05 12:00",
            "11-19 12:00",
            3,  # the 23:30 cut after closing is not counted
            1,  # d3 12:00 is 1 h before the online patrol
            2,
            "3 evasion events in 7 d (>= 3)",
            3,
        )
    ]


def test_key_monitoring_history_shows_the_entry_and_the_suspicious_evidence(month):
    _, outputs = month
    entries = [
        decode(TOPIC_RECORDS[o.topic], o.value)
        for o in outputs
        if o.topic == "bk.key-monitoring.v1"
    ]
    assert [(e.state, e.revision, e.suspicious, local(e.updated_at)) for e in entries] == [
        ("on", 0, 0, "11-05 12:00"),
        ("on", 1, 1, "11-05 13:00"),
        ("off", 2, 1, "11-19 12:00"),
    ]


def test_the_inspection_plan_at_the_last_midnight(store):
    got = rows(
        store,
        "SELECT operator_id, station, as_of, grade, colour, due_per_year, interval_days, "
        "last_inspection_at, last_on_site_at, last_result, next_due_at, overdue, overdue_days, "
        "month, inspected_this_month, station_operators, station_inspected_this_month, "
        "risk_rank, alerts_30d, on_key_monitoring FROM bk.inspection_plan FINAL "
        "ORDER BY station, risk_rank",
    )
    t = [tuple(local(v) if isinstance(v, datetime) else v for v in r) for r in got]
    assert t == [
        # D (4 escalations of its offline alerts): monthly; never inspected on site, so
        # due 30.4 days after it was first seen (where the clock begins, 2 Nov
        # 00:00:30): overdue since 2 Dec 10:00.
        (
            "op-b",
            "友谊路所",
            "12-03 00:00",
            "D",
            "red",
            12.0,
            30.417,
            "11-05 13:00",
            None,
            "issues_found",
            "12-02 10:00",
            True,
            0.583,
            "2026-12",
            False,
            2,
            0,
            1,
            4,
            False,
        ),
        # C (an escalation, a repeat offence): quarterly from the on-site visit of 6 Nov.
        (
            "op-a",
            "友谊路所",
            "12-03 00:00",
            "C",
            "orange",
            4.0,
            91.25,
            "11-06 10:00",
            "11-06 10:00",
            "pass",
            "02-05 16:00",
            False,
            0.0,
            "2026-12",
            False,
            2,
            0,
            2,
            2,
            False,
        ),
        # C; an online patrol does not reset the on-site clock: due 91.25 days after
        # it was first seen (2 Nov 00:00:30).
        (
            "op-c",
            "马场所",
            "12-03 00:00",
            "C",
            "orange",
            4.0,
            91.25,
            "11-08 15:00",
            None,
            "pass",
            "02-01 06:00",
            False,
            0.0,
            "2026-12",
            False,
            1,
            0,
            1,
            3,
            False,
        ),
    ]


def test_the_monthly_round_counts_online_patrols(month):
    _, outputs = month
    plan = [
        decode(TOPIC_RECORDS[o.topic], o.value)
        for o in outputs
        if o.topic == "bk.inspection-plan.v1"
    ]
    end_of_nov = [r for r in plan if local(r.as_of) == "11-30 00:00"]
    assert {
        r.operator_id: (r.inspected_this_month, r.station_inspected_this_month) for r in end_of_nov
    } == {"op-a": (True, 2), "op-b": (True, 2), "op-c": (True, 1)}


def test_an_overdue_inspection_is_an_sla_breach_that_pages(month):
    pipeline, outputs = month
    breaches = [
        decode(TOPIC_RECORDS[o.topic], o.value)
        for o in outputs
        if o.topic == "bk.sla-breaches.v1" and b"inspection_overdue" in o.value
    ]
    assert [(b.operator_id, b.alert_id, local(b.due_at)) for b in breaches] == [
        ("op-b", "inspection:op-b", "12-02 10:00")
    ]
    assert pipeline.open_breach_counts()[("inspection_overdue", "河西区")] == 1


KPI_COLUMNS = (
    "level, station, kitchens_registered, kitchens_connected, cameras_registered, "
    "cameras_online, kitchen_days, alerts, confirmed, rectified, false_positive, timely_due, "
    "timely_met, round(discovery_rate, 3), handling_rate, timely_rate, "
    "round(false_alarm_rate, 3)"
)


def test_station_kpis_on_the_day_a_kitchen_was_dark(store):
    got = rows(
        store,
        f"SELECT {KPI_COLUMNS} FROM bk.station_kpis FINAL WHERE day = '2026-11-13' "
        "ORDER BY level = 'city', level = 'district', station",
    )
    assert got == [
        # Window 14 Oct - 13 Nov; the engine has seen 12 days (2-13 Nov) of 2 kitchens.
        ("station", "友谊路所", 2, 2, 3, 3, 24, 2, 1, 1, 0, 1, 1, 4.167, 1.0, 1.0, 0.0),
        # cam-c1 offline all of 13 Nov: k-c not connected; smoking late, phone_use (false
        # positive) in time; the no_hat of 10 Nov is not due before 14 Nov: not counted.
        ("station", "马场所", 1, 0, 1, 0, 11, 2, 1, 0, 1, 2, 1, 9.091, 0.0, 0.5, 0.5),
        ("district", "", 3, 2, 4, 3, 35, 4, 2, 1, 1, 3, 2, 5.714, 0.5, 2 / 3, 0.333),
        ("city", "", 3, 2, 4, 3, 35, 4, 2, 1, 1, 3, 2, 5.714, 0.5, 2 / 3, 0.333),
    ]


def test_station_kpis_at_the_end_of_the_month(store):
    got = rows(
        store,
        f"SELECT {KPI_COLUMNS} FROM bk.station_kpis FINAL WHERE day = '2026-12-02' "
        "AND level = 'city'",
    )
    # Window 3 Nov - 2 Dec: 30 days x 3 kitchens - 1 dark day = 89 kitchen-days.
    assert got == [("city", "", 3, 3, 4, 4, 89, 4, 2, 1, 1, 4, 2, 2.247, 0.5, 0.5, 0.333)]


def test_every_day_of_the_month_has_its_rows_once(store):
    got = rows(
        store,
        "SELECT level, count(), uniqExact(day) FROM bk.station_kpis FINAL "
        "GROUP BY level ORDER BY level",
    )
    # 2 Nov .. 2 Dec: 31 days; two stations.
    assert got == [("city", 31, 31), ("district", 31, 31), ("station", 62, 31)]


def test_alerts_carry_repeat_and_leniency(store):
    got = rows(
        store,
        "SELECT operator_id, cls, severity, base_severity, repeat_of IS NOT NULL, lenient "
        "FROM bk.alerts FINAL WHERE source = 'violation' ORDER BY created_at",
    )
    assert got == [
        ("op-a", "no_hat", "minor", None, False, True),
        ("op-c", "smoking", "major", None, False, False),
        ("op-c", "phone_use", "minor", None, False, False),
        ("op-a", "no_hat", "major", "minor", True, False),
    ]


def test_every_output_is_the_same_whatever_the_steps_of_the_clock(month):
    """A replay's camera app reports its clock per batch (hours of frames at a
    time); a day per step must give what an hour per step gives: a midnight's plan
    row grades the operator as of that midnight (op-a's licence escalates exactly at
    the last one), an overdue inspection's breach lands in the rates when it falls
    due, an operator leaves the key-monitoring list at its ``until``."""
    _, hourly = month
    _, daily = sc.run_ops(step_s=sc.DAY)
    assert sorted((o.topic, o.value) for o in daily) == sorted((o.topic, o.value) for o in hourly)


def test_snapshot_and_restore_midway_gives_the_same_outputs(monkeypatch):
    """Every engine of the loop restores to the same answer (DESIGN principle 1)."""
    import json

    from stream_apps.engines.loop import RegulatorsLoop
    from stream_apps.pipelines import ops as ops_pipeline

    calls: list[tuple[str, object]] = []
    made: list[RegulatorsLoop] = []

    class Recording(RegulatorsLoop):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

        def feed(self, record):
            calls.append(("feed", record))
            return super().feed(record)

        def advance(self, now):
            calls.append(("advance", now))
            return super().advance(now)

    monkeypatch.setattr(ops_pipeline, "RegulatorsLoop", Recording)
    pipeline, _ = sc.run_ops()

    def make() -> RegulatorsLoop:
        return RegulatorsLoop(
            pipeline.sla.calendar,
            lambda a: pipeline.sla.deadlines(a.created_at)["rectify_overdue"],
        )

    def drive(loop: RegulatorsLoop, items) -> list:
        out = []
        for kind, arg in items:
            out += loop.feed(arg) if kind == "feed" else loop.advance(arg)
        return out

    whole = drive(make(), calls)
    half = len(calls) // 2
    first = make()
    out = drive(first, calls[:half])
    second = make()
    second.restore(json.loads(json.dumps(first.snapshot())))
    out += drive(second, calls[half:])
    assert out == whole
    assert len(whole) > 200
