"""A non-editable `pip install .` ships the Grafana files: `board` works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_installed_package_renders_a_board_from_an_empty_directory(tmp_path):
    venv = tmp_path / "venv"
    # --system-site-packages: the dependencies are already here; only our package is new.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("BK_")}
    pip = subprocess.run(
        [venv / "bin/pip", "install", "-q", "--no-deps", str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env["BK_STORE_PATH"] = str(empty / "store")
    done = subprocess.run(
        [venv / "bin/brightkitchen", "board", "city", "--out", "city.html"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "<title>BrightKitchen / City overview" in (empty / "city.html").read_text("utf-8")
    where = subprocess.run(
        [
            venv / "bin/python",
            "-c",
            "import brightkitchen.grafana_push as g; print(g.GRAFANA_DIR); "
            "print(len(list(g.GRAFANA_DIR.glob('dashboards/*.json'))), "
            "len(list(g.GRAFANA_DIR.glob('provisioning/*/*.yaml'))))",
        ],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(venv) in where[0], where
    assert int(where[1]) == len(list((ROOT / "grafana/dashboards").glob("*.json")))
    assert int(where[2]) == len(list((ROOT / "grafana/provisioning").glob("*/*.yaml")))
