"""`inspections plan`, `report key-monitoring` and `inspections record` on a real store."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brightkitchen import inspections_scenario as sc
from stream_apps.engines.camera_health.events import camera_event_id

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspections-cli")
    store = root / "store"
    e = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    e |= {"PYTHONPATH": str(ROOT), "BK_STORE_PATH": str(store)}
    done = subprocess.run(
        [sys.executable, "-m", "brightkitchen.inspections_scenario", str(store)],
        env=e,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return e, root


def test_the_plan_lists_the_station_riskiest_first(env):
    e, root = env
    out = run(["inspections", "plan", "--station", "友谊路所"], e, root)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert (
        lines[0]
        == "友谊路所 — 2026-12: 0 of 2 operators inspected this month (full round, 河西 §13)"
    )
    assert "op-b" in lines[2] and "OVERDUE 0.6d" in lines[2] and " D " in lines[2]
    assert "op-a" in lines[3] and "2027-02-05 16:00" in lines[3]


def test_the_weekly_key_monitoring_list_as_csv_and_printable_html(env):
    e, root = env
    html = root / "km.html"
    out = run(["report", "key-monitoring", "--week", "2026-W45", "--html", str(html)], e, root)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [
        (r["station"], r["operator_id"], r["since"], r["until"], r["events"]) for r in rows
    ] == [("友谊路所", "op-b", "2026-11-05 12:00", "2026-11-19 12:00", "3")]
    page = html.read_text(encoding="utf-8")
    # The evidence: the camera app's ids of the three cuts (camera, kind, start).
    cuts = [
        camera_event_id("cam-b1", "offline", sc.t(d, h)) for d, h in ((1, 10), (2, 11), (3, 12))
    ]
    assert "重点监控名单" in page and "小李快餐" in page and all(c in page for c in cuts)
    # The week after the operator left is empty.
    later = run(["report", "key-monitoring", "--week", "2026-W48"], e, root)
    assert later.returncode == 0 and len(later.stdout.strip().splitlines()) == 1


def test_a_bad_inspection_is_refused_with_the_field_named(env):
    e, root = env
    out = run(
        ["inspections", "record", "--operator", "op-a", "--inspector", "甲", "--kind", "drive_by"],
        e,
        root,
    )
    assert out.returncode == 2
    assert "kind" in (out.stdout + out.stderr)


def test_a_bad_week_is_refused(env):
    e, root = env
    out = run(["report", "key-monitoring", "--week", "46"], e, root)
    assert out.returncode == 2 and "ISO week" in (out.stdout + out.stderr)
