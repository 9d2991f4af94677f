"""Two replays of the quality bench's feed give identical rows in every bk.* table
(DESIGN principle 2: the answer is a function of the input)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from inference_workers.simulator import FleetConfig, write_replay
from tests.e2e.test_replay_cli import query, replay

pytestmark = pytest.mark.e2e

# Filled by the store or the wall clock at write time, not by the input.
WALL_CLOCK_COLUMNS = {"inserted_at", "ingested_at", "updated_at"}
WALL_CLOCK_BY_TABLE = {"dead_letters": {"ts"}}


def table_hashes(workdir) -> dict[str, tuple[int, str]]:
    """Rows and an order-free hash of every bk.* MergeTree table (latest version per
    id: FINAL), in two queries: one `brightkitchen query` costs a process start."""
    columns: dict[str, list[str]] = {}
    for r in query(
        workdir,
        "SELECT c.table AS t, c.name AS name, c.type AS type FROM system.columns AS c "
        "JOIN system.tables AS s ON s.database = c.database AND s.name = c.table "
        "WHERE c.database = 'bk' AND s.engine LIKE '%MergeTree%' "
        # schema_migrations records when each migration ran: wall time, not output.
        "AND c.table != 'schema_migrations' ORDER BY c.table, c.position",
    ):
        if r["name"] not in WALL_CLOCK_COLUMNS | WALL_CLOCK_BY_TABLE.get(r["t"], set()):
            value = f"`{r['name']}`"
            if r["type"].startswith("AggregateFunction("):
                # A state's bytes depend on how inserts were batched (the order of a
                # quantile's sample); its value does not (bk.detections_minute).
                value = f"finalizeAggregation({value})"
            columns.setdefault(r["t"], []).append(value)
    assert {"violations", "camera_events", "alerts", "sla_breaches", "operator_rates"} <= set(
        columns
    )
    parts = [
        f"SELECT '{t}' AS t, count() AS n, toString(sum(cityHash64("
        + ", ".join(f"toString({c})" for c in cols)
        + f"))) AS h FROM bk.`{t}` FINAL"
        for t, cols in sorted(columns.items())
    ]
    rows = query(workdir, " UNION ALL ".join(parts))
    return {r["t"]: (int(r["n"]), r["h"]) for r in rows}


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
