"""The CLI as a hostile or careless user runs it: `query` that tries to write, binary
formats, bad store and broker settings, an oversized replay line. Each failure is one
clear line (exit 2 for refused input, 1 for an unreachable service), never a traceback;
nothing outside the store changes and the store still opens."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e


def cli(workdir: Path, *args: str, env: dict | None = None, timeout: int = 120):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    return subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", *args],
        cwd=workdir,
        env={**clean, **(env or {})},
        capture_output=True,
        timeout=timeout,
    )


def one_line_error(done: subprocess.CompletedProcess) -> str:
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") or lines[0].startswith("invalid BK_"), err
    return lines[0]


def fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("hostile")
    done = cli(work, "migrate")
    assert done.returncode == 0, done.stderr.decode()
    outside = work / "outside"
    outside.mkdir()
    (outside / "victim.sh").write_text("#!/bin/sh\necho untouched\n")
    return work


STORE_META = "bk-data/store/metadata/bk/violations.sql"


@pytest.mark.parametrize(
    "sql, reason",
    [
        ("SELECT 1 INTO OUTFILE 'outside/victim.sh' TRUNCATE", "INTO OUTFILE"),
        (f"SELECT 'x' INTO OUTFILE '{STORE_META}' TRUNCATE FORMAT TSVRaw", "INTO OUTFILE"),
        ("SELECT * FROM file('outside/victim.sh', 'LineAsString')", "table function file()"),
        ("SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')", "url()"),
        ("SELECT * FROM remote('127.0.0.1:1', system.one)", "remote()"),
        ("SELECT 1; DROP TABLE bk.violations", "not one statement"),
        ("DROP TABLE bk.violations", "DROP is not a read"),
        ("INSERT INTO FUNCTION file('outside/new.csv', 'CSV') SELECT 1", "INSERT is not a read"),
    ],
)
def test_a_writing_or_reaching_query_is_refused_with_its_reason(work, sql, reason):
    before = fingerprint(work / "outside")
    meta = fingerprint(work / "bk-data/store/metadata")
    done = cli(work, "query", sql)
    assert done.returncode == 2
    line = one_line_error(done)
    assert line.startswith("error: query refused:") and reason in line, line
    assert fingerprint(work / "outside") == before
    assert fingerprint(work / "bk-data/store/metadata") == meta
    still = cli(work, "query", "SELECT count() AS n FROM bk.violations")
    assert still.returncode == 0 and json.loads(still.stdout) == {"n": 0}


def test_a_binary_format_without_out_is_refused_and_with_out_is_written_whole(work):
    sql = "SELECT number AS n FROM numbers(5) FORMAT Parquet"
    done = cli(work, "query", sql)
    assert done.returncode == 2 and "--out" in one_line_error(done)
    assert done.stdout == b""
    done = cli(work, "query", sql, "--out", "five.parquet")
    assert done.returncode == 0, done.stderr.decode()
    assert pq.read_table(work / "five.parquet").column("n").to_pylist() == [0, 1, 2, 3, 4]


def test_out_inside_the_store_is_refused(work):
    done = cli(work, "query", "SELECT 1", "--out", STORE_META)
    assert done.returncode == 2 and "inside the embedded store" in one_line_error(done)
    still = cli(work, "query", "SELECT count() AS n FROM bk.violations")
    assert still.returncode == 0, still.stderr.decode()


def test_text_that_is_not_utf8_is_printed_as_bytes(work):
    done = cli(work, "query", "SELECT unhex('FF00FE') AS b FORMAT TSVRaw")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"\xff\x00\xfe\n"


@pytest.mark.parametrize(
    "args, env, expect",
    [
        (("query", "SELECT 1"), {"BK_CLICKHOUSE_URL": "not a url"}, "is not a ClickHouse URL"),
        (("query", "SELECT 1"), {"BK_CLICKHOUSE_URL": "http://127.0.0.1:1"}, "cannot reach"),
        (("migrate",), {"BK_CLICKHOUSE_URL": "http://127.0.0.1:1"}, "Connection refused"),
        (("alerts", "list"), {"BK_CLICKHOUSE_URL": "ftp://h:1"}, "is not a ClickHouse URL"),
        (("migrate",), {"BK_CLICKHOUSE_URL": "http://u:pw-secret@h:99999"}, "Port out of range"),
        (("query", "SELECT 1"), {"BK_PARTITIONS": "many"}, "BK_PARTITIONS"),
    ],
)
def test_bad_store_settings_give_one_line_and_no_traceback(tmp_path, args, env, expect):
    done = cli(tmp_path, *args, env=env)
    assert done.returncode in (1, 2)
    line = one_line_error(done)
    assert expect in line, line
    assert "pw-secret" not in line


def test_an_unexpected_failure_is_one_line_and_debug_shows_its_traceback(tmp_path):
    env = {
        "BK_CLICKHOUSE_URL": "http://127.0.0.1:1",
        "BK_CLICKHOUSE_PASSWORD_FILE": str(tmp_path / "missing-password"),
    }
    done = cli(tmp_path, "migrate", env=env)
    assert done.returncode == 1
    line = one_line_error(done)
    assert "missing-password" in line and "--debug" in line, line
    done = cli(tmp_path, "--debug", "migrate", env=env)
    assert done.returncode == 1
    assert "Traceback" in done.stderr.decode()


def test_an_unreachable_broker_is_one_line_before_anything_is_published(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"topic": "bk.registry.v1", "key": "c", "value": {"v": 1}}) + "\n")
    done = cli(tmp_path, "replay", "-i", str(feed), env={"BK_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err and "cannot reach the broker at 127.0.0.1:1" in err
    assert "%3|" not in err  # librdkafka's own log lines are not shown


def test_a_50mb_replay_line_exits_2_with_its_number_before_publishing(tmp_path):
    feed = tmp_path / "feed.jsonl"
    good = json.dumps({"topic": "bk.registry.v1", "key": "c", "value": {"v": 1}})
    with feed.open("w") as f:
        f.write(good + "\n" + good + "\n")
        f.write('{"topic": "bk.detections.v1", "key": "c", "value": {"pad": "')
        f.write("x" * 50_000_000)
        f.write('"}}\n' + good + "\n")
    done = cli(tmp_path, "replay", "-i", str(feed))
    assert done.returncode == 2
    line = one_line_error(done)
    assert f"{feed}:3:" in line and "message-size limit" in line
    assert not (tmp_path / "bk-data").exists()  # no broker, no store: nothing published


def test_a_replay_with_hostile_records_dead_letters_each_once_and_goes_on(tmp_path):
    from tests.e2e.test_replay_cli import frame, registry, write

    bad_registry = registry("cam-x")
    bad_registry["value"]["camera_id"] = "cam\x00x"
    bad_frame = frame("cam-0", 30, ["rodent"])
    bad_frame["value"]["camera_id"] = "cam-0\x1b[2J"
    long_key = frame("cam-0", 31, [])
    long_key["key"] = "k" * 10_000
    long_key["value"]["worker_id"] = ""
    lines = [registry("cam-0")]
    lines += [frame("cam-0", t, ["rodent"] if 200 <= t < 210 else []) for t in range(300)]
    extra = [json.dumps(x).encode() for x in (bad_registry, bad_frame, long_key)]
    feed = write(tmp_path / "feed.jsonl", lines, extra=extra)
    run = tmp_path / "run"
    run.mkdir()
    done = cli(run, "replay", "-i", str(feed), timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    rows = cli(
        run,
        "query",
        "SELECT app, source_topic, reason, key, length(key) AS n FROM bk.dead_letters "
        "ORDER BY source_topic, n",
    )
    assert rows.returncode == 0, rows.stderr.decode()
    letters = [json.loads(line) for line in rows.stdout.splitlines()]
    assert [(x["app"], x["source_topic"]) for x in letters] == [
        ("cameras", "bk.detections.v1"),
        ("cameras", "bk.detections.v1"),
        ("cameras", "bk.registry.v1"),
    ]
    assert sum("breaks the id rule" in x["reason"] for x in letters) == 2
    assert sum("(the id rule:" in x["reason"] for x in letters) == 1  # the empty worker_id
    assert max(x["n"] for x in letters) < 300  # the 10,000-character key was cut
    # the stream went on: the rodent episode after the bad records (line ~150) was found
    found = cli(run, "query", "SELECT cls FROM bk.violations FINAL")
    assert [json.loads(line)["cls"] for line in found.stdout.splitlines()] == ["rodent"]


def test_a_disposition_to_an_unreachable_broker_is_one_line(tmp_path):
    done = cli(
        tmp_path,
        "alerts",
        "dispose",
        "a-1",
        "--action",
        "verified",
        "--actor",
        "li",
        env={"BK_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
        timeout=60,
    )
    assert done.returncode == 1
    # nothing listens there: said at once, not after the 15 s delivery timeout
    assert "cannot reach the broker at 127.0.0.1:1" in one_line_error(done)


def test_a_disposition_with_a_control_character_in_its_id_is_refused_naming_the_rule(tmp_path):
    done = cli(
        tmp_path,
        "alerts",
        "dispose",
        "a\x1b[2J",
        "--action",
        "verified",
        "--actor",
        "li",
        env={"BK_KAFKA_BOOTSTRAP": "127.0.0.1:1"},
    )
    assert done.returncode == 2
    assert "breaks the id rule" in one_line_error(done)
