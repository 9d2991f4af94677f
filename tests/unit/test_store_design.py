"""The city-scale store design (migrations 0180, 0181, 0230-0238) against the design it replaces.

A small store is built with the migrations as they stood before 0180 (the
tables unpartitioned, ordered by id), filled by the city-scale benchmark's
generator, and every board panel query is run on it - the panels rewritten on
the current-state tables in their old SQL (tests/unit/old_board_sql.py); then
the packaged migrations move it to the new design (copy and swap, backfill of
the current-state tables) and the committed queries must give the same
answers. chdb runs one engine path per process, so this module shares the
path of the other store tests of the session and starts from a store without
database `bk`.
"""

from __future__ import annotations

import shutil

import clickhouse_connect
import pytest

from bench.store_scale import END, RANGES, Scale, context, fill, panel_queries
from brightkitchen.boards import expand_query, with_min_interval
from clickhouse.migrate import MIGRATIONS_DIR, load, migrate
from stream_apps.sink.store_writer import StoreWriter
from tests.unit.old_board_sql import PANELS as OLD_SQL

# 32,000 frames over the last day: at most 8,000 in a panel's bucket (30 d: 6 h buckets),
# where quantile(0.5) is exact over raw rows and over bk.detections_minute states alike
# (both sample above 8,192 values a bucket, so a larger store would compare samples).
SMALL = Scale(cameras=240, days=62, detections=32_000)
NOW = "toDateTime64('2026-11-30 12:00:00', 3, 'UTC')"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    yield c
    c.close()


def before_0180(tmp_path) -> str:
    directory = tmp_path / "old"
    directory.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 180:
            shutil.copy(path, directory)
    return directory


def design(client, table: str) -> tuple[str, str]:
    return client.query(
        "SELECT partition_key, sorting_key FROM system.tables WHERE database = 'bk' AND name = "
        "{t:String}",
        parameters={"t": table},
    ).result_rows[0]


def answers(client, old_sql: bool = False) -> dict[tuple[str, str, str, str], list[tuple]]:
    """Every panel query at every range and scope -> its rows (with `old_sql`, the
    rewritten panels in the SQL they had before the current-state tables).

    now64() is pinned to the end of the data so that both runs see the same
    instant (the ages of open alerts and offline cameras are measured to it)."""
    end_ts = client.query(f"SELECT toUnixTimestamp(toDateTime('{END}', 'UTC'))").result_rows[0][0]
    district, station = client.query(
        "SELECT district, station FROM bk.cameras FINAL WHERE active ORDER BY camera_id LIMIT 1"
    ).result_rows[0]
    scopes = {"all": (None, None), "district": (district, None), "station": (district, station)}
    out = {}
    for q in panel_queries():
        raw = OLD_SQL.get((q.board, q.title, q.ref), q.sql) if old_sql else q.sql
        for rname, span in RANGES.items():
            for sname, (d, s) in scopes.items():
                ctx = with_min_interval(context(client, float(end_ts), span, d, s), q.min_interval)
                sql = expand_query(raw, ctx)
                sql = sql.replace("now64(3)", NOW)
                out[(q.board, f"{q.title}/{q.ref}", rname, sname)] = client.query(sql).result_rows
    return out


@pytest.fixture(scope="module")
def moved(client, tmp_path_factory):
    """(answers before, answers after) moving a filled store to the new design."""
    client.command("DROP DATABASE IF EXISTS bk SYNC")
    migrate(client, before_0180(tmp_path_factory.mktemp("migrations")))
    assert design(client, "violations") == ("", "violation_id")
    fill(client, SMALL, log=lambda _: None)
    counts = {
        t: client.command(f"SELECT count() FROM bk.{t} FINAL")
        for t in ("violations", "camera_events")
    }
    old = answers(client, old_sql=True)
    applied = migrate(client)
    new = answers(client)
    return old, new, applied, counts


def test_the_move_applies_0180_and_0181_to_a_store_that_predates_them(moved):
    _old, _new, applied, _counts = moved
    assert "0180_violations_partitioned.sql" in applied
    assert "0181_camera_events_partitioned.sql" in applied
    assert "0230_alerts_partitioned.sql" in applied
    assert "0238_operator_rates_latest.sql" in applied


def test_violations_and_camera_events_are_partitioned_by_month_and_sorted_for_the_boards(
    client, moved
):
    assert design(client, "violations") == (
        "toYYYYMM(started_at)",
        "toDateTime(started_at), camera_id, violation_id",
    )
    assert design(client, "camera_events") == (
        "toYYYYMM(started_at)",
        "toDateTime(started_at), camera_id, event_id",
    )
    assert design(client, "alerts") == (
        "toYYYYMM(created_at)",
        "toDateTime(created_at), alert_id",
    )
    assert design(client, "sla_breaches") == ("toYYYYMM(due_at)", "toDateTime(due_at), breach_id")
    staging = client.command(
        "SELECT count() FROM system.tables "
        "WHERE database = 'bk' AND match(name, '_0(18[01]|23[01])$')"
    )
    assert int(staging) == 0


def test_the_backfill_gives_the_current_state_tables_what_is_open(client, moved):
    for table, source, where in (
        ("violations_open", "violations", "state = 'open'"),
        ("camera_events_open", "camera_events", "state = 'open'"),
        ("alerts_open", "alerts", "resolved_at IS NULL"),
    ):
        current = client.command(f"SELECT count() FROM bk.{table} FINAL")
        assert current == client.command(f"SELECT count() FROM bk.{source} FINAL WHERE {where}")
        assert current > 0, table
    latest = client.command("SELECT count() FROM bk.operator_rates_latest FINAL")
    assert latest == client.command(
        "SELECT count() FROM (SELECT DISTINCT operator_id, `window`, district, station "
        "FROM bk.operator_rates)"
    )


def test_the_move_keeps_one_row_per_id_and_every_id(client, moved):
    _old, _new, _applied, counts = moved
    for table, key in (("violations", "violation_id"), ("camera_events", "event_id")):
        assert client.command(f"SELECT count() FROM bk.{table} FINAL") == counts[table]
        assert client.command(f"SELECT uniqExact({key}) FROM bk.{table}") == counts[table]


def test_every_board_panel_gives_the_same_answer_on_both_designs(moved):
    old, new, _applied, _counts = moved
    assert old.keys() == new.keys()
    assert sum(1 for rows in old.values() if rows) > len(old) // 2  # the store is not empty
    # The same rows; their order only where the query fixes it: a few panels order
    # by one column with ties (breaches per time bucket, rates of equal value),
    # and the move changes the order in which the store reads such rows.
    differ = [key for key in old if sorted(old[key], key=repr) != sorted(new[key], key=repr)]
    print("\n".join(map(str, differ)))
    assert differ == []
    reordered = {key[0:2] for key in old if old[key] != new[key]}
    assert reordered <= {
        ("bk-sla", "SLA breaches by kind/A"),  # ORDER BY time: kinds of one bucket in any order
        ("bk-operators", "Rates per class/A"),  # ORDER BY rate DESC: equal rates in any order
    }


def test_a_rerun_after_the_swap_does_not_swap_back(client, moved, tmp_path):
    """A run that died between EXCHANGE and DROP leaves the old table under the
    staging name; rerunning the file must finish the job, not undo it."""
    (migration,) = [m for m in load() if m.name.startswith("0180_")]
    create, _copy, _swap, _drop = migration.statements
    client.command(create)  # the staging table exists again, as after a crash
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "0180_violations_partitioned.sql").write_text(
        (MIGRATIONS_DIR / migration.name).read_text()
    )
    client.command("DELETE FROM bk.schema_migrations WHERE name = {n:String}",
                   parameters={"n": migration.name})  # fmt: skip
    assert migrate(client, directory) == [migration.name]
    assert design(client, "violations")[0] == "toYYYYMM(started_at)"
    assert not int(client.command("EXISTS TABLE bk.violations_0180"))


def test_a_live_batch_stays_far_below_the_partitions_per_insert_limit(client, moved):
    """The sink inserts seconds to minutes of event time: one or two months,
    well under max_partitions_per_insert_block (100, the default)."""
    from schemas.records import Evidence, Violation  # noqa: PLC0415

    base = 1_764_500_000.0  # 2025-11-30
    batch = [
        Violation(
            v=1,
            violation_id=f"live-{i}",
            camera_id="cam-00001",
            operator_id="op-00000",
            cls="no_hat",
            severity="major",
            state="open",
            started_at=base + 86400 * i,  # spans 20 days: two months
            detected_at=base + 86400 * i + 3,
            ended_at=None,
            peak_score=0.9,
            frames=3,
            evidence=Evidence(frame_ts=base + 86400 * i, box=(0.1, 0.2, 0.3, 0.4)),
        )
        for i in range(20)
    ]
    assert StoreWriter(client).write("bk.violations.v1", batch) == 20
    parts = client.command(
        "SELECT uniqExact(toYYYYMM(started_at)) FROM bk.violations WHERE violation_id LIKE 'live-%'"
    )
    assert int(parts) <= 2
