"""The Faust app: one worker process hosting the stream agents.

Run a worker with ``brightkitchen stream`` (or ``python -m stream_apps
worker``); it reads its settings from ``BK_*`` variables like every other
command. Values stay raw bytes on the wire (``value_serializer="raw"``): the
agents decode them with the msgspec codecs in ``schemas``, which is several
times faster than Faust's own codecs and lets bad input go to the DLQ instead
of crashing the stream.
"""

from __future__ import annotations

import tempfile

import faust

from brightkitchen.settings import load

settings = load()

app = faust.App(
    settings.app_id,
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
    # Port 0 (tests, replay) means "no web server".
    web_port=settings.web_port or 6066,
    web_enabled=settings.web_port > 0,
    datadir=tempfile.mkdtemp(prefix="bk-faust-"),
)

# Register the agents (import for their side effect on `app`).
from stream_apps.agents import cameras  # noqa: E402,F401


@app.page("/metrics")
async def metrics(web, request):
    """Prometheus metrics of this worker (scraped by infra/prometheus)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST)
