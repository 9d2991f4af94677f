"""Tansu with durable storage (s3:// on a loopback S3, moto's server): records
produced before a broker restart are all there after it.

The embedded default keeps Tansu's log in memory (a restart loses it, which is
fine for demo and replay: they own the broker's whole life). This shows the
durable engine works; skipped, with the reason, where moto or the engine is
unavailable. Production uses Apache Kafka (docs/reliability.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brightkitchen.embedded import free_port, tansu_binary
from tests.e2e.topic_reader import consumer_from_start

pytestmark = pytest.mark.e2e
TOPIC = "bk.restart-check.v1"
BUCKET = "tansu"


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.skip(f"process exited with {proc.returncode}: {log.read_text()[-800:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.skip(f"nothing listens on {port} after {timeout_s} s")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    boto3 = pytest.importorskip("boto3", reason="boto3 (with moto[server]) is not installed")
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log)
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            "AWS_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def start_tansu(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    url = f"tcp://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", f"s3://{BUCKET}/"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env, "RUST_LOG": "warn"},
        )  # fmt: skip
    wait_for_port(port, proc, log)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_records_survive_a_broker_restart_on_s3_storage(s3, tmp_path):
    port, log = free_port(), tmp_path / "tansu.log"
    bootstrap = f"127.0.0.1:{port}"
    sent = [f"record-{i}".encode() for i in range(300)]
    broker = start_tansu(port, s3, log)
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        try:
            admin.create_topics([NewTopic(TOPIC, 2, 1)], request_timeout=15)[TOPIC].result()
        except Exception as exc:
            pytest.skip(f"tansu's s3 engine refused to create a topic: {exc}; {log.read_text()}")
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        for i, value in enumerate(sent):
            producer.produce(TOPIC, key=str(i % 7), value=value)
        assert producer.flush(30) == 0
        del producer
    finally:
        stop(broker)

    broker = start_tansu(port, s3, log)  # same port, same bucket, empty memory
    try:
        consumer = consumer_from_start(bootstrap, TOPIC)
        got: list[bytes] = []
        deadline = time.monotonic() + 60
        try:
            while len(got) < len(sent) and time.monotonic() < deadline:
                got += [m.value() for m in consumer.consume(500, timeout=0.5) if not m.error()]
        finally:
            consumer.close()
        assert sorted(got) == sorted(sent)
    finally:
        stop(broker)
