"""A camera worker killed with SIGKILL mid-stream loses nothing and raises nothing
twice: the stored violations, camera events and alerts equal those of an
undisturbed run — whether the worker is restarted, or a second worker in the
group takes its partitions over (a rebalance); killed together with the ops
worker, SLA breaches and operator rates are equal too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference_workers.simulator import FleetConfig, write_replay

pytestmark = pytest.mark.e2e
DRIVER = Path(__file__).with_name("fault_run.py")


def drive(feed: Path, mode: str, fraction: float, workdir: Path) -> tuple[dict, str]:
    """(what was stored, the driver's stderr)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    env["BK_CHECKPOINT_INTERVAL_S"] = "1"  # a kill lands between checkpoints and commits
    env["BK_SLA__VERIFY_WITHIN_S"] = "900"  # breaches within the hour of the feed
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(feed), mode, str(fraction)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done.stderr


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "feed.jsonl"
    write_replay(FleetConfig.for_profile("health_stress", cameras=8, duration_s=3600, seed=5), path)
    return path


@pytest.fixture(scope="module")
def undisturbed(feed, tmp_path_factory) -> dict:
    return drive(feed, "restart", 2.0, tmp_path_factory.mktemp("calm"))[0]


def camera_outputs(stored: dict) -> dict:
    return {k: stored[k] for k in ("violations", "camera_events", "alerts")}


def test_the_undisturbed_run_has_events_and_alerts_to_lose(undisturbed):
    assert len(undisturbed["violations"]) >= 5
    assert len(undisturbed["camera_events"]) >= 3
    assert len(undisturbed["alerts"]) >= 3


def test_killing_one_of_two_workers_mid_stream_gives_the_undisturbed_result(
    feed, undisturbed, tmp_path
):
    stored, log = drive(feed, "rebalance", 0.4, tmp_path)
    assert "killed a camera worker (rebalance)" in log
    assert camera_outputs(stored) == camera_outputs(undisturbed)


def test_killing_the_ops_and_a_camera_worker_together_gives_the_undisturbed_result(
    feed, undisturbed, tmp_path
):
    assert undisturbed["sla_breaches"] and undisturbed["operator_rates"]
    # Also the plain kill -9 and restart of a camera worker (fault_run.py mode
    # "restart"), with the ops worker killed at the same moment on top.
    stored, log = drive(feed, "both", 0.5, tmp_path)
    assert "killed a camera worker (both)" in log
    assert stored == undisturbed
