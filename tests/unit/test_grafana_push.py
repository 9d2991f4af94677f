"""`brightkitchen grafana push` sends the committed boards and alerting to Grafana's HTTP API.

Grafana cannot run here, so a loopback HTTP server stands in for it and
records each request; the test checks the documented API paths and bodies.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from grafana_client import GrafanaApi

from brightkitchen.grafana_push import FOLDER_UID, GRAFANA_DIR, PushError, push

TOKEN = "glsa_test_token"
ENV = {
    "BK_DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.example/robot/send?access_token=x",
    "BK_WECOM_WEBHOOK_URL": "https://qyapi.weixin.example/cgi-bin/webhook/send?key=y",
}


class FakeGrafana:
    """Records (method, path, auth, body); answers like Grafana for new objects."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                outer.requests.append(
                    (self.command, self.path, self.headers.get("Authorization"), body)
                )
                # Updating a rule or contact point that does not exist yet: 404.
                new = self.command == "PUT" and (
                    "/alert-rules/" in self.path or "/contact-points/" in self.path
                )
                self.send_response(404 if new else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"message": "not found"}' if new else b"{}")

            do_GET = do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana():
    fake = FakeGrafana()
    yield fake
    fake.close()


def test_push_sends_every_board_rule_contact_point_and_the_policy(grafana):
    api = GrafanaApi.from_url(grafana.url, credential=TOKEN)
    report = push(api, env=ENV)
    boards = sorted(p.stem for p in (GRAFANA_DIR / "dashboards").glob("*.json"))
    assert sorted(report.dashboards) == boards and report.policy
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth, _ in grafana.requests)
    posted = [b for m, p, _, b in grafana.requests if (m, p) == ("POST", "/api/dashboards/db")]
    assert sorted(b["dashboard"]["uid"] for b in posted) == boards
    assert all(b["overwrite"] and b["folderUid"] == FOLDER_UID for b in posted)
    created = [b for m, p, _, b in grafana.requests if p == "/api/v1/provisioning/alert-rules"]
    assert sorted(r["uid"] for r in created) == sorted(report.rules)
    assert all(r["folderUID"] == FOLDER_UID and r["ruleGroup"] for r in created)
    points = [b for m, p, _, b in grafana.requests if p == "/api/v1/provisioning/contact-points"]
    ding = next(p for p in points if p["name"] == "inspectors-dingtalk")
    assert ding["settings"]["url"] == ENV["BK_DINGTALK_WEBHOOK_URL"]
    # one paging path (Alertmanager): Grafana has no on-call contact point
    assert not any("oncall" in json.dumps(p).lower() for p in points)
    [policy] = [b for m, p, _, b in grafana.requests if p == "/api/v1/provisioning/policies"]
    assert policy["receiver"] == "inspectors-dingtalk" and policy["routes"]


def test_a_missing_webhook_variable_is_named(grafana, tmp_path: Path):
    api = GrafanaApi.from_url(grafana.url, credential=TOKEN)
    env = {k: v for k, v in ENV.items() if k != "BK_WECOM_WEBHOOK_URL"}
    with pytest.raises(PushError, match="BK_WECOM_WEBHOOK_URL"):
        push(api, env=env)
