"""Two camera workers share the partitions; one dies with SIGKILL mid-stream. The
survivor takes its partitions over (a rebalance) and the stored violations,
camera events and alerts equal those of an undisturbed two-worker run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference_workers.simulator import FleetConfig, write_replay

pytestmark = pytest.mark.e2e
HERE = Path(__file__).parent


def run(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    env["BK_CHECKPOINT_INTERVAL_S"] = "1"  # a kill lands between checkpoints and commits
    done = subprocess.run(
        [sys.executable, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "feed.jsonl"
    write_replay(FleetConfig.for_profile("health_stress", cameras=8, duration_s=3600, seed=5), path)
    return path


@pytest.fixture(scope="module")
def undisturbed(feed, tmp_path_factory) -> dict:
    done = run([str(HERE / "rebalance_run.py"), str(feed), "2.0"], tmp_path_factory.mktemp("calm"))
    return json.loads(done.stdout)


def test_the_undisturbed_run_has_events_and_alerts_to_lose(undisturbed):
    assert len(undisturbed["violations"]) >= 5
    assert len(undisturbed["camera_events"]) >= 3
    assert len(undisturbed["alerts"]) >= 3


def test_killing_one_of_two_workers_mid_stream_gives_the_undisturbed_result(
    feed, undisturbed, tmp_path
):
    done = run([str(HERE / "rebalance_run.py"), str(feed), "0.4"], tmp_path)
    assert "killed the second worker" in done.stderr
    result = json.loads(done.stdout)
    assert result["violations"] == undisturbed["violations"]
    assert result["camera_events"] == undisturbed["camera_events"]
    assert result["alerts"] == undisturbed["alerts"]
