"""Output topics -> ClickHouse, in batches per table, idempotently.

A plain confluent-kafka consumer loop (no Faust: it only moves rows). Rows are
buffered per topic and each topic's batch is inserted when it is full
(``batch_rows``) or old (``flush_s``; ``backlog_flush_s`` while the sink is
behind, i.e. a fetch came back full: an insert costs about the same for 5 rows
as for 5,000 in tables with materialized views, so when catching up each table
is inserted less often and in bigger batches); that topic's offsets are committed only
after its insert succeeded, so a crash re-inserts rows the store already has,
which its ReplacingMergeTree tables collapse by id.

Failures, per table (one table's trouble never stops another's):

- transient (the store is down, a timeout): the batch is kept and retried
  with exponential backoff up to ``retry_max_s``; while it waits, the topic's
  partitions are paused (backpressure: the loop keeps polling, so the group
  membership and the other tables go on) and resumed once an insert succeeds.
- permanent (the store refuses the rows: a value out of range, a type
  mismatch, a record the writer cannot convert): the batch is split in halves
  until the offending rows are alone; those go to ``bk.quarantine`` with the
  reason (``quarantine``), the rest is stored, and the sink goes on.

Raw detections (``gate_detections``): a frame the camera app dead-lettered
must not be stored as if valid. The sink then also reads the camera app's
progress records and the DLQ, and holds raw frames until the camera app has
processed them and the sink has read the dead letters produced up to then;
the dead-lettered frames are dropped (they are in bk.dead_letters, with the
reason). The gate sees the dead letters of the DLQ partitions this sink
reads: run one sink per group (the embedded runtime does) for it to be exact;
with several, a frame dead-lettered into another sink's DLQ partition can be
stored. Progress offsets are never committed: after a sink restart, held
frames wait for the camera app's next progress record of their partition.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas.records import (
    LOOP_OUTPUT_TOPICS,
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_OPERATOR_RATES,
    TOPIC_PROGRESS,
    TOPIC_RECORDS,
    TOPIC_REGISTRY,
    TOPIC_SLA_BREACHES,
    TOPIC_VIOLATIONS,
    DeadLetter,
    Progress,
    RecordError,
    decode,
    encode,
)
from stream_apps import metrics
from stream_apps.sink.store_writer import TABLES

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
    *LOOP_OUTPUT_TOPICS,
)
RAW_INPUTS = frozenset({TOPIC_DETECTIONS, TOPIC_REGISTRY})
"""Inputs stored raw: a record that does not decode is the camera app's to
dead-letter, not the sink's to quarantine."""

# ClickHouse error codes that retrying cannot fix: the rows are wrong for the table.
PERMANENT_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        117,  # INCORRECT_DATA
        252,  # TOO_MANY_PARTS (too many partitions for a single INSERT block)
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    }
)
_CODE = re.compile(r"Code:\s*(\d+)")


def is_permanent(exc: BaseException) -> bool:
    """Whether an insert error is about the rows (quarantine) rather than the store (retry)."""
    if isinstance(exc, (TypeError, ValueError, OverflowError, RecordError)):
        return True  # raised while converting the rows, before the store was asked
    try:
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):
            return True
    except ImportError:  # pragma: no cover
        pass
    match = _CODE.search(str(exc))
    return match is not None and int(match.group(1)) in PERMANENT_CODES


FETCH_MAX = 10_000
"""Records per consume call; a fetch this full means the sink is behind its input."""


@dataclass
class SinkStats:
    rows: int = 0
    batches: int = 0
    undecodable: int = 0
    insert_failures: int = 0
    quarantined: int = 0
    dead_lettered_frames: int = 0
    last_batch_s: float = 0.0
    stored: dict[tuple[str, int], int] = field(default_factory=dict)
    """Highest offset per (topic, partition) whose row is in the store (or quarantined)."""


@dataclass
class _Batch:
    """One topic's buffered rows, where they came from, and its retry state."""

    records: list = field(default_factory=list)
    sources: list[tuple[int, int]] = field(default_factory=list)
    offsets: dict[int, int] = field(default_factory=dict)
    oldest: float = 0.0
    retry_at: float = 0.0
    delay: float = 0.0
    paused: bool = False


class Sink:
    """Consume ``topics`` and write them with ``write(topic, records) -> rows``."""

    def __init__(
        self,
        consumer_config: dict[str, Any],
        write: Callable[[str, list], int],
        topics: Iterable[str] = SINK_TOPICS,
        batch_rows: int = 50_000,
        flush_s: float = 1.0,
        backlog_flush_s: float = 2.0,
        decoders: dict[str, type] | None = None,
        retry_max_s: float = 30.0,
        observe: Callable[[str, list], None] | None = None,
        quarantine: Callable[[Sequence[tuple[str, int, int, str, bytes]]], int] | None = None,
        gate_detections: bool = False,
    ) -> None:
        self.topics = list(topics)
        self.write = write
        self.quarantine = quarantine
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.backlog_flush_s = max(flush_s, backlog_flush_s)
        self.retry_max_s = retry_max_s
        # Called with (topic, records) after each successful insert, e.g. so the
        # demo can show live counts without querying the store.
        self.observe = observe
        self.record_types = decoders or {t: TOPIC_RECORDS[t] for t in self.topics}
        self.gate = gate_detections and TOPIC_DETECTIONS in self.topics
        subscribed = list(self.topics)
        if self.gate:
            subscribed += [TOPIC_PROGRESS] + ([] if TOPIC_DLQ in subscribed else [TOPIC_DLQ])
        conf = {
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "fetch.max.bytes": 32 << 20,
            "queued.max.messages.kbytes": 256 << 10,
            **consumer_config,
        }
        self.consumer = Consumer(conf)
        self.group = str(conf.get("group.id", ""))
        self.fleet = metrics.FleetMetrics()  # cameras online, violations opened, latency
        self._assigned: set[tuple[str, int]] = set()
        self.consumer.subscribe(subscribed, on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.stats = SinkStats()
        # The registry first: bk.detections_minute (0240) places each frame at its
        # camera's station as bk.cameras has it when the frame is inserted.
        self._batches: dict[str, _Batch] = {
            t: _Batch() for t in sorted(self.topics, key=lambda t: t != TOPIC_REGISTRY)
        }
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Gate of raw detections: frames held per partition until the camera app
        # has processed them; dead-lettered (partition, offset); the camera app's
        # progress marks (offset, DLQ offsets produced by then) per partition;
        # the highest DLQ offset read per DLQ partition.
        self._held: dict[int, list[tuple[int, Any]]] = {}
        self._dead_frames: set[tuple[int, int]] = set()
        self._marks: dict[int, list[tuple[int, dict[int, int]]]] = {}
        self._dlq_read: dict[int, int] = {}
        # Per detections partition: frames up to this offset are decided (the
        # camera app processed them and their dead letters have been read).
        self._safe: dict[int, int] = {}

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.difference_update((tp.topic, tp.partition) for tp in partitions)

    @property
    def _buffered(self) -> int:
        """Rows waiting for an insert, all tables (and held raw frames)."""
        return sum(len(b.records) for b in self._batches.values()) + sum(
            len(h) for h in self._held.values()
        )

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
        msgs = self.consumer.consume(num_messages=FETCH_MAX, timeout=timeout)
        now = time.monotonic()
        max_age = self.backlog_flush_s if len(msgs) >= FETCH_MAX else self.flush_s
        for msg in msgs:
            if msg.error():
                log.warning("sink consumer error: %s", msg.error())
                continue
            self._route(msg.topic(), msg.partition(), msg.offset(), msg.value(), now)
        if self.gate:
            self._release_frames(now)
        registry = self._batches.get(TOPIC_REGISTRY)
        for topic, batch in self._batches.items():
            if not batch.offsets or now < batch.retry_at:
                continue
            if len(batch.records) >= self.batch_rows or now - batch.oldest >= max_age or not msgs:
                if topic == TOPIC_DETECTIONS and registry is not None and registry.offsets:
                    self._flush_topic(TOPIC_REGISTRY, registry)  # cameras before their frames
                self._flush_topic(topic, batch)

    def _route(self, topic: str, partition: int, offset: int, value: bytes | None, now: float):
        if self.gate and topic == TOPIC_PROGRESS:
            self._on_progress(value)
            return
        batch = self._batches.get(topic)
        record = None
        if value is not None:
            try:
                record = decode(self.record_types[topic], value) if batch is not None else None
            except RecordError as exc:
                self.stats.undecodable += 1
                metrics.SINK_UNDECODABLE.inc()
                if topic not in RAW_INPUTS and batch is not None:
                    try:
                        self._quarantine_now(
                            [(topic, partition, offset, f"undecodable: {exc}", value)]
                        )
                    except Exception:
                        log.exception("could not quarantine %s[%d]@%d", topic, partition, offset)
        if self.gate and topic == TOPIC_DLQ:
            if offset > self._dlq_read.get(partition, -1):
                self._dlq_read[partition] = offset
            letter = record if isinstance(record, DeadLetter) else None
            if letter is not None and letter.source_topic == TOPIC_DETECTIONS:
                self._dead_frames.add((letter.partition, letter.offset))
        if batch is None:
            return
        if self.gate and topic == TOPIC_DETECTIONS:
            self._held.setdefault(partition, []).append((offset, record))
            return
        self._add(batch, partition, offset, record, now)

    def _add(self, batch: _Batch, partition: int, offset: int, record: Any, now: float) -> None:
        if record is not None:
            if not batch.records:
                batch.oldest = now
            batch.records.append(record)
            batch.sources.append((partition, offset))
        elif not batch.offsets:
            batch.oldest = now
        batch.offsets[partition] = offset

    # -- the gate of raw detections ----------------------------------------------
    def _on_progress(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            p = decode(Progress, value)
        except RecordError:
            return
        if p.app != "cameras" or p.topic != TOPIC_DETECTIONS:
            return
        dlq = {}
        for name, off in p.outputs.items():
            topic, _, part = name.rpartition("/")
            if topic == TOPIC_DLQ:
                dlq[int(part)] = off
        self._marks.setdefault(p.partition, []).append((p.offset, dlq))

    def _release_frames(self, now: float) -> None:
        batch = self._batches[TOPIC_DETECTIONS]
        # Only the DLQ partitions this sink reads can be waited for: with several
        # sinks in one group the others' dead letters are not seen (documented).
        mine = {p for t, p in self._assigned if t == TOPIC_DLQ}
        for partition, marks in self._marks.items():
            upto = self._safe.get(partition, -1)
            while marks and all(
                self._dlq_read.get(q, -1) >= o for q, o in marks[0][1].items() if q in mine
            ):
                upto = max(upto, marks.pop(0)[0])
            self._safe[partition] = upto
        for partition, held in self._held.items():
            upto = self._safe.get(partition, -1)
            if upto < 0 or not held:
                continue
            # Held in offset order (one partition is read in order): release a prefix.
            n = 0
            dead = self._dead_frames
            for offset, record in held:
                if offset > upto:
                    break
                n += 1
                if dead and (partition, offset) in dead:
                    dead.discard((partition, offset))
                    self.stats.dead_lettered_frames += 1
                    record = None
                self._add(batch, partition, offset, record, now)
            if n:
                del held[:n]

    # -- inserting ------------------------------------------------------------------
    def flush(self) -> None:
        """Insert every buffered row of every table (retrying transient errors), commit."""
        if self.gate:
            self._release_frames(time.monotonic())
        for topic, batch in self._batches.items():
            while batch.offsets:
                if not self._flush_topic(topic, batch):
                    if self._stop.is_set() and batch.delay >= self.retry_max_s:
                        raise RuntimeError(f"the store refuses {topic} rows; giving up on stop")
                    time.sleep(max(0.0, batch.retry_at - time.monotonic()))

    def _flush_topic(self, topic: str, batch: _Batch) -> bool:
        """Insert one table's batch and commit its offsets; False if it must wait and retry."""
        started = time.monotonic()
        try:
            if batch.records:
                self._insert_isolating(topic, batch.records, batch.sources)
        except Exception as exc:
            self.stats.insert_failures += 1
            metrics.SINK_INSERT_FAILURES.inc()
            batch.delay = min(max(batch.delay * 2, 0.5), self.retry_max_s)
            batch.retry_at = time.monotonic() + batch.delay
            log.warning(
                "store insert of %d %s rows failed (%s); retrying in %.1fs",
                len(batch.records), topic, exc, batch.delay,
            )  # fmt: skip
            if not batch.paused:  # read no further ahead until the table takes rows again
                self._pause(topic, batch, True)
            return False
        offsets = [TopicPartition(topic, p, o + 1) for p, o in batch.offsets.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # a rebalance: the next owner re-inserts (idempotent)
            log.warning("commit of %s offsets failed: %s", topic, exc)
        if self.observe is not None and batch.records:
            self.observe(topic, batch.records)
        with self._lock:
            self.stats.rows += len(batch.records)
            self.stats.stored.update({(topic, p): o for p, o in batch.offsets.items()})
        self.stats.batches += 1
        self.stats.last_batch_s = time.monotonic() - started
        if batch.records:
            metrics.SINK_ROWS.labels(TABLES.get(topic, (topic,))[0]).inc(len(batch.records))
            self.fleet.stored(topic, batch.records)
        metrics.SINK_BATCHES.inc()
        metrics.SINK_BATCH_SECONDS.observe(self.stats.last_batch_s)
        metrics.export_lag(self.group, self.consumer, self.consumer.assignment())
        batch.records, batch.sources, batch.offsets = [], [], {}
        batch.delay = batch.retry_at = 0.0
        if batch.paused:
            self._pause(topic, batch, False)
        return True

    def _insert_isolating(self, topic: str, records: list, sources: list) -> None:
        """Insert; on a permanent error split the rows until the bad ones are alone."""
        try:
            self.write(topic, records)
            return
        except Exception as exc:
            if not is_permanent(exc):
                raise
            if len(records) == 1:
                partition, offset = sources[0]
                reason = f"{type(exc).__name__}: {str(exc).strip()[:500]}"
                log.error("quarantined %s[%d]@%d: %s", topic, partition, offset, reason)
                self._quarantine_now([(topic, partition, offset, reason, encode(records[0]))])
                return
        half = len(records) // 2
        self._insert_isolating(topic, records[:half], sources[:half])
        self._insert_isolating(topic, records[half:], sources[half:])

    def _quarantine_now(self, rows: list[tuple[str, int, int, str, bytes]]) -> None:
        self.stats.quarantined += len(rows)
        if self.quarantine is None:
            log.error("no quarantine table: %d rows dropped: %s", len(rows), rows[0][3])
            return
        self.quarantine(rows)  # a failure here is transient: the batch is retried

    def _pause(self, topic: str, batch: _Batch, pause: bool) -> None:
        mine = [TopicPartition(t, p) for t, p in self._assigned if t == topic]
        if mine:
            (self.consumer.pause if pause else self.consumer.resume)(mine)
        batch.paused = pause
        log.info("%s %s (store backpressure)", "paused" if pause else "resumed", topic)

    def stored(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self.stats.stored)
