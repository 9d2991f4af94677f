"""Two replays of the quality bench's feed give identical rows in every bk.* table
(DESIGN principle 2: the answer is a function of the input)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference_workers.simulator import FleetConfig, write_replay
from tests.e2e.test_replay_cli import query, replay

pytestmark = pytest.mark.e2e

# Filled by the store or the wall clock at write time, not by the input.
WALL_CLOCK_COLUMNS = {"inserted_at", "ingested_at", "updated_at"}
WALL_CLOCK_BY_TABLE = {"dead_letters": {"ts"}}


def table_hashes(workdir) -> dict[str, tuple[int, str]]:
    tables = [
        r["name"]
        for r in query(
            workdir,
            "SELECT name FROM system.tables WHERE database = 'bk' "
            # schema_migrations records when each migration ran: wall time, not output.
            "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations' ORDER BY name",
        )
    ]
    assert {"violations", "camera_events", "alerts", "sla_breaches", "operator_rates"} <= set(
        tables
    )
    out = {}
    for table in tables:
        skip = WALL_CLOCK_COLUMNS | WALL_CLOCK_BY_TABLE.get(table, set())
        cols = [
            r["name"]
            for r in query(
                workdir,
                f"SELECT name FROM system.columns WHERE database = 'bk' AND table = '{table}' "
                "ORDER BY position",
            )
            if r["name"] not in skip
        ]
        listed = ", ".join(f"`{c}`" for c in cols)
        rows = query(workdir, f"SELECT {listed} FROM bk.`{table}` FINAL ORDER BY {listed}")
        digest = hashlib.sha256()
        for row in rows:
            digest.update(repr(sorted(row.items())).encode())
        out[table] = (len(rows), digest.hexdigest())
    return out


def test_two_replays_of_the_quality_feed_store_identical_rows(tmp_path):
    # The bench's reference scenario (bench/quality.py: default profile, seed 7),
    # scaled to 6 cameras x 30 min so CI on two cores can run it twice. (A small
    # feed is the harder case: few cameras per partition, so the camera app's
    # first batches span minutes of event time and the first clock values differ.)
    config = FleetConfig.for_profile("default", cameras=6, duration_s=1800, seed=7)
    feed = tmp_path / "quality.jsonl"
    write_replay(config, feed)
    # The two replays run at once (each its own broker and store): competing for
    # the CPU, their topics interleave differently than in one replay alone.
    names = ("first", "second")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: replay(tmp_path / name, feed), names))
    runs = [table_hashes(tmp_path / name) for name in names]
    assert runs[0]["violations"][0] > 0 and runs[0]["operator_rates"][0] > 0
    assert runs[0] == runs[1]
