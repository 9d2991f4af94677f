"""Security settings reach every client, and secrets never reach a message.

Kafka SASL/SCRAM + TLS settings (BK_KAFKA_SECURITY_PROTOCOL, ...) must be in
the config of every librdkafka client the project builds: the runtime's
producer, progress consumer, admin client and sink, the partition reader, the
inference worker's producer. The ClickHouse password may come from a file and
never appears in describe() or in the error of a failed connect. Camera URLs
lose their credentials before they are logged.

Also the consumers' fetch wait (BK_FETCH_MAX_WAIT_MS): Tansu, the embedded
broker, holds each fetch for the whole wait even when records are there, so the
wait is latency on every hop; Faust's hard-coded 1,500 ms put p99 frame-to-row
latency over the 2 s target (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from brightkitchen import embedded, runtime, store
from brightkitchen.embedded import free_port
from brightkitchen.settings import Settings
from inference_workers.ingest import redact
from stream_apps import partition_reader
from stream_apps.sink import consumer as sink

SECRET = "sCr4m-p@ss-do-not-log"
SECURE = {
    "BK_KAFKA_BOOTSTRAP": "kafka-1:9093,kafka-2:9093",
    "BK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "BK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "BK_KAFKA_SASL_USERNAME": "bk-stream",
    "BK_KAFKA_SASL_PASSWORD": SECRET,
    "BK_KAFKA_SSL_CAFILE": "/etc/bk/ca.pem",
}
EXPECTED = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "bk-stream",
    "sasl.password": SECRET,
    "ssl.ca.location": "/etc/bk/ca.pem",
}


@pytest.fixture
def secure_settings(monkeypatch) -> Settings:
    for key in list(__import__("os").environ):
        if key.startswith("BK_"):
            monkeypatch.delenv(key)
    for key, value in SECURE.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


class FakeClient:
    """Stands in for a confluent-kafka client: records its config, talks to no one."""

    configs: list[tuple[str, dict[str, Any]]] = []

    def __init__(self, conf: dict[str, Any], **_: Any) -> None:
        FakeClient.configs.append((type(self).__name__, dict(conf)))

    def subscribe(self, *a, **k):
        pass

    def consume(self, *a, **k):
        return []

    def close(self):
        pass

    def produce(self, *a, **k):
        pass

    def poll(self, *a, **k):
        return 0

    def flush(self, *a, **k):
        return 0

    def list_topics(self, *a, **k):
        return type("Meta", (), {"topics": {name: None for name in embedded.ALL_TOPICS}})()


class FakeConsumer(FakeClient):
    pass


class FakeProducer(FakeClient):
    pass


class FakeAdmin(FakeClient):
    pass


@pytest.fixture
def fake_kafka(monkeypatch):
    FakeClient.configs = []
    monkeypatch.setattr(runtime, "Consumer", FakeConsumer)
    monkeypatch.setattr(runtime, "Producer", FakeProducer)
    monkeypatch.setattr(sink, "Consumer", FakeConsumer)
    monkeypatch.setattr(partition_reader, "Consumer", FakeConsumer)
    monkeypatch.setattr(embedded, "AdminClient", FakeAdmin)
    monkeypatch.setattr("confluent_kafka.Producer", FakeProducer)
    return FakeClient.configs


def assert_secure(conf: dict[str, Any]) -> None:
    assert {k: conf.get(k) for k in EXPECTED} == EXPECTED


def test_settings_build_the_sasl_and_tls_client_config(secure_settings):
    assert secure_settings.kafka_client_config() == EXPECTED


def test_plaintext_is_the_default_and_sends_no_credentials(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("BK_"):
            monkeypatch.delenv(key)
    assert Settings(_env_file=None).kafka_client_config() == {"security.protocol": "PLAINTEXT"}


def test_every_client_of_the_pipeline_runtime_is_secured(secure_settings, fake_kafka, monkeypatch):
    monkeypatch.setattr(runtime.store, "connect", lambda s: object())
    monkeypatch.setattr(runtime, "migrate", lambda client: [])
    with runtime.PipelineRuntime(secure_settings, start_worker=False):
        pass
    kinds = sorted({kind for kind, _ in fake_kafka})
    assert kinds == ["FakeAdmin", "FakeConsumer", "FakeProducer"]
    assert len(fake_kafka) >= 4  # admin, sink, progress tracker, producer
    for _, conf in fake_kafka:
        assert_secure(conf)
        assert conf["bootstrap.servers"].startswith("kafka-1:9093")


def test_the_partition_reader_keeps_the_security_settings(secure_settings, fake_kafka):
    conf = {"bootstrap.servers": secure_settings.kafka_bootstrap}
    partition_reader._consumer({**conf, **secure_settings.kafka_client_config()})
    [(_, built)] = fake_kafka
    assert_secure(built)


def test_the_inference_worker_producer_is_secured(secure_settings, fake_kafka):
    from inference_workers.publisher import Publisher

    Publisher(
        secure_settings.kafka_bootstrap, producer_config=secure_settings.kafka_client_config()
    )
    [(_, built)] = fake_kafka
    assert_secure(built)
    assert built["acks"] == "all" and built["enable.idempotence"] is True


def test_the_faust_apps_get_the_broker_credentials(secure_settings, monkeypatch):
    import certifi

    from stream_apps import app as faust_app

    # The TLS context loads the CA file for real: give it one that exists.
    secure = secure_settings.model_copy(update={"kafka_ssl_cafile": certifi.where()})
    made = faust_app.make_app("bk-security-test", free_port(), secure)
    creds = made.conf.broker_credentials
    assert creds is not None
    assert (creds.username, creds.password) == ("bk-stream", SECRET)
    assert creds.ssl_context is not None


# -- fetch wait ------------------------------------------------------------------
def test_consumer_config_adds_the_wait_to_the_security_settings(secure_settings):
    conf = secure_settings.model_copy(update={"fetch_max_wait_ms": 25}).kafka_consumer_config()
    assert conf == {**EXPECTED, "fetch.wait.max.ms": 25}
    assert Settings(_env_file=None).fetch_max_wait_ms == 100


def test_the_runtime_consumers_use_the_wait_and_producers_do_not(
    secure_settings, fake_kafka, monkeypatch
):
    s = secure_settings.model_copy(update={"fetch_max_wait_ms": 25})
    monkeypatch.setattr(runtime.store, "connect", lambda s: object())
    monkeypatch.setattr(runtime, "migrate", lambda client: [])
    with runtime.PipelineRuntime(s, start_worker=False):
        pass
    consumers = [conf for kind, conf in fake_kafka if kind == "FakeConsumer"]
    others = [conf for kind, conf in fake_kafka if kind != "FakeConsumer"]
    assert len(consumers) == 2  # sink, progress tracker
    assert all(conf["fetch.wait.max.ms"] == 25 for conf in consumers)
    assert others and all("fetch.wait.max.ms" not in conf for conf in others)


def test_the_faust_worker_consumer_uses_the_wait(monkeypatch):
    from stream_apps import app as faust_app

    settings = Settings(_env_file=None, fetch_max_wait_ms=37)

    async def build() -> int:
        made = faust_app.make_app("bk-fetch-wait-test", free_port(), settings)
        consumer = made.consumer._thread._create_worker_consumer(made.transport)
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()

    assert asyncio.run(build()) == 37


# -- ClickHouse ------------------------------------------------------------------
def server_settings(monkeypatch, tmp_path: Path, url: str) -> Settings:
    for key in list(__import__("os").environ):
        if key.startswith("BK_"):
            monkeypatch.delenv(key)
    secret_file = tmp_path / "clickhouse-password"
    secret_file.write_text(SECRET + "\n")
    monkeypatch.setenv("BK_CLICKHOUSE_URL", url)
    monkeypatch.setenv("BK_CLICKHOUSE_USER", "bk_writer")
    monkeypatch.setenv("BK_CLICKHOUSE_PASSWORD_FILE", str(secret_file))
    return Settings(_env_file=None)


def test_the_clickhouse_password_comes_from_the_file(monkeypatch, tmp_path):
    s = server_settings(monkeypatch, tmp_path, "https://clickhouse.internal:8443")
    assert s.clickhouse_secret() == SECRET  # trailing newline stripped


def test_describe_never_shows_the_password(monkeypatch, tmp_path):
    s = server_settings(monkeypatch, tmp_path, f"https://bk_writer:{SECRET}@ch.internal:8443")
    text = store.describe(s)
    assert SECRET not in text and "ch.internal:8443" in text


def test_a_failed_connect_names_the_store_but_not_the_password(monkeypatch, tmp_path):
    port = free_port()  # nothing listens there
    s = server_settings(monkeypatch, tmp_path, f"http://bk_writer:{SECRET}@127.0.0.1:{port}")
    with pytest.raises(store.StoreError) as err:
        store.connect(s)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


# -- camera URLs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:Hik12345@10.0.0.5:554/ch1", "rtsp://***@10.0.0.5:554/ch1"),
        ("rtsp://admin@10.0.0.5/ch1", "rtsp://***@10.0.0.5/ch1"),
        ("http://cam/snap.jpg?user=a&password=p4ss", "http://cam/snap.jpg?user=***&password=***"),
        (
            "ffmpeg: rtsp://u:p%40ss@cam-7/live failed: 401",
            "ffmpeg: rtsp://***@cam-7/live failed: 401",
        ),
    ],
)
def test_camera_urls_lose_their_credentials(url, shown):
    assert redact(url) == shown
