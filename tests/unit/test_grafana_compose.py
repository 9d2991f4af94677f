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
    assert {"stream-cameras", "stream-ops", "sink", "worker", "topics"} <= set(s)
    for name, service in s.items():
        if service.get("restart") != "no":  # one-shot jobs have none
            assert "healthcheck" in service, name
    assert s["stream-cameras"]["command"] == ["brightkitchen", "stream", "--app", "cameras"]
    assert s["stream-ops"]["command"] == ["brightkitchen", "stream", "--app", "ops"]
    assert "replicas" not in s["stream-ops"].get("deploy", {})
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
    env = {
        "BK_DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.example/robot/send?access_token=x",
        "BK_WECOM_WEBHOOK_URL": "https://qyapi.weixin.example/cgi-bin/webhook/send?key=y",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q", "--no-interpolate"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, done.stderr


CHECK_JSONSCHEMA = shutil.which("check-jsonschema")


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema is not installed")
def test_compose_file_is_valid_against_the_compose_spec():
    done = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_app_command_parses_with_our_cli():
    import click
    import typer

    from brightkitchen.cli import app

    group = typer.main.get_command(app)
    commands = [
        svc["command"]
        for svc in services().values()
        if svc.get("command", [""])[0] == "brightkitchen"
    ]
    assert len(commands) >= 6
    for argv in commands:
        cmd, rest = group, list(argv[1:])
        while isinstance(cmd, click.Group):  # topics create, grafana push
            assert rest and rest[0] in cmd.commands, argv
            cmd, rest = cmd.commands[rest[0]], rest[1:]
        cmd.make_context(argv[0], rest)  # raises on an unknown or missing option


def test_every_mounted_file_exists_and_data_lives_in_volumes():
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("${"):  # a site file (cameras, model), documented
                continue
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {volume}"
            else:
                assert source in compose["volumes"], f"{name}: {volume}"
    kafka = compose["services"]["kafka"]
    data = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert any(v.endswith(":" + data) for v in kafka["volumes"])
    env = compose["services"]["clickhouse"]["environment"]
    assert env["CLICKHOUSE_USER"] != "bk_writer"  # the apps' user manages no access
    health = " ".join(compose["services"]["clickhouse"]["healthcheck"]["test"])
    assert "/ping" in health
