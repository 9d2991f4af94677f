"""Prometheus rules, their promtool unit tests, Alertmanager config, Pipeline board PromQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "infra" / "prometheus"
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)


@needs_promtool
def test_rule_files_are_valid():
    done = run(PROMTOOL, "check", "rules", *map(str, sorted((PROM / "rules").glob("*.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_rule_unit_tests_pass():
    tests = sorted((PROM / "tests").glob("*.yaml"))
    assert tests
    done = run(PROMTOOL, "test", "rules", *map(str, tests), cwd=PROM / "tests")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_prometheus_config_is_valid(tmp_path):
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["rule_files"] = [str(p) for p in sorted((PROM / "rules").glob("*.yml"))]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = run(PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    assert {"bk-stream", "bk-sink", "bk-worker"} <= jobs


@needs_promtool
def test_pipeline_board_queries_are_valid_promql(tmp_path):
    board = json.loads((ROOT / "grafana/dashboards/bk-pipeline.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    rules = [
        {"record": f"bk:board_query_{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "board.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "board", "rules": rules}]}))
    done = run(PROMTOOL, "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")
def test_alertmanager_config_is_valid():
    done = run(AMTOOL, "check-config", str(ROOT / "infra/alertmanager/alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_station_outage_inhibits_its_violation_surge():
    config = yaml.safe_load((ROOT / "infra/alertmanager/alertmanager.yml").read_text())
    assert {
        "source_matchers": ['alertname="BkStationCameraOutage"'],
        "target_matchers": ['alertname="BkViolationSurge"'],
        "equal": ["district", "station"],
    } in config["inhibit_rules"]
