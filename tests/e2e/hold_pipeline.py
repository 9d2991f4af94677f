"""Replay a feed, print READY, and keep the pipeline (and its /metrics) up until stdin closes.

Run as a subprocess (`start`) by test_paging.py (Prometheus scrapes the live ops
worker) and test_runtime_signals.py (which stops it with SIGTERM). After READY
it prints the pids of the broker and the workers it started.
Usage: python hold_pipeline.py FEED.jsonl
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start(feed: Path, workdir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run this script on ``feed`` in ``workdir`` (no BK_* variables but ``env``); return
    it once it has printed READY, its stdin and stdout still open."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    log = workdir / "driver.log"
    driver = subprocess.Popen(
        [sys.executable, __file__, str(feed)],
        cwd=workdir,
        env={**clean, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    if driver.stdout.readline().strip() != "READY":
        driver.kill()
        driver.wait()
        raise AssertionError(f"hold_pipeline did not get ready:\n{log.read_text()}")
    return driver


if __name__ == "__main__":
    from brightkitchen.replay import replay
    from brightkitchen.runtime import PipelineRuntime
    from brightkitchen.settings import load

    with PipelineRuntime(load()) as rt:
        replay(Path(sys.argv[1]), rt)
        print("READY", flush=True)
        pids = [w.pid for w in rt.workers.values()]
        if rt.broker is not None:
            pids.append(rt.broker.process.pid)
        print("PIDS", *pids, flush=True)
        sys.stdin.read()  # the test closes stdin when it is done
