"""A short soak in CI: a steady feed for 20 s keeps up and memory stays flat.

The long soak is a benchmark (`python -m bench.soak --minutes 30 --record`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_a_steady_feed_keeps_up_with_flat_memory(tmp_path):
    report_file = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    env["BK_STORE_PATH"] = str(tmp_path / "store")
    args = ["--minutes", "0.34", "--cameras", "40", "--speed", "4", "--sample-s", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", *args, "--json", str(report_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    # 40 cameras x 4 = 160 frames/s plus heartbeats: a backlog of 10 s would be
    # ~1,700 records; the pipeline must stay well inside that.
    assert report["max_lag_records"] < 1700
    assert report["records"] > 2500
    for name in ("cameras", "ops"):
        rss = report["rss_mb"][name]
        assert rss["end"] < 400, (name, rss)
        assert rss["slope_mb_per_min"] < 20, (name, rss)
