"""The Faust app ``ops`` (alerts, SLA, rates; timers and the web endpoint).

The camera app is not a Faust app any more: it runs on the batched
confluent-kafka host of stream_apps/shells/cameras.py (docs/scaling.md).

Run a worker with ``brightkitchen stream --app ops`` (or ``python -m
stream_apps ops worker``); it reads its settings from ``BK_*`` variables
like every other command. Values stay raw bytes on the wire
(``value_serializer="raw"``): the agents decode them with the msgspec codecs in
``schemas``, which is several times faster than Faust's own codecs and lets bad
input go to the DLQ instead of crashing the stream.

The camera app scales out by partition (run many workers); the ops app is one
instance with its own consumer group (see stream_apps/pipelines/ops.py).
"""

from __future__ import annotations

import ssl
import tempfile
from typing import TYPE_CHECKING

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:  # entry points load Settings and hand it down; imports point down
    from brightkitchen.settings import Settings


def broker_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
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


class _ShortFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust hard-codes aiokafka's ``fetch_max_wait_ms=1500``. Tansu holds every
    fetch for that long even when records are waiting, which put up to 1.5 s on
    each hop; a Kafka broker answers as soon as data arrives, so a short wait
    only costs idle polls there."""

    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(transport.app, "fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait  # read by start()
        return consumer


class _ShortFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ShortFetchConsumerThread:
        return _ShortFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _ShortFetchConsumer


class App(faust.App):
    """faust.App whose consumer fetches wait at most ``BK_FETCH_MAX_WAIT_MS``."""

    fetch_max_wait_ms: int | None = None

    def _new_transport(self) -> _Transport:
        return _Transport(self.conf.broker_consumer, self)


def make_app(app_id: str, web_port: int, settings: Settings) -> faust.App:
    """A Faust app on the configured broker, serving /metrics on ``web_port``."""
    app = App(
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
        broker_credentials=broker_credentials(settings),
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms

    @app.page("/metrics")
    async def metrics(web, request):
        """Prometheus metrics of this worker (scraped by infra/prometheus)."""
        # aiohttp refuses a charset in content_type=; the header carries it.
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return app
