"""Kafka publishing of worker records, and the worker's Prometheus metrics.

The producer is idempotent (`enable.idempotence`: no duplicates or reordering
from retries within a partition), lingers a few milliseconds to batch, and keys
every record by `camera_id` so one camera's frames and statuses stay in order
on one partition. Delivery failures are counted, logged (rate-limited by the
count) and never stop the worker: the stream processors tolerate gaps, and a
camera's silence is itself reported by the health engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.records import (
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    CameraStatus,
    FrameDetections,
    encode,
)

log = logging.getLogger(__name__)


class WorkerMetrics:
    """Prometheus metrics of one inference worker (pass a registry in tests)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        kw: dict[str, Any] = {"registry": registry} if registry is not None else {}
        self.frames_in = Counter(
            "bk_worker_frames_in_total", "Sampled frames handed to the inference queue", **kw
        )
        self.frames_out = Counter(
            "bk_worker_frames_out_total", "Frames analysed and published to bk.detections.v1", **kw
        )
        self.frames_dropped = Counter(
            "bk_worker_frames_dropped_total",
            "Frames evicted from the full inference queue (oldest first)",
            **kw,
        )
        self.batch_size = Histogram(
            "bk_worker_batch_size",
            "Frames per inference batch",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            **kw,
        )
        self.inference_seconds = Histogram(
            "bk_worker_inference_seconds",
            "Time per batch: preprocessing, model, decoding and quality",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            **kw,
        )
        self.queue_depth = Gauge("bk_worker_queue_depth", "Frames waiting for inference", **kw)
        self.delivery_errors = Counter(
            "bk_worker_delivery_errors_total", "Kafka records that failed delivery", ["topic"], **kw
        )
        self.cameras = Gauge("bk_worker_cameras", "Cameras by stream state", ["state"], **kw)
        self.snapshots = Counter(
            "bk_worker_snapshots_total",
            "Violation frames by evidence-JPEG outcome: stored, skipped (per-camera rate "
            "limit, BK_SNAPSHOT_MIN_INTERVAL_S) or failed (store error)",
            ["outcome"],
            **kw,
        )


_default: WorkerMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> WorkerMetrics:
    """The process-wide metrics on prometheus_client's default registry (created once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WorkerMetrics()
        return _default


class Publisher:
    """Produces `bk.detections.v1` and `bk.camera-status.v1` records (thread-safe).

    Lifecycle: construct, `detections()` / `status()` from any thread, `poll()`
    from the main loop to serve delivery callbacks, `close()` to flush.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "bk-inference-worker",
        producer_config: Mapping[str, Any] | None = None,
        metrics: WorkerMetrics | None = None,
        producer: Any = None,
    ) -> None:
        if producer is None:
            from confluent_kafka import Producer

            conf = {
                "bootstrap.servers": bootstrap,
                "client.id": client_id,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "message.timeout.ms": 60_000,
                "queue.buffering.max.kbytes": 256 * 1024,
            }
            conf.update(producer_config or {})
            producer = Producer(conf)
        self.producer = producer
        self.metrics = metrics
        self.delivered = 0
        self.delivery_errors = 0
        self._lock = threading.Lock()

    def _on_delivery(self, err, msg) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
                return
            self.delivery_errors += 1
            n = self.delivery_errors
        if self.metrics:
            self.metrics.delivery_errors.labels(msg.topic()).inc()
        if n & (n - 1) == 0:  # log the 1st, 2nd, 4th, 8th ... failure
            log.warning("delivery failed (%d so far): %s", n, err)

    def _produce(self, topic: str, key: str, value: bytes) -> None:
        for _ in range(2):
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                return
            except BufferError:
                # Local queue full (broker slow or down): serve callbacks, retry once.
                self.producer.poll(0.5)
        with self._lock:
            self.delivery_errors += 1
        if self.metrics:
            self.metrics.delivery_errors.labels(topic).inc()

    def detections(self, rec: FrameDetections) -> None:
        self._produce(TOPIC_DETECTIONS, rec.camera_id, encode(rec))

    def status(self, rec: CameraStatus) -> None:
        self._produce(TOPIC_CAMERA_STATUS, rec.camera_id, encode(rec))

    def poll(self, timeout: float = 0.0) -> None:
        self.producer.poll(timeout)

    def close(self, timeout: float = 15.0) -> int:
        """Flush; return how many records were still undelivered."""
        return self.producer.flush(timeout)
