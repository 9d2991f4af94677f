"""One ops worker in a subprocess on the embedded broker, for the HTTP endpoint tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from brightkitchen.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_ops_worker(
    bootstrap: str, app_id: str, log: Path, ready: Callable[[int], bool], **settings: str
) -> Iterator[int]:
    """Start ``python -m stream_apps ops`` (clean BK_* environment plus ``settings``),
    wait until ``ready(port)``, yield the ops web port, stop it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    env.update(
        BK_KAFKA_BOOTSTRAP=bootstrap,
        BK_APP_ID=app_id,
        BK_PARTITIONS="2",
        BK_OPS_WEB_PORT=str(port),
        BK_WEB_PORT=str(free_port()),
        BK_WEB_BIND="127.0.0.1",
        **settings,
    )
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "stream_apps", "ops", "worker", "-l", "warn"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 90
        while not ready(port):
            assert worker.poll() is None, f"ops worker exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"no web server in 90 s: {log.read_text()[-2000:]}"
            time.sleep(0.2)
        yield port
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
