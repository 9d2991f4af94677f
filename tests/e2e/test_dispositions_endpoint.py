"""POST /dispositions on a real ops worker: tokens, bad bodies and sizes are refused
with the documented status; a good disposition reaches bk.dispositions.v1."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from brightkitchen.embedded import create_topics, start_broker
from schemas.records import TOPIC_DISPOSITIONS, Disposition, decode
from stream_apps.dispositions_api import MAX_BODY_BYTES
from tests.e2e.ops_worker import running_ops_worker  # noqa: E402
from tests.e2e.topic_reader import consumer_from_start

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token-7f3a"


@pytest.fixture(scope="module")
def broker():
    b = start_broker()
    create_topics(b.bootstrap, partitions=2)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def ops_url(broker, tmp_path_factory):
    with running_ops_worker(
        broker.bootstrap,
        f"bk-disp-{uuid.uuid4().hex[:8]}",
        tmp_path_factory.mktemp("ops") / "ops.log",
        lambda port: metrics_status(f"http://127.0.0.1:{port}") is not None,
        BK_DISPOSITIONS_TOKEN=TOKEN,
    ) as port:
        yield f"http://127.0.0.1:{port}"


def metrics_status(url: str) -> int | None:
    """HTTP status of GET /metrics, or None while nothing listens."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def post(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{url}/dispositions", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def disposition(alert_id: str) -> bytes:
    return json.dumps(
        {"v": 1, "alert_id": alert_id, "ts": 1793610000.0, "actor": "li", "action": "verified"}
    ).encode()


def test_metrics_are_served(ops_url):
    assert metrics_status(ops_url) == 200


def test_a_missing_token_is_401(ops_url):
    assert post(ops_url, disposition("a-missing"), token=None)[0] == 401


def test_a_wrong_token_is_401(ops_url):
    assert post(ops_url, disposition("a-wrong"), token="not-the-token")[0] == 401


def test_a_body_that_is_not_a_disposition_is_422_naming_the_field(ops_url):
    status, answer = post(ops_url, json.dumps({"v": 1, "alert_id": "a1"}).encode())
    assert status == 422
    assert "missing required field" in answer["error"]


def test_malformed_json_is_422(ops_url):
    assert post(ops_url, b'{"v": 1, "alert_id": ')[0] == 422


def test_an_oversized_body_is_413(ops_url):
    assert post(ops_url, b" " * (MAX_BODY_BYTES + 1))[0] == 413


def test_a_good_disposition_is_202_and_reaches_the_topic(ops_url, broker):
    alert_id = f"a-{uuid.uuid4().hex[:8]}"
    status, answer = post(ops_url, disposition(alert_id))
    assert status == 202 and answer["accepted"] == alert_id
    consumer = consumer_from_start(broker.bootstrap, TOPIC_DISPOSITIONS)
    seen: list[Disposition] = []
    keys: dict[str, bytes | None] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(d.alert_id == alert_id for d in seen):
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if not msg.error() and msg.value() is not None:
                    record = decode(Disposition, msg.value())
                    keys[record.alert_id] = msg.key()
                    seen.append(record)
    finally:
        consumer.close()
    mine = [d for d in seen if d.alert_id == alert_id]
    assert [(d.actor, d.action) for d in mine] == [("li", "verified")]
    assert keys[alert_id] == alert_id.encode()  # keyed by alert_id, as the contract says
    # Refused requests published nothing.
    assert not [d for d in seen if d.alert_id in ("a-missing", "a-wrong")]


# -- issue 18: POST /inspections, same auth rules -----------------------------------
def post_inspection(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{url}/inspections", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_inspections_need_the_token_and_a_valid_body_and_reach_their_topic(ops_url, broker):
    from schemas.records import TOPIC_INSPECTIONS, Inspection

    operator = f"op-{uuid.uuid4().hex[:8]}"
    good = json.dumps(
        {
            "v": 1,
            "operator_id": operator,
            "ts": 1793610000.0,
            "inspector": "甲",
            "station": "友谊路所",
            "kind": "on_site",
            "result": "pass",
        }
    ).encode()
    assert post_inspection(ops_url, good, token=None)[0] == 401
    assert post_inspection(ops_url, good, token="wrong")[0] == 401
    status, answer = post_inspection(ops_url, good.replace(b"on_site", b"drive_by"))
    assert status == 422 and "kind" in answer["error"]
    assert post_inspection(ops_url, b" " * (MAX_BODY_BYTES + 1))[0] == 413
    status, answer = post_inspection(ops_url, good)
    assert status == 202 and answer["accepted"] == operator
    consumer = consumer_from_start(broker.bootstrap, TOPIC_INSPECTIONS)
    seen: list[tuple[bytes | None, Inspection]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(i.operator_id == operator for _, i in seen):
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if not msg.error() and msg.value() is not None:
                    seen.append((msg.key(), decode(Inspection, msg.value())))
    finally:
        consumer.close()
    mine = [(k, i.kind) for k, i in seen if i.operator_id == operator]
    assert mine == [(operator.encode(), "on_site")]
