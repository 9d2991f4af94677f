"""An open SLA breach pages on-call: exporter -> Prometheus -> Alertmanager -> webhook.

Real Debian binaries on loopback, configs rendered from infra/ into a tmp
folder (only addresses, intervals and group_wait shortened); skipped when
prometheus or alertmanager is not installed. Waits are bounded polls, never
fixed sleeps.
"""

from __future__ import annotations

import json
import queue
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge, start_http_server

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None, reason="prometheus/alertmanager missing"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """A tiny on-call receiver: every POSTed JSON body lands in `received`."""

    def __init__(self) -> None:
        self.received: queue.Queue[dict] = queue.Queue()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alertmanager"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until_ready(port: int, path: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[0]} exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # poll interval, not synchronisation
    raise TimeoutError(f"{proc.args[0]} not ready on port {port}")


def render_alertmanager(webhook_url: str) -> dict:
    config = yaml.safe_load((ROOT / "infra/alertmanager/alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    for route in [config["route"], *config["route"].get("routes", [])]:
        route["group_wait"] = "1s"
    return config


def render_prometheus(exporter_port: int, am_port: int, rules: Path) -> dict:
    alerts = yaml.safe_load((ROOT / "infra/prometheus/rules/alerts.yml").read_text())
    sla = [g for g in alerts["groups"] if g["name"] == "bk-sla"]
    rules.write_text(yaml.safe_dump({"groups": sla}, allow_unicode=True), encoding="utf-8")
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "bk-stream",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def start_paging(tmp_path: Path, processes: list, scrape_port: int) -> Webhook:
    """Alertmanager and Prometheus on loopback, scraping ``scrape_port``; the webhook they page."""
    webhook = Webhook()
    am_port, prom_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(yaml.safe_dump(render_alertmanager(webhook.url)))
    prom = render_prometheus(scrape_port, am_port, tmp_path / "rules.yml")
    (tmp_path / "prom.yml").write_text(yaml.safe_dump(prom))
    log = (tmp_path / "processes.log").open("w")
    processes.append(
        subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={tmp_path / 'am.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    wait_until_ready(am_port, "/-/ready", processes[-1])
    processes.append(
        subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prom.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    wait_until_ready(prom_port, "/-/ready", processes[-1])
    return webhook


def firing_alerts(webhook: Webhook, tmp_path: Path, timeout: float = 60) -> tuple[dict, list]:
    """The first webhook message with firing alerts, and those alerts."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, (tmp_path / "processes.log").read_text()[-3000:]
        try:
            message = webhook.received.get(timeout=remaining)
        except queue.Empty:
            continue
        firing = [a for a in message["alerts"] if a["status"] == "firing"]
        if firing:
            return message, firing


def test_an_open_sla_breach_reaches_the_oncall_webhook(tmp_path, processes):
    registry = CollectorRegistry()
    breaches = Gauge(
        "bk_sla_breaches_open",
        "Breaches of unresolved alerts",
        ["kind", "district"],
        registry=registry,
    )
    breaches.labels(kind="verify_overdue", district="武侯区").set(2)
    exporter_port = free_port()
    exporter, _ = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    webhook = start_paging(tmp_path, processes, exporter_port)
    try:
        message, firing = firing_alerts(webhook, tmp_path)
        alert = firing[0]
        assert alert["labels"]["alertname"] == "BkSlaBreachOpen"
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["kind"] == "verify_overdue"
        assert alert["labels"]["district"] == "武侯区"
        assert "2 unresolved verify_overdue" in alert["annotations"]["summary"]
        assert message["receiver"] == "oncall"
    finally:
        webhook.close()
        exporter.shutdown()
        exporter.server_close()


# The real ops worker paging after a replay (and across its restart, in the
# production roles) is tests/e2e/test_topology.py.
