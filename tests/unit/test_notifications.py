"""Real-time notifications to operator and station webhooks, tested against a local receiver.

The receiver is a real HTTP server on 127.0.0.1 that can be told to fail; the
outbox is a real SQLite file; a "restart" is a new Outbox/Sender on that file.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brightkitchen import inspections_scenario as sc
from schemas.records import TOPIC_ALERTS, TOPIC_RECORDS, decode
from stream_apps.engines.notifications import NotificationEngine, NotificationParams
from stream_apps.notifier import Outbox, Sender


class Receiver:
    """Records POSTs; answers `fail_next` of them with 500 (or a robot errcode)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, dict]] = []
        self.fail_next = 0
        self.robot_error = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.posts.append((self.path, dict(self.headers), body))
                answer = {"errcode": 310000 if outer.robot_error else 0, "errmsg": "ok"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def month_alerts():
    _, outputs = sc.run_ops(until=sc.t(12))
    return [decode(TOPIC_RECORDS[o.topic], o.value) for o in outputs if o.topic == TOPIC_ALERTS]


@pytest.fixture(scope="module")
def alerts():
    return month_alerts()


def engine(url: str) -> NotificationEngine:
    return NotificationEngine(
        NotificationParams(
            operator_webhooks=(f"op-a=dingtalk:{url}/op-a", f"*=json:{url}/ops"),
            station_webhooks=(f"友谊路所=wecom:{url}/youyi",),
            breaches=False,
            licences=False,
        )
    )


def test_each_new_alert_goes_to_its_operator_and_station_once_by_alert_id(alerts, receiver):
    e = engine(receiver.url)
    notes = [n for a in alerts for n in e.feed(a)]
    # A licence's alert sends nothing of its own: its licence alert is the message.
    distinct = {a.alert_id for a in alerts if a.source != "licence"}
    assert distinct != {a.alert_id for a in alerts}  # the month has one
    assert len(alerts) > len(distinct)  # later revisions of the same alerts arrive too
    by_alert = {}
    for n in notes:
        by_alert.setdefault(n.subject_id, []).append(n.receiver)
    assert set(by_alert) == distinct
    station_of = {a.alert_id: a.station for a in alerts}
    for aid, receivers in by_alert.items():
        expected = 2 if station_of[aid] == "友谊路所" else 1
        assert len(receivers) == expected, receivers


def test_formats_retries_and_delivery(alerts, receiver, tmp_path):
    e = engine(receiver.url)
    notes = [n for a in alerts for n in e.feed(a)]
    box = Outbox(tmp_path / "outbox.sqlite3")
    assert box.add(notes, now=0.0) == len(notes)
    receiver.fail_next = 2
    sender = Sender(box, per_minute=100, backoff_s=5.0)
    first = sender.send_due(now=0.0)
    assert first.failed == 2 and first.sent == len(notes) - 2
    assert sender.send_due(now=1.0).sent == 0  # the two wait for their backoff
    assert sender.send_due(now=5.0).sent == 2
    assert box.stats() == {"sent": len(notes)}
    paths = {p for p, _, _ in receiver.posts}
    assert paths == {"/op-a", "/ops", "/youyi"}
    ding = next(b for p, _, b in receiver.posts if p == "/op-a")
    assert ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    wecom = next(b for p, _, b in receiver.posts if p == "/youyi")
    assert wecom["msgtype"] == "markdown" and "content" in wecom["markdown"]
    plain = next((h, b) for p, h, b in receiver.posts if p == "/ops")
    assert plain[0]["Idempotency-Key"] == plain[1]["notification_id"]
    ids = [b.get("notification_id") for p, _, b in receiver.posts if p == "/ops"]
    assert len(ids) == len(set(ids))


def test_a_restart_sends_nothing_twice_and_loses_nothing(alerts, receiver, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    e = engine(receiver.url)
    notes = [n for a in alerts for n in e.feed(a)]
    box = Outbox(path)
    box.add(notes[:3], now=0.0)
    Sender(box, per_minute=100).send_due(now=0.0)
    box.close()
    # Restart: the input is replayed (at-least-once), so every notification is added again.
    box = Outbox(path)
    assert box.add(notes, now=10.0) == len(notes) - 3
    Sender(box, per_minute=100).send_due(now=10.0)
    assert len(receiver.posts) == len(notes)
    keys = [(p, json.dumps(b, sort_keys=True)) for p, _, b in receiver.posts]
    assert len(set(keys)) == len(keys)
    assert box.stats() == {"sent": len(notes)}


def test_the_rate_limit_per_receiver_holds_across_a_restart(receiver, tmp_path, alerts):
    e = NotificationEngine(NotificationParams(operator_webhooks=(f"*=json:{receiver.url}/all",)))
    notes = [n for a in alerts for n in e.feed(a)]
    assert len(notes) >= 4
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    box.add(notes, now=0.0)
    assert Sender(box, per_minute=2).send_due(now=0.0).sent == 2
    box.close()
    box = Outbox(path)
    again = Sender(box, per_minute=2).send_due(now=30.0)
    assert again.sent == 0 and again.rate_limited == len(notes) - 2
    assert Sender(box, per_minute=2).send_due(now=61.0).sent == 2


def test_a_robot_error_is_retried_then_dead_with_the_reason(receiver, tmp_path, alerts):
    e = NotificationEngine(
        NotificationParams(operator_webhooks=(f"op-a=dingtalk:{receiver.url}/d",))
    )
    notes = [n for a in alerts for n in e.feed(a)][:1]
    box = Outbox(tmp_path / "outbox.sqlite3")
    box.add(notes, now=0.0)
    receiver.robot_error = True
    sender = Sender(box, max_attempts=2, backoff_s=1.0)
    assert sender.send_due(now=0.0).failed == 1
    assert sender.send_due(now=1.0).dead == 1
    assert box.stats() == {"dead": 1}
    (why,) = box.db.execute("SELECT last_error FROM outbox").fetchone()
    assert why == "robot errcode 310000"


def test_an_unreachable_receiver_is_retried_not_fatal(tmp_path, alerts):
    e = NotificationEngine(NotificationParams(operator_webhooks=("*=json:http://127.0.0.1:9/x",)))
    notes = [n for a in alerts for n in e.feed(a)][:1]
    box = Outbox(tmp_path / "outbox.sqlite3")
    box.add(notes, now=0.0)
    assert Sender(box).send_due(now=0.0).failed == 1
    assert box.stats() == {"pending": 1}


def test_a_bad_receiver_spec_is_refused_by_name():
    with pytest.raises(ValueError, match="ftp"):
        NotificationEngine(NotificationParams(operator_webhooks=("op-a=json:ftp://x",)))


def test_the_ops_pipeline_hands_new_alerts_breaches_and_licence_alerts_to_the_outbox():
    params = NotificationParams(station_webhooks=("*=json:http://127.0.0.1:1/s",))
    pipeline, outputs = sc.run_ops(until=sc.t(12), notification_params=params)
    notes = pipeline.take_notifications()
    assert pipeline.take_notifications() == []
    kinds = {n.kind for n in notes}
    assert kinds == {"alert", "sla_breach", "licence"}
    records = [decode(TOPIC_RECORDS[o.topic], o.value) for o in outputs if o.topic == TOPIC_ALERTS]
    alerts = {a.alert_id for a in records if a.source != "licence"}
    assert {n.subject_id for n in notes if n.kind == "alert"} == alerts
