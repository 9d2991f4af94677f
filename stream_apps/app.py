"""The Faust apps: ``cameras`` (per-camera engines) and ``ops`` (alerts, SLA, rates).

Run a worker with ``brightkitchen stream [--app ops]`` (or ``python -m
stream_apps cameras worker``); it reads its settings from ``BK_*`` variables
like every other command. Values stay raw bytes on the wire
(``value_serializer="raw"``): the agents decode them with the msgspec codecs in
``schemas``, which is several times faster than Faust's own codecs and lets bad
input go to the DLQ instead of crashing the stream.

The camera app scales out by partition (run many workers); the ops app is one
instance with its own consumer group (see stream_apps/ops_pipeline.py).
"""

from __future__ import annotations

import ssl
import tempfile

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from brightkitchen.settings import load

settings = load()


def broker_credentials() -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The BK_KAFKA_* security settings in Faust's form (the librdkafka clients use
    Settings.kafka_client_config() for the same settings)."""
    protocol = settings.kafka_security_protocol.upper()
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return None


def make_app(app_id: str, web_port: int) -> faust.App:
    """A Faust app on the configured broker, serving /metrics on ``web_port``."""
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap or '127.0.0.1:9092'}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=30.0,
        producer_linger_ms=5,
        producer_max_batch_size=1 << 20,
        stream_buffer_maxsize=max(4 * settings.batch_max, 4096),
        web_port=web_port,
        web_bind=settings.web_bind,
        datadir=tempfile.mkdtemp(prefix="bk-faust-"),
        broker_credentials=broker_credentials(),
    )

    @app.page("/metrics")
    async def metrics(web, request):
        """Prometheus metrics of this worker (scraped by infra/prometheus)."""
        # aiohttp refuses a charset in content_type=; the header carries it.
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return app


def camera_app() -> faust.App:
    from stream_apps.agents import cameras

    return cameras.app


def ops_app() -> faust.App:
    from stream_apps.agents import ops

    return ops.app


APPS = {"cameras": camera_app, "ops": ops_app}
