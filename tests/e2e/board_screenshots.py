"""Screenshots of every board preview (headless chromium), for docs/boards/.

Usage: python -m tests.e2e.board_screenshots docs/boards
Builds the same store as tests/e2e/test_grafana_queries.py (6 simulated cameras,
15 minutes, one outage, ops records), renders each board and screenshots it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import clickhouse_connect

from brightkitchen.boards import render_board
from stream_apps.sink.store_writer import StoreWriter
from tests.e2e.test_grafana_queries import OFFLINE_CAMERA, _cli, _ops_records, _with_outage

BOARDS = ("city", "cameras", "operators", "sla", "pipeline")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
)


def main(out_dir: Path) -> list[Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bk-shots-"))
    _cli("simulate", "--cameras", "6", "--minutes", "15", "--seed", "7",
         "--out", str(work / "feed.jsonl"), cwd=work)  # fmt: skip
    _with_outage(work / "feed.jsonl", OFFLINE_CAMERA, 300, 540)
    _cli("replay", "--input", str(work / "feed.jsonl"), cwd=work)
    client = clickhouse_connect.get_client(dsn=f"chdb://{work / 'store'}")
    writer = StoreWriter(client)
    alerts, breaches, rates = _ops_records(client)
    writer.write("bk.alerts.v1", alerts)
    writer.write("bk.sla-breaches.v1", breaches)
    writer.write("bk.operator-rates.v1", rates)
    shots = []
    for name in BOARDS:
        page = render_board(client, name, work / f"{name}.html")
        shot = out_dir / f"{name}.png"
        subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={work / 'profile'}",
             "--window-size=1240,1800", f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        shots.append(shot)
    client.close()
    return shots


if __name__ == "__main__":
    for path in main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/boards")):
        print(path)
