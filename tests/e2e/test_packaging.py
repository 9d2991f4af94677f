"""A non-editable install works from any directory, with no source checkout in reach.

The wheel is built from this tree and installed into a fresh virtual
environment (its dependencies come from the system site-packages, which is
what `pip install .` resolves to anyway); every command then runs from an empty
directory, so package data (migrations, schemas, Grafana boards) must travel
inside the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel of this tree (not an editable install)."""
    base = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(base / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = (base / "dist").glob("brightkitchen-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "--force-reinstall",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0 and "no such option: --python" in install.stderr:
        pytest.skip("pip too old for --python")
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir / "bin"


def run(bin_dir: Path, cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BK_", "PYTHONPATH"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / "brightkitchen"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_the_installed_package_is_the_wheel_not_the_source_tree(installed, tmp_path):
    done = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import brightkitchen, clickhouse, stream_apps; print(brightkitchen.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    assert str(installed.parent) in done.stdout and str(ROOT) not in done.stdout


def test_replay_and_query_work_from_an_empty_directory(installed, tmp_path):
    feed = tmp_path / "feed.jsonl"
    made = run(
        installed, tmp_path, "simulate", "--cameras", "3", "--minutes", "10", "--out", str(feed)
    )
    assert made.returncode == 0, made.stderr[-3000:]
    replayed = run(installed, tmp_path, "replay", "--input", str(feed))
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    asked = run(
        installed, tmp_path, "query", "SELECT uniqExact(camera_id) AS cams FROM bk.detections"
    )
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert json.loads(asked.stdout.splitlines()[0]) == {"cams": 3}


def test_the_installed_package_renders_a_board_and_ships_the_grafana_files(installed, tmp_path):
    """`board` works from an empty directory: the boards and provisioning files are
    package data, all of them, found inside the installed package."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run(installed, empty, "board", "city", "--out", "city.html")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "<title>BrightKitchen / City overview" in (empty / "city.html").read_text("utf-8")
    code = (
        "import brightkitchen.grafana_push as g; print(g.GRAFANA_DIR); "
        "print(len(list(g.GRAFANA_DIR.glob('dashboards/*.json'))), "
        "len(list(g.GRAFANA_DIR.glob('provisioning/*/*.yaml'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BK_", "PYTHONPATH"))}
    where = subprocess.run(
        [str(installed / "python"), "-c", code],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(installed.parent) in where[0], where
    assert int(where[1]) == len(list((ROOT / "grafana/dashboards").glob("*.json")))
    assert int(where[2]) == len(list((ROOT / "grafana/provisioning").glob("*/*.yaml")))
