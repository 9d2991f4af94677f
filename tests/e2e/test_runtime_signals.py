"""SIGTERM to a process running a pipeline stops its broker and workers too.

Without a handler, SIGTERM ends Python without unwinding `with PipelineRuntime`,
and the embedded broker and the Faust workers live on as orphans (found when a
test's terminate() left them polling for an hour).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.e2e import hold_pipeline
from tests.e2e.test_replay_cli import frame, registry

pytestmark = pytest.mark.e2e


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_sigterm_stops_the_broker_and_the_workers(tmp_path):
    feed = tmp_path / "feed.jsonl"
    lines = [registry("cam-0")] + [frame("cam-0", t, []) for t in range(30)]
    feed.write_text("".join(json.dumps(line) + "\n" for line in lines))
    driver = hold_pipeline.start(feed, tmp_path, {"BK_STORE_PATH": str(tmp_path / "store")})
    try:
        tag, *pids = driver.stdout.readline().split()
        assert tag == "PIDS" and len(pids) == 3  # cameras worker, ops worker, broker
        assert all(alive(int(p)) for p in pids)
        driver.send_signal(signal.SIGTERM)
        assert driver.wait(timeout=90) == 128 + signal.SIGTERM
        assert [p for p in pids if alive(int(p))] == []
    finally:
        if driver.poll() is None:
            driver.kill()
