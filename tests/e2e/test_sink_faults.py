"""The sink under faults: a sink that dies mid-batch and a store that is down.

(a) A sink discarded after consuming rows it never inserted or committed is
replaced by a new one in the same group: it re-reads from the last commit and
the store (ReplacingMergeTree read with FINAL) equals an undisturbed run.
(b) The store's insert fails for a while (fault injected at the write
boundary): the sink retries with backoff, stops consuming (its buffer stays
bounded), commits nothing during the outage, and catches up with nothing lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent


def run(mode: str, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    done = subprocess.run(
        [sys.executable, str(HERE / "sink_fault_run.py"), mode],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_an_undisturbed_sink_stores_the_latest_state_of_every_violation(tmp_path):
    facts = run("calm", tmp_path)
    assert facts["stored"] == facts["expected"]
    assert {s for _, s, _ in facts["stored"]} == {"open", "closed"}


def test_a_sink_killed_mid_batch_is_replaced_without_loss_or_duplicates(tmp_path):
    facts = run("kill", tmp_path)
    assert facts["lost_from_buffer"] > 0  # the crash really dropped uninserted rows
    assert facts["committed_before_crash"] > 0
    assert facts["stored"] == facts["expected"]


def test_a_store_outage_stalls_the_sink_and_it_catches_up_with_nothing_lost(tmp_path):
    facts = run("outage", tmp_path)
    assert facts["injected_failures"] >= 2  # retried with backoff, not given up
    assert not facts["commits_moved_during_outage"]
    # Backpressure: it does not read the records produced during the outage ahead.
    assert facts["max_buffered_during_outage"] <= facts["batch_rows"] + 10_000
    assert facts["max_buffered_during_outage"] < facts["produced_during_outage"]
    assert facts["stored"] == facts["expected"]


def test_a_poison_batch_is_isolated_and_tables_do_not_block_each_other(tmp_path):
    """150 frames a day apart are stored (inserts split to <= 100 partitions); a row the
    store refuses is quarantined with the reason; a table whose store is down does not
    stop the others, and catches up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    done = subprocess.run(
        [sys.executable, str(HERE / "sink_poison_run.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout)
    assert facts["detections"] == [["cam-normal", 600, 1], ["cam-poison", 150, 150]]
    assert facts["violations_stored_while_down"] == 0 and facts["violation_failures"] >= 1
    assert facts["violations"] == 200
    assert facts["dead_letters"] == 50
    [(topic, table, reason, value)] = facts["quarantine"]
    assert (topic, table) == ("bk.dlq.v1", "bk.dead_letters")
    assert str(2**40) in value  # the offending record, as it came
    assert reason  # the converter's own words, e.g. "ArrowInvalid: Value ... too large"
