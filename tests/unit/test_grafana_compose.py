"""infra/compose.yaml runs every part for a city, with health checks and provisioning mounted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "compose.yaml"


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_part_of_the_pipeline_is_a_service_with_a_healthcheck():
    s = services()
    assert {"kafka", "clickhouse", "grafana", "prometheus", "alertmanager"} <= set(s)
    assert {"stream", "sink", "worker"} <= set(s)
    for name, service in s.items():
        if name != "migrate":
            assert "healthcheck" in service, name
    assert s["stream"]["command"] == ["brightkitchen", "stream"]
    assert s["sink"]["command"] == ["brightkitchen", "sink"]
    assert s["worker"]["command"][:3] == ["brightkitchen", "worker", "--cameras"]


def test_grafana_mounts_the_committed_provisioning_and_dashboards():
    volumes = services()["grafana"]["volumes"]
    for rel in ("../grafana/provisioning", "../grafana/dashboards"):
        assert any(v.startswith(rel + ":") for v in volumes)
        assert (COMPOSE.parent / rel).resolve().is_dir()
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/brightkitchen.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert any(v.split(":")[1] == path for v in volumes)


def test_mounted_config_files_exist():
    for name in ("prometheus", "alertmanager"):
        for volume in services()[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (COMPOSE.parent / source).exists(), volume


def _compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    return done.returncode == 0


@pytest.mark.skipif(not _compose_works(), reason="docker compose is not available")
def test_docker_compose_accepts_the_file():
    env = {"BK_ONCALL_WEBHOOK_URL": "http://oncall.example/hook", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q", "--no-interpolate"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, done.stderr
