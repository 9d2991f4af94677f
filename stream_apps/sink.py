"""Output topics -> ClickHouse, in batches, idempotently.

A plain confluent-kafka consumer loop (no Faust: it only moves rows). Rows are
buffered per topic and inserted when a batch is full (``batch_rows``) or old
(``flush_s``); offsets are committed only after the insert succeeded, so a
crash re-inserts rows the store already has, which its ReplacingMergeTree
tables collapse by id. When an insert fails the sink stops consuming and
retries with backoff (backpressure) instead of dropping rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_OPERATOR_RATES,
    TOPIC_RECORDS,
    TOPIC_REGISTRY,
    TOPIC_SLA_BREACHES,
    TOPIC_VIOLATIONS,
    RecordError,
    decode,
)
from stream_apps import metrics
from stream_apps.store_writer import TABLES

log = logging.getLogger(__name__)

SINK_TOPICS: tuple[str, ...] = (
    TOPIC_VIOLATIONS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DLQ,
    TOPIC_DETECTIONS,
    TOPIC_REGISTRY,
    TOPIC_ALERTS,
    TOPIC_SLA_BREACHES,
    TOPIC_OPERATOR_RATES,
)


@dataclass
class SinkStats:
    rows: int = 0
    batches: int = 0
    undecodable: int = 0
    insert_failures: int = 0
    last_batch_s: float = 0.0
    stored: dict[tuple[str, int], int] = field(default_factory=dict)
    """Highest offset per (topic, partition) whose row is in the store."""


class Sink:
    """Consume ``topics`` and write them with ``write(topic, records) -> rows``."""

    def __init__(
        self,
        consumer_config: dict[str, Any],
        write: Callable[[str, list], int],
        topics: Iterable[str] = SINK_TOPICS,
        batch_rows: int = 50_000,
        flush_s: float = 1.0,
        decoders: dict[str, type] | None = None,
        retry_max_s: float = 30.0,
        observe: Callable[[str, list], None] | None = None,
    ) -> None:
        self.topics = list(topics)
        self.write = write
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.retry_max_s = retry_max_s
        # Called with (topic, records) after each successful insert, e.g. so the
        # demo can show live counts without querying the store.
        self.observe = observe
        self.record_types = decoders or {t: TOPIC_RECORDS[t] for t in self.topics}
        conf = {
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "fetch.max.bytes": 32 << 20,
            "queued.max.messages.kbytes": 256 << 10,
            **consumer_config,
        }
        self.consumer = Consumer(conf)
        self.consumer.subscribe(self.topics)
        self.stats = SinkStats()
        self._buffers: dict[str, list] = {t: [] for t in self.topics}
        self._pending_offsets: dict[tuple[str, int], int] = {}
        self._buffered = 0
        self._oldest = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.group = str(conf.get("group.id", ""))
        self.fleet = metrics.FleetMetrics()

    # -- running ---------------------------------------------------------------
    def run(self) -> None:
        """Consume until :meth:`stop`; flushes what is buffered before returning."""
        try:
            while not self._stop.is_set():
                self.poll_once()
            self.flush()
        finally:
            self.consumer.close()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="bk-sink", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def poll_once(self, timeout: float = 0.2) -> None:
        msgs = self.consumer.consume(num_messages=10_000, timeout=timeout)
        for msg in msgs:
            if msg.error():
                log.warning("sink consumer error: %s", msg.error())
                continue
            topic = msg.topic()
            value = msg.value()
            try:
                record = decode(self.record_types[topic], value) if value is not None else None
            except RecordError:
                # Bad input records are dead-lettered by the stream app; the
                # raw table only keeps valid frames.
                record = None
                self.stats.undecodable += 1
                metrics.SINK_UNDECODABLE.inc()
            if record is not None:
                self._buffers[topic].append(record)
                if not self._buffered:
                    self._oldest = time.monotonic()
                self._buffered += 1
            self._pending_offsets[(topic, msg.partition())] = msg.offset()
        if self._pending_offsets and (
            self._buffered >= self.batch_rows
            or time.monotonic() - self._oldest >= self.flush_s
            or not msgs
        ):
            self.flush()

    def flush(self) -> None:
        """Insert every buffered row, retrying with backoff; then commit offsets."""
        if not self._pending_offsets:
            return
        started = time.monotonic()
        for topic, records in self._buffers.items():
            if records:
                self._insert(topic, records)
                self.stats.rows += len(records)
                metrics.SINK_ROWS.labels(TABLES.get(topic, (topic,))[0]).inc(len(records))
                self.fleet.stored(topic, records)
                if self.observe is not None:
                    self.observe(topic, records)
                records.clear()
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in self._pending_offsets.items()]
        self.consumer.commit(offsets=offsets, asynchronous=False)
        with self._lock:
            self.stats.stored.update(self._pending_offsets)
        self._pending_offsets.clear()
        self._buffered = 0
        self.stats.batches += 1
        self.stats.last_batch_s = time.monotonic() - started
        metrics.SINK_BATCHES.inc()
        metrics.SINK_BATCH_SECONDS.observe(self.stats.last_batch_s)
        metrics.export_lag(self.group, self.consumer, self.consumer.assignment())

    def stored(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self.stats.stored)

    def _insert(self, topic: str, records: list) -> None:
        delay = 0.5
        while True:
            try:
                self.write(topic, records)
                return
            except Exception as exc:
                self.stats.insert_failures += 1
                metrics.SINK_INSERT_FAILURES.inc()
                if self._stop.is_set() and delay >= self.retry_max_s:
                    raise
                log.warning(
                    "store insert of %d %s rows failed (%s); retrying in %.1fs",
                    len(records),
                    topic,
                    exc,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
