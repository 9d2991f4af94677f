"""Every Prometheus metric the stream apps and the sink export, in one place.

The alert rules (infra/prometheus/rules/*.yml) and the Pipeline board read
exactly these names; tests/e2e/test_topology.py checks each name they use
against what the running processes serve on /metrics. The shells only set
values (a few lines each); the derived figures (cameras online, violations
opened, pipeline latency, consumer lag) are computed here from what the sink
stores, so they hold whichever host runs the stages.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
)

# -- stream apps (cameras, ops) -------------------------------------------------
STREAM_RECORDS = Counter("bk_stream_records_total", "Input records processed", ["topic"])
STREAM_OUTPUTS = Counter("bk_stream_outputs_total", "Output records produced", ["app", "topic"])
DEAD_LETTERS = Counter("bk_dlq_records_total", "Records sent to the DLQ", ["app"])
for _app in ("cameras", "ops"):
    DEAD_LETTERS.labels(_app)  # served as 0 before the first dead letter: rates need it

# -- ops app ----------------------------------------------------------------------
SLA_BREACHES_OPEN = Gauge(
    "bk_sla_breaches_open",
    "SLA breaches whose alert is not resolved yet (pages on-call)",
    ["kind", "district"],
)
ALERTS_OPEN = Gauge("bk_alerts_open", "Alerts open in the ops engine")
ALERT_PRECISION = Gauge(
    "bk_alert_precision", "Confirmed / (confirmed + false positive) alerts", ["cls"]
)
TIMELY_DISPOSAL = Gauge(
    "bk_timely_disposal_ratio",
    "处置及时率: settled rectification clocks met in time",
    ["district", "station"],
)
OPS_CLOCK = Gauge("bk_ops_clock_seconds", "Event-time clock of the ops app")

# -- sink -----------------------------------------------------------------------------
SINK_ROWS = Counter("bk_sink_rows_total", "Rows inserted into the store", ["table"])
SINK_BATCHES = Counter("bk_sink_batches_total", "Store inserts committed (all tables)")
SINK_INSERT_FAILURES = Counter(
    "bk_sink_insert_failures_total", "Store inserts that failed (each is retried)"
)
SINK_UNDECODABLE = Counter(
    "bk_sink_undecodable_total", "Records the sink could not decode (not stored)"
)
SINK_BATCH_SECONDS = Histogram(
    "bk_sink_batch_seconds",
    "Time to insert one batch and commit its offsets",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "bk_consumer_lag_records",
    "Records in the broker not yet consumed by the group (sum over partitions)",
    ["group", "topic"],
)
PIPELINE_LATENCY = Histogram(
    "bk_pipeline_latency_seconds",
    "Wall-clock seconds from an event's detected_at to its row in the store "
    "(violations and camera events; the latency SLO is 99 % within 30 s)",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900),
)
CAMERAS_REGISTERED = Gauge(
    "bk_cameras_registered", "Active cameras in the registry", ["district", "station"]
)
CAMERAS_ONLINE = Gauge(
    "bk_cameras_online",
    "Registered cameras without an open offline episode",
    ["district", "station"],
)
VIOLATIONS_OPENED = Counter(
    "bk_violations_opened_total", "Violation episodes opened", ["district", "station", "cls"]
)
LIVE_LATENCY_MAX_S = 3600.0
"""Events detected longer ago than this are a replay's, not live: no latency sample."""


class FleetMetrics:
    """Cameras registered/online, violations opened and latency, from stored rows.

    Fed by the sink with each batch it stored (topic, decoded records): the
    registry says where a camera is, camera events whether it is offline.
    """

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.place: dict[str, tuple[str, str]] = {}
        self.offline: set[str] = set()

    def stored(self, topic: str, records: Sequence[Any]) -> None:
        if topic == TOPIC_REGISTRY:
            for r in records:
                if r.active:
                    self.place[r.camera_id] = (r.district, r.station)
                else:
                    self.place.pop(r.camera_id, None)
            self._cameras()
        elif topic == TOPIC_CAMERA_EVENTS:
            now = self.clock()
            for r in records:
                if r.state == "open":
                    _latency(now - r.detected_at)
                if r.kind == "offline":
                    (self.offline.add if r.state == "open" else self.offline.discard)(r.camera_id)
            self._cameras()
        elif topic == TOPIC_VIOLATIONS:
            now = self.clock()
            for r in records:
                if r.state == "open":
                    _latency(now - r.detected_at)
                    district, station = self.place.get(r.camera_id, ("unknown", "unknown"))
                    VIOLATIONS_OPENED.labels(district, station, r.cls).inc()

    def _cameras(self) -> None:
        registered: dict[tuple[str, str], int] = {}
        online: dict[tuple[str, str], int] = {}
        for camera, where in self.place.items():
            registered[where] = registered.get(where, 0) + 1
            online[where] = online.get(where, 0) + (camera not in self.offline)
        CAMERAS_REGISTERED.clear()
        CAMERAS_ONLINE.clear()
        for where, n in registered.items():
            CAMERAS_REGISTERED.labels(*where).set(n)
            CAMERAS_ONLINE.labels(*where).set(online[where])


def _latency(seconds: float) -> None:
    if seconds <= LIVE_LATENCY_MAX_S:
        PIPELINE_LATENCY.observe(max(0.0, seconds))


def export_lag(group: str, consumer: Any, partitions: Iterable[Any]) -> None:
    """bk_consumer_lag_records for ``group``: high watermark minus position, from
    librdkafka's cached watermarks (no broker round trip)."""
    lag: dict[str, int] = {}
    for tp in consumer.position(list(partitions)):
        if tp.offset < 0:
            continue
        try:
            _, high = consumer.get_watermark_offsets(tp, cached=True)
        except Exception:  # not fetched yet
            continue
        if high >= 0:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - tp.offset)
    for topic, n in lag.items():
        CONSUMER_LAG.labels(group, topic).set(n)
