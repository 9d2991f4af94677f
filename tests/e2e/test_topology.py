"""The production topology on loopback: the roles infra/compose.yaml declares, for real.

Two camera workers, the ops app and the sink (in this process, serving
/metrics like `brightkitchen sink`), against the embedded broker and store;
Prometheus with the committed prometheus.yml and rules (only the targets moved
to loopback, intervals shortened) and Alertmanager with the committed routing
(group timings shortened) paging a webhook. The SLA scenario's unverified
alert must page on-call exactly once, also across a kill and restart of the
ops worker; and every metric the rules and the Pipeline board read must be
served by these processes (or, for bk_worker_*, by the inference worker's
registry).
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_paging import (
    ALERTMANAGER,
    PROMETHEUS,
    Webhook,
    free_port,
    render_alertmanager,
    wait_until_ready,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        PROMETHEUS is None or ALERTMANAGER is None, reason="prometheus/alertmanager missing"
    ),
]
GROUP_INTERVAL_S = 2
"""Alertmanager's group_interval here: a second notification (a duplicate page)
would come this soon after the first."""


def metric_names_read() -> set[str]:
    """Every bk_* metric (not bk:* recordings) the rules and the Pipeline board read."""
    exprs = []
    for path in sorted((ROOT / "infra/prometheus/rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs += [r["expr"] for r in group["rules"]]
    board = json.loads((ROOT / "grafana/dashboards/bk-pipeline.json").read_text())
    exprs += [t["expr"] for p in board["panels"] for t in p.get("targets", []) if "expr" in t]
    names = set()
    for e in exprs:
        names |= set(re.findall(r"\bbk_[a-z0-9_]+", e))
    return names


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def served(port: int) -> set[str]:
    return sample_names(metrics_text(port))


def open_breach_kinds(port: int) -> set[str]:
    """Breach kinds a role's own /metrics reports open (bk_sla_breaches_open > 0)."""
    return {
        s.labels["kind"]
        for f in text_string_to_metric_families(metrics_text(port))
        for s in f.samples
        if s.name == "bk_sla_breaches_open" and s.value > 0
    }


def paged_kinds(pages: list[dict]) -> set[str]:
    """Breach kinds firing in these webhook messages."""
    return {
        a["labels"]["kind"]
        for p in pages
        for a in p["alerts"]
        if a["status"] == "firing" and a["labels"]["alertname"] == "BkSlaBreachOpen"
    }


def sample_names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def render_prometheus(ports: dict[str, list[int]], am_port: int, tmp: Path) -> dict:
    """The committed prometheus.yml, its targets on loopback."""
    config = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(p) for p in sorted((ROOT / "infra/prometheus/rules").glob("*.yml"))]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
    ]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {"bk-stream", "bk-ops", "bk-sink"} <= set(jobs), "prometheus.yml lost a role's job"
    for name, job in jobs.items():
        for key in ("dns_sd_configs", "file_sd_configs", "static_configs"):
            job.pop(key, None)
        targets = [f"127.0.0.1:{p}" for p in ports.get(name, [])]
        job["static_configs"] = [{"targets": targets}] if targets else []
    return config


class Topology:
    def __init__(self, tmp: Path, monkeypatch) -> None:
        self.tmp = tmp
        self.monkeypatch = monkeypatch
        self.procs: list[subprocess.Popen] = []
        self.ports = {
            "cameras-1": free_port(),
            "cameras-2": free_port(),
            "ops": free_port(),
            "sink": free_port(),
        }

    def prometheus_query(self, q: str) -> list:
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": q}
        )
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())["data"]["result"]

    def wait_query(self, q: str, want: bool, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while bool(self.prometheus_query(q)) != want:
            assert time.monotonic() < deadline, f"{q} never {'non-' if want else ''}empty"
            time.sleep(0.2)  # poll interval

    def start_monitoring(self) -> Webhook:
        self.webhook = Webhook()
        am_port, self.prom_port = free_port(), free_port()
        am = render_alertmanager(self.webhook.url)
        for route in [am["route"], *am["route"].get("routes", [])]:
            route["group_interval"] = f"{GROUP_INTERVAL_S}s"
        (self.tmp / "am.yml").write_text(yaml.safe_dump(am, allow_unicode=True))
        ports = {
            "bk-stream": [self.ports["cameras-1"], self.ports["cameras-2"]],
            "bk-ops": [self.ports["ops"]],
            "bk-sink": [self.ports["sink"]],
            "prometheus": [self.prom_port],
        }
        prom = render_prometheus(ports, am_port, self.tmp)
        (self.tmp / "prom.yml").write_text(yaml.safe_dump(prom, allow_unicode=True))
        log = (self.tmp / "processes.log").open("w")
        self.procs.append(
            subprocess.Popen(
                [
                    ALERTMANAGER,
                    f"--config.file={self.tmp / 'am.yml'}",
                    f"--storage.path={self.tmp / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_until_ready(am_port, "/-/ready", self.procs[-1])
        self.procs.append(
            subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={self.tmp / 'prom.yml'}",
                    f"--storage.tsdb.path={self.tmp / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{self.prom_port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_until_ready(self.prom_port, "/-/ready", self.procs[-1])
        return self.webhook

    def sla_pages(self, timeout: float, until_kinds: set[str] | None = None) -> list[dict]:
        """Webhook messages with a firing BkSlaBreachOpen, for ``timeout`` seconds.

        With ``until_kinds``: until those breach kinds have all been paged;
        without: until a second page (one is already a duplicate)."""
        pages: list[dict] = []
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.webhook.received.get(timeout=remaining)
            except queue.Empty:
                break
            if paged_kinds([message]):
                pages.append(message)
                if until_kinds is None and len(pages) > 1:
                    break
                if until_kinds is not None and paged_kinds(pages) >= until_kinds:
                    break
        return pages

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if hasattr(self, "webhook"):
            self.webhook.close()


@pytest.fixture
def topology(tmp_path, monkeypatch):
    import os

    for key in [k for k in os.environ if k.startswith("BK_")]:
        monkeypatch.delenv(key)
    t = Topology(tmp_path, monkeypatch)
    monkeypatch.setenv("BK_STORE_PATH", str(tmp_path / "store"))
    monkeypatch.setenv("BK_WEB_BIND", "127.0.0.1")
    monkeypatch.setenv("BK_WEB_PORT", str(t.ports["cameras-1"]))
    monkeypatch.setenv("BK_OPS_WEB_PORT", str(t.ports["ops"]))
    yield t
    t.close()


def run_topology(topology: Topology) -> None:
    from brightkitchen import sla_scenario
    from brightkitchen.replay import replay
    from brightkitchen.runtime import PipelineRuntime
    from brightkitchen.settings import load
    from inference_workers.publisher import WorkerMetrics

    feed = topology.tmp / "sla.jsonl"
    sla_scenario.write(feed)
    sink_server, _ = start_http_server(topology.ports["sink"], addr="127.0.0.1")
    try:
        with PipelineRuntime(load(), log_dir=topology.tmp) as rt:
            # The second camera worker: same group, its own /metrics port.
            topology.monkeypatch.setenv("BK_WEB_PORT", str(topology.ports["cameras-2"]))
            rt.workers["cameras-2"] = rt._spawn_worker("cameras")
            topology.start_monitoring()
            replay(feed, rt)
            rt.check_alive()

            # Every metric the rules and the board read is served by a role.
            names = set()
            for role in ("cameras-1", "cameras-2", "ops", "sink"):
                names |= served(topology.ports[role])
            registry = CollectorRegistry()
            WorkerMetrics(registry)
            # The inference worker is not in this topology: its declared families.
            text = generate_latest(registry).decode()
            families = {f.name for f in text_string_to_metric_families(text)}
            suffixes = ("", "_total", "_bucket")
            names |= sample_names(text) | {f + x for f in families for x in suffixes}
            missing = {
                n
                for n in metric_names_read()
                if n not in names and not any(s.startswith(n) for s in names)
            }
            assert not missing, f"read by rules/board, served by no process: {sorted(missing)}"
            for job in ("bk-stream", "bk-ops", "bk-sink"):
                topology.wait_query(f'up{{job="{job}"}} == 1', True)
            topology.wait_query('count(up{job="bk-stream"} == 1) == 2', True)

            # The replay has ended: the ops app's gauge holds every breach kind
            # the input opens. Breaches open as the replay's clock moves, so
            # the group may be paged more than once while they do (each page
            # adds kinds); before the restart, on-call has been paged them all.
            kinds = open_breach_kinds(topology.ports["ops"])
            assert kinds, "the SLA scenario opened no breach"
            first = topology.sla_pages(timeout=90, until_kinds=kinds)
            assert first, (topology.tmp / "processes.log").read_text()[-3000:]
            assert {p["receiver"] for p in first} == {"oncall"}
            assert {a["labels"]["district"] for p in first for a in p["alerts"]} == {"河西区"}
            assert paged_kinds(first) == kinds, (paged_kinds(first), kinds)

            rt.kill_worker("ops")
            topology.wait_query('up{job="bk-ops"} == 0', True)
            rt.restart_worker("ops")
            topology.wait_query('up{job="bk-ops"} == 1', True)
            # The restarted ops app must know the open breaches again.
            topology.wait_query("sum(bk_sla_breaches_open) > 0", True, timeout=90)
            # Observation window: several group intervals and rule evaluations,
            # in which a duplicate page would arrive.
            again = topology.sla_pages(timeout=4 * GROUP_INTERVAL_S + 2)
            assert again == [], f"paged {1 + len(again)} times: {again}"
    finally:
        sink_server.shutdown()
        sink_server.server_close()


def test_topology_pages_the_sla_breach_once_across_an_ops_restart_and_serves_every_metric(
    topology,
):
    """One test: chdb opens one store per process, so a second topology in this
    process could not open its own."""
    run_topology(topology)
