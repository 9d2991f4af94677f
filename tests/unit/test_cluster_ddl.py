"""The cluster form of the migrations (clickhouse/cluster.py), checked by rendering.

A ClickHouse cluster is not available in the tests, so the rendered DDL is
checked by its shape and parsed by the embedded engine (``formatQuery``); the
single-node form, which is the migrations unchanged, runs on the embedded
store. chdb runs one engine path per process, so the store shares the path of
the other store tests of this pytest session.
"""

from __future__ import annotations

import re

import clickhouse_connect
import pytest

from clickhouse.cluster import (
    ClusterRenderError,
    bookkeeping_statements,
    render,
    render_statement,
)
from clickhouse.migrate import load, migrate

CLUSTER = "{cluster}"
TABLE_NAMES = {
    "violations",
    "camera_events",
    "detections",
    "cameras",
    "dead_letters",
    "alerts",
    "sla_breaches",
    "operator_rates",
    "inspection_plan",
    "station_kpis",
    "key_monitoring",
    "licence_alerts",
    "quarantine",
    # current-state tables (0232-0238)
    "violations_open",
    "camera_events_open",
    "camera_events_long",
    "alerts_open",
    "alerts_resolutions",
    "sla_breaches_open",
    "operator_rates_latest",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    yield c
    c.close()


def rendered() -> list[str]:
    return [s for m in load() for s in render(m.statements, CLUSTER)]


def created(statements: list[str]) -> dict[str, str]:
    out = {}
    for s in statements:
        m = re.match(r"CREATE TABLE IF NOT EXISTS bk\.(\w+) ", s)
        if m:
            out[m.group(1)] = s
    return out


def test_without_a_cluster_the_migrations_run_unchanged():
    for migration in load():
        assert render(migration.statements, None) == list(migration.statements)


STAGING = {"violations_0180", "camera_events_0181", "alerts_0230", "sla_breaches_0231"}
"""Staging tables of the copy-and-swap migrations."""


def test_every_table_becomes_a_replicated_local_table_and_a_distributed_one_of_its_name():
    tables = created(rendered())
    names = TABLE_NAMES | STAGING
    assert set(tables) >= names | {f"{t}_local" for t in names}
    for name in TABLE_NAMES:
        local = tables[f"{name}_local"]
        assert re.search(
            r"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/\{shard\}/\{database\}/"
            r"\{table\}', '\{replica\}'",
            local,
        ), local
        assert f"ENGINE = Distributed('{CLUSTER}', 'bk', '{name}_local', " in tables[name]


def is_copy(statement: str) -> bool:
    return statement.startswith("INSERT INTO ")


def test_every_rendered_ddl_statement_runs_on_the_cluster():
    for statement in rendered():
        if not is_copy(statement):
            assert f"ON CLUSTER '{CLUSTER}'" in statement


def test_a_copy_runs_shard_by_shard_through_the_distributed_tables():
    copies = [s for s in rendered() if is_copy(s)]
    assert len(copies) == 14  # 0180, 0181, 0230, 0231, the backfills of 0232-0238, 0240 (3)
    for statement in copies:
        target = re.match(r"INSERT INTO bk\.(\w+)", statement).group(1)
        if target == "sla_breaches_open":  # shards by alert, its source by breach
            assert "parallel_distributed_insert_select = 0" in statement
        elif target == "detections_minute":  # shards by place, its source by camera
            assert "parallel_distributed_insert_select = 0" in statement
            if "JOIN" in statement:  # detections with their cameras: both shard by camera
                assert "distributed_product_mode = 'local'" in statement
        else:
            assert "parallel_distributed_insert_select = 2" in statement, target


def views(statements: list[str]) -> dict[str, str]:
    out = {}
    for s in statements:
        m = re.match(r"CREATE (?:MATERIALIZED )?VIEW IF NOT EXISTS bk\.(\w+) ", s)
        if m:
            out[m.group(1)] = s
    return out


def test_views_read_and_write_the_local_tables_of_their_node():
    v = views(rendered())
    assert set(v) >= {
        "violations_closed_view", "violations_open_mv", "camera_events_open_mv",
        "alerts_open_mv", "sla_breaches_open_mv", "sla_breaches_resolved_mv",
        "operator_rates_latest_mv", "detections_minute_city_mv",
        "detections_minute_district_mv", "detections_minute_station_mv",
    }  # fmt: skip
    for name, statement in v.items():
        assert f"ON CLUSTER '{CLUSTER}'" in statement
        names = set(re.findall(r"\bbk\.(\w+)", statement)) - {name}
        distributed = {"sla_breaches_open", "detections_minute"}  # targets sharded otherwise
        assert all(n.endswith(("_local", "_view")) or n in distributed for n in names), (
            name, names,
        )  # fmt: skip
    guard = v["violations_open_mv"]
    assert "TO bk.violations_open_local AS" in guard
    assert "FROM bk.violations_closed_view" in guard  # the view keeps its name...
    assert "FROM bk.violations_local\nWHERE state = 'closed'" in v["violations_closed_view"]


def test_a_view_writes_through_the_distributed_table_when_its_target_shards_otherwise():
    v = views(rendered())
    # breaches shard by breach_id, their open table by alert_id (with the alerts' tombstones)
    assert " TO bk.sla_breaches_open AS " in v["sla_breaches_open_mv"]
    assert " TO bk.sla_breaches_open_local AS " in v["sla_breaches_resolved_mv"]
    # a node's frames, with the cameras of its own shard, into the rollup sharded by place
    station = v["detections_minute_station_mv"]
    assert " TO bk.detections_minute AS " in station
    assert "FROM bk.detections_local AS d" in station
    assert "FROM bk.cameras_local FINAL" in station
    with pytest.raises(ClusterRenderError):
        render_statement("CREATE MATERIALIZED VIEW bk.m TO bk.unknown AS SELECT a FROM bk.alerts")


def test_a_swap_exchanges_the_local_tables_under_the_distributed_ones():
    assert render_statement("EXCHANGE TABLES bk.violations AND bk.violations_0180", CLUSTER) == [
        "EXCHANGE TABLES bk.violations_local AND bk.violations_0180_local ON CLUSTER '{cluster}'"
    ]
    assert render_statement("DROP TABLE IF EXISTS bk.violations_0180 SYNC", CLUSTER) == [
        "DROP TABLE IF EXISTS bk.violations_0180 ON CLUSTER '{cluster}' SYNC",
        "DROP TABLE IF EXISTS bk.violations_0180_local ON CLUSTER '{cluster}' SYNC",
    ]


def test_the_new_design_is_rendered_partitioned_and_sharded_by_camera():
    tables = created(rendered())
    local = tables["violations_0180_local"]
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
        "'{replica}', version)" in local
    )
    assert "PARTITION BY toYYYYMM(started_at)" in local
    assert "ORDER BY (toDateTime(started_at), camera_id, violation_id)" in local
    # the staging table shards like its target: a camera's rows stay on their shard
    assert tables["violations_0180"].endswith("'violations_0180_local', cityHash64(camera_id))")
    assert tables["camera_events_0181"].endswith(
        "'camera_events_0181_local', cityHash64(camera_id))"
    )


def test_the_local_table_keeps_the_engine_arguments_sorting_ttl_and_indexes():
    local = created(rendered())
    assert "'{replica}', version)" in local["violations_local"]
    assert "INDEX idx_camera_id camera_id TYPE bloom_filter" in local["violations_local"]
    det = local["detections_local"]
    assert "'{replica}')\nPARTITION BY toDate(frame_ts)" in det
    assert "TTL toDateTime(ingested_at) + INTERVAL 7 DAY" in det
    assert "SETTINGS ttl_only_drop_parts = 1" in det


def test_the_distributed_table_has_the_columns_and_no_skip_indexes():
    dist = created(rendered())["violations"]
    assert "violation_id String" in dist and "version      UInt64 DEFAULT" in dist
    assert "INDEX" not in dist


def test_rows_of_one_id_land_on_one_shard():
    tables = created(rendered())
    for name in ("violations", "camera_events", "detections", "cameras"):
        assert tables[name].endswith("cityHash64(camera_id))")  # ids are per camera
    assert tables["alerts"].endswith("cityHash64(alert_id))")
    _local, orphan = render_statement(
        "CREATE TABLE IF NOT EXISTS bk.other (a String, b UInt8) "
        "ENGINE = ReplacingMergeTree ORDER BY (a, b)",
        CLUSTER,
    )
    assert orphan.endswith("cityHash64(a, b))")  # the sorting key when none is listed


def test_column_changes_reach_both_tables_other_alters_only_the_local_one():
    add = render_statement("ALTER TABLE bk.violations ADD COLUMN IF NOT EXISTS x UInt8", CLUSTER)
    assert add == [
        "ALTER TABLE bk.violations_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS x UInt8",
        "ALTER TABLE bk.violations ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS x UInt8",
    ]
    ttl = render_statement("ALTER TABLE bk.detections MODIFY TTL frame_ts + INTERVAL 1 DAY")
    assert ttl == [
        "ALTER TABLE bk.detections_local ON CLUSTER '{cluster}' "
        "MODIFY TTL frame_ts + INTERVAL 1 DAY"
    ]


def test_a_statement_without_a_cluster_form_is_refused():
    with pytest.raises(ClusterRenderError):
        render_statement("INSERT INTO bk.cameras (camera_id) VALUES ('x')", CLUSTER)
    with pytest.raises(ClusterRenderError):
        render_statement("CREATE TABLE bk.m (a String) ENGINE = Memory", CLUSTER)


def test_the_migrations_table_is_one_replicated_table_for_all_shards():
    db, table = bookkeeping_statements("bk", "schema_migrations", CLUSTER)
    assert db == "CREATE DATABASE IF NOT EXISTS bk ON CLUSTER '{cluster}'"
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}'" in table


def test_the_cluster_ddl_parses(client):
    statements = rendered() + bookkeeping_statements("bk", "schema_migrations", CLUSTER)
    for statement in statements:
        formatted = client.command("SELECT formatQuery({q:String})", parameters={"q": statement})
        assert is_copy(statement) or "ON CLUSTER" in formatted


def test_the_single_node_form_creates_the_tables(client):
    client.command("DROP DATABASE IF EXISTS bk SYNC")
    migrate(client, cluster=None)
    rows = client.query("SELECT name, engine FROM system.tables WHERE database = 'bk'")
    engines = dict(rows.result_rows)
    assert set(engines) >= TABLE_NAMES
    assert not set(engines) & STAGING  # swapped in and dropped
    assert all(engines[t] == "ReplacingMergeTree" for t in TABLE_NAMES)
    client.command("DROP DATABASE IF EXISTS bk SYNC")
