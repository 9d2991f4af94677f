"""The migration runner on a real embedded store (chdb through clickhouse-connect).

chdb runs one engine path per process, so the store tests of this process
share one path (a folder of the pytest session) and each test starts from a
store without database `bk`.
"""

from __future__ import annotations

import shutil

import clickhouse_connect
import pytest

from clickhouse.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    applied,
    load,
    migrate,
    split_statements,
)

EXPECTED_TABLES = {
    "violations",
    "camera_events",
    "detections",
    "cameras",
    "dead_letters",
    "schema_migrations",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    yield c
    c.close()


@pytest.fixture
def store(client):
    client.command("DROP DATABASE IF EXISTS bk SYNC")
    return client


@pytest.fixture
def own_dir(tmp_path):
    """A copy of the packaged migrations that a test may change."""
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    return directory


def tables(client) -> set[str]:
    rows = client.query("SELECT name FROM system.tables WHERE database = 'bk'").result_rows
    return {name for (name,) in rows}


def test_migrations_apply_to_an_empty_store_in_number_order(store):
    names = migrate(store)
    assert names == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert names[0].startswith("0001_")
    assert tables(store) >= EXPECTED_TABLES
    assert applied(store) == names


def test_an_empty_store_has_nothing_applied(store):
    assert applied(store) == []


def test_a_rerun_applies_nothing(store):
    first = migrate(store)
    assert migrate(store) == []
    assert applied(store) == first


def test_a_new_migration_is_applied_alone(store, own_dir):
    migrate(store, own_dir)
    (own_dir / "0999_extra.sql").write_text(
        "-- a later issue's table; ';' in a comment is no separator\n"
        "CREATE TABLE IF NOT EXISTS bk.extra (s String DEFAULT 'a;b') ENGINE = MergeTree "
        "ORDER BY tuple();\n"
        "ALTER TABLE bk.extra ADD COLUMN IF NOT EXISTS n UInt8;\n"
    )
    assert migrate(store, own_dir) == ["0999_extra.sql"]
    assert "extra" in tables(store)


def test_a_changed_applied_migration_is_refused_and_nothing_more_runs(store, own_dir):
    migrate(store, own_dir)
    first = sorted(own_dir.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    (own_dir / "0999_extra.sql").write_text(
        "CREATE TABLE bk.extra (n UInt8) ENGINE = MergeTree ORDER BY n"
    )
    with pytest.raises(MigrationError, match=first.name):
        migrate(store, own_dir)
    assert "extra" not in tables(store)


def test_a_failing_statement_is_reported_with_its_file_and_not_recorded(store, own_dir):
    (own_dir / "0999_broken.sql").write_text("CREATE TABLE bk.broken (n NoSuchType) ENGINE = Log")
    with pytest.raises(MigrationError, match="0999_broken.sql"):
        migrate(store, own_dir)
    assert "0999_broken.sql" not in applied(store)


def test_crlf_line_endings_do_not_change_the_checksum(own_dir):
    before = {m.name: m.checksum for m in load(own_dir)}
    for path in own_dir.glob("*.sql"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert {m.name: m.checksum for m in load(own_dir)} == before


def test_misnamed_and_duplicate_numbered_files_are_refused(tmp_path):
    (tmp_path / "1_x.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="NNNN_"):
        load(tmp_path)
    (tmp_path / "1_x.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0001_b.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="0001"):
        load(tmp_path)


def test_statements_split_on_semicolons_outside_quotes_and_comments():
    sql = """
    -- header; not a statement
    CREATE TABLE t (s String DEFAULT 'x;y', `a;b` UInt8) ENGINE = Log;
    /* block; comment */
    INSERT INTO t VALUES ('it\\'s; fine', 1);
    -- trailing comment only;
    """
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[0].endswith("ENGINE = Log")
    assert "'it\\'s; fine'" in statements[1]
