"""The camera stage host: a batched confluent-kafka consumer around CameraPipeline.

No Faust on the per-record path (see docs/scaling.md for the measurements):
one loop fetches a batch of up to ``batch_max`` records, hands each to the
framework-free :class:`~stream_apps.pipelines.camera.CameraPipeline`, advances
the touched partitions' clocks, produces the outputs, waits for their
delivery, then reports progress (``bk.progress.v1``) and commits.

Partitions and state
    The group consumer subscribes to the detections topic only, with the
    ``cooperative-sticky`` assignor (a rebalance moves only the partitions
    that change owner). The co-partitioned registry and camera-status
    partitions of the same numbers are read by a second, assign-only consumer
    of this process, so one partition number's cameras always live in one
    worker whatever the assignor decides.

    On assignment each partition's latest checkpoint is restored from the
    compacted ``bk.state.cameras.v1`` and every input of that partition is
    read from the offset the checkpoint covers (from the start when there is
    none), whatever the group committed: the state and the input always line
    up, and the records between the checkpoint and a crash are processed
    again (at-least-once; every output carries a deterministic id, so the
    store deduplicates them). Committed offsets are kept up to date for lag
    monitoring only. On revocation (and on SIGTERM) the partition is
    checkpointed before it is given away.

Acknowledgements
    A third assign-only consumer reads every partition of ``bk.alerts.v1``
    from the start (again after each assignment, since a restored state may
    predate them): an ``angle_changed`` alert an inspector verified or closed
    re-baselines its camera once the camera's partition clock reaches the
    acknowledgement (re-applying one is a no-op).

Bad input goes to the DLQ (the pipeline decides); an unexpected exception on
one record dead-letters that record with the error instead of stopping the
stage. A failed delivery ends the process (exit 70) so its supervisor
restarts it from the last checkpoint, which is safe.

Build with :func:`build` (``brightkitchen stream --app cameras``,
``python -m stream_apps cameras``); importing this module does no work.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from math import inf
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from prometheus_client import Counter

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    Progress,
    encode,
)
from stream_apps.partition_reader import read_latest
from stream_apps.pipelines.camera import CLOCK_TOPICS, STATE_TOPIC, CameraPipeline
from stream_apps.pipelines.output import Output
from stream_apps.shells.gc_policy import tune_for_throughput
from stream_apps.shells.input_end import read_input_end

if TYPE_CHECKING:  # the entry point loads Settings and hands it down
    from brightkitchen.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "cameras"
GROUP_TOPIC = TOPIC_DETECTIONS
SIDE_TOPICS = (TOPIC_REGISTRY, TOPIC_CAMERA_STATUS)
INPUTS = (TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
LIVE_CLOCK_EVERY_S = 5.0
INPUT_END_CHECK_EVERY_S = 0.5
"""How often a replay's worker looks for the runtime's input end file."""


def _metrics() -> tuple[Counter, Counter, Counter]:
    """Input records, outputs and dead letters: defined once in stream_apps.metrics."""
    from stream_apps.metrics import DEAD_LETTERS, STREAM_OUTPUTS, STREAM_RECORDS

    return STREAM_RECORDS, STREAM_OUTPUTS, DEAD_LETTERS


class DeliveryError(RuntimeError):
    """An output could not be delivered: the batch is not done, nothing is reported."""


class CameraShell:
    """One camera worker: consumers, producer and the pipeline they feed."""

    def __init__(
        self,
        settings: Settings,
        pipeline: CameraPipeline,
        consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        base = {"bootstrap.servers": settings.kafka_bootstrap, **settings.kafka_consumer_config()}
        self.reader_config = base
        self.consumer = consumer_factory(
            {
                **base,
                "group.id": settings.app_id,
                "partition.assignment.strategy": "cooperative-sticky",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
                "fetch.max.bytes": 32 << 20,
                "queued.max.messages.kbytes": 128 << 10,
            }
        )
        self.side = consumer_factory(
            {
                **base,
                "group.id": f"{settings.app_id}-side",  # assign() only: never joins
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        # bk.alerts.v1, every partition from the start (assign only): acknowledged
        # angle changes re-baseline cameras (CameraPipeline.apply_alert).
        self.alerts_reader = consumer_factory(
            {
                **base,
                "group.id": f"{settings.app_id}-alerts",  # assign() only: never joins
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._rewind_alerts_at: float | None = 0.0  # monotonic time of the next try
        self.producer = producer_factory(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                **settings.kafka_client_config(),
                "enable.idempotence": True,
                "partitioner": "murmur2_random",  # what the Java clients and aiokafka use
                "linger.ms": 5,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 500000,
            }
        )
        self.owned: set[int] = set()
        self.delivered: dict[str, int] = {}
        self.delivery_errors: list[str] = []
        self.last_checkpoint: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.final_checkpoint = True  # stop(checkpoint=False) clears it
        self._last_live = time.monotonic()
        self.input_end: dict[int, int] | None = None  # replay: last offset per partition
        self.ended: set[int] = set()  # owned partitions that read their frames to the end
        self._last_end_check = float("-inf")

    # -- running -------------------------------------------------------------------
    def run(self) -> None:
        """Consume until :meth:`stop` (SIGTERM/SIGINT when run from the CLI)."""
        self.consumer.subscribe(
            [GROUP_TOPIC], on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip
        log.info("camera stage consuming %s (group %s)", GROUP_TOPIC, self.settings.app_id)
        try:
            while not self.stop_event.is_set():
                self.poll_once()
            self._give_back_all()
        finally:
            self.consumer.close()
            self.side.close()
            self.alerts_reader.close()
            self.producer.flush(30)

    def stop(self, checkpoint: bool = True) -> None:
        """Stop after the batch in hand; ``checkpoint=False`` skips the final
        checkpoint (the broker goes down with this worker: an embedded, in-memory
        one at the end of a replay, where it was ~11 s of writing at 10^5 cameras)."""
        self.final_checkpoint = self.final_checkpoint and checkpoint
        self.stop_event.set()

    def poll_once(self) -> int:
        """One batch: consume, process, produce, wait for delivery, report, commit."""
        s = self.settings
        msgs = self.consumer.consume(num_messages=s.batch_max, timeout=s.batch_within_s)
        if self.owned:
            msgs += self.side.consume(num_messages=s.batch_max, timeout=0)
        outputs: list[Output] = []
        last: dict[tuple[str, int], int] = {}
        per_topic: dict[str, int] = {}
        pipeline = self.pipeline
        for msg in msgs:
            if msg.error():
                log.warning("consumer error: %s", msg.error())
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if partition not in self.owned:
                continue  # fetched before a revocation
            try:
                outputs += pipeline.handle(topic, partition, offset, msg.key(), msg.value())
            except Exception as exc:  # a bug must not stop every camera: DLQ the record
                log.exception("camera pipeline failed on %s[%d]@%d", topic, partition, offset)
                outputs.append(
                    pipeline.dead_letter(
                        f"internal error: {type(exc).__name__}: {exc}",
                        topic, partition, offset, msg.key(), msg.value(),
                    )
                )  # fmt: skip
            last[(topic, partition)] = offset
            per_topic[topic] = per_topic.get(topic, 0) + 1
        if per_topic:
            records = _metrics()[0]
            for topic, n in per_topic.items():
                records.labels(topic).inc(n)
        touched = {p for _, p in last}
        consumed = len(last)
        if self.owned:
            outputs += self._read_alerts(last)
        for partition in touched:
            outputs += pipeline.advance(partition)
        now = time.monotonic()
        live_tick = s.live_clock_lag_s is not None and now - self._last_live >= LIVE_CLOCK_EVERY_S
        if live_tick:
            self._last_live = now
            wall = time.time() - s.live_clock_lag_s
            for partition in self.owned:
                outputs += pipeline.advance(partition, wall)
            # Every owned partition reports its clock, so a partition whose
            # cameras all went silent does not hold the ops app's clock back.
            for partition in self.owned:
                last.setdefault(
                    (GROUP_TOPIC, partition), pipeline.expected_offset(GROUP_TOPIC, partition) - 1
                )
        for partition in self._newly_ended(now):
            # Nothing more to read: the status clock moves this partition too.
            outputs += pipeline.flush_held_future(partition)
            pipeline.set_idle(partition, GROUP_TOPIC)
            outputs += pipeline.advance(partition)
            last.setdefault(
                (GROUP_TOPIC, partition), pipeline.expected_offset(GROUP_TOPIC, partition) - 1
            )
        # At most one partition's checkpoint per batch, the most overdue: a city
        # partition's checkpoint is tens of MB, and taking all at once stalls
        # every camera for seconds (assignment staggers their due times).
        taken = self.last_checkpoint
        oldest = min(self.owned, key=lambda p: (taken.get(p, 0.0), p), default=None)
        if oldest is not None and now - taken.get(oldest, 0.0) >= s.checkpoint_interval_s:
            outputs += pipeline.checkpoint(oldest)
            taken[oldest] = now
        if not last and not outputs:
            return 0
        self.produce(outputs)
        if last:
            self.report(last)
            self._commit()
        return consumed

    def _read_alerts(self, last: dict[tuple[str, int], int]) -> list[Output]:
        """Alerts since the last batch (all of them again after an assignment); what
        was read is reported like any input (``last``), so a replay waits for it."""
        due = self._rewind_alerts_at
        if due is not None and time.monotonic() >= due:
            try:
                topic = self.alerts_reader.list_topics(TOPIC_ALERTS, timeout=5).topics.get(
                    TOPIC_ALERTS
                )
            except KafkaException as exc:
                topic, why = None, str(exc)
            else:
                why = "no such topic" if topic is None or topic.error else ""
            if why:
                log.warning("cannot read %s yet (%s): retrying", TOPIC_ALERTS, why)
                self._rewind_alerts_at = time.monotonic() + 5.0
                return []
            self.alerts_reader.assign(
                [TopicPartition(TOPIC_ALERTS, p, OFFSET_BEGINNING) for p in topic.partitions]
            )
            self._rewind_alerts_at = None
        if self._rewind_alerts_at is not None:
            return []
        out: list[Output] = []
        handle = self.pipeline.handle_alert
        for msg in self.alerts_reader.consume(num_messages=self.settings.batch_max, timeout=0):
            if not msg.error():
                out += handle(msg.partition(), msg.offset(), msg.key(), msg.value())
                last[(TOPIC_ALERTS, msg.partition())] = msg.offset()
        return out

    def _newly_ended(self, now: float) -> list[int]:
        """Owned partitions that have just read their frames up to the input's end (replay)."""
        path = self.settings.input_end_file
        if path is None or self.owned <= self.ended:
            return []
        if self.input_end is None:
            if now - self._last_end_check < INPUT_END_CHECK_EVERY_S:
                return []
            self._last_end_check = now
            self.input_end = read_input_end(path)
            if self.input_end is None:
                return []
        ends = self.input_end
        new = [
            p
            for p in sorted(self.owned - self.ended)
            if self.pipeline.expected_offset(GROUP_TOPIC, p) > ends.get(p, -1)
        ]
        self.ended.update(new)
        return new

    # -- producing -------------------------------------------------------------------
    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self.delivery_errors.append(f"{msg.topic()}: {err}")
            return
        topic = msg.topic()
        if topic in (STATE_TOPIC, TOPIC_PROGRESS):
            return
        name = f"{topic}/{msg.partition()}"
        if msg.offset() > self.delivered.get(name, -1):
            self.delivered[name] = msg.offset()

    def produce(self, outputs: list[Output]) -> None:
        """Produce ``outputs`` and wait until every one is delivered."""
        producer = self.producer
        counted: dict[str, int] = {}
        for out in outputs:
            kwargs = {} if out.partition is None else {"partition": out.partition}
            while True:
                try:
                    producer.produce(
                        out.topic, out.value, out.key, on_delivery=self._on_delivery, **kwargs
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            counted[out.topic] = counted.get(out.topic, 0) + 1
        if counted:
            _, outputs_total, dead_letters = _metrics()
            for topic, n in counted.items():
                outputs_total.labels(APP_NAME, topic).inc(n)
            if TOPIC_DLQ in counted:
                dead_letters.labels(APP_NAME).inc(counted[TOPIC_DLQ])
        left = producer.flush(60)
        if left or self.delivery_errors:
            raise DeliveryError(f"{left} outputs undelivered; errors: {self.delivery_errors[:3]}")

    def report(self, last: dict[tuple[str, int], int]) -> None:
        """Progress per input partition of the batch; delivered with the next flush."""
        partitions = self.pipeline.partitions
        for (topic, partition), offset in last.items():
            watermark = origin = None
            if topic in CLOCK_TOPICS:
                eng = partitions.get(partition)
                if eng is not None and eng.watermark != -inf:
                    watermark, origin = eng.watermark, eng.origin
            msg = Progress(
                app=APP_NAME,
                topic=topic,
                partition=partition,
                offset=offset,
                outputs=self.delivered,
                watermark=watermark,
                origin=origin,
                input_ended=topic in CLOCK_TOPICS and partition in self.ended,
            )
            self.producer.produce(TOPIC_PROGRESS, encode(msg), f"{topic}/{partition}")
        self.producer.poll(0)

    def _commit(self) -> None:
        """Commit the group's offsets (for lag monitoring; restores use checkpoints)."""
        offsets = [
            TopicPartition(GROUP_TOPIC, p, o)
            for p in self.owned
            if (o := self.pipeline.expected_offset(GROUP_TOPIC, p)) > 0
        ]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            except KafkaException as exc:  # e.g. mid-rebalance: the next batch commits
                log.debug("commit skipped: %s", exc)

    # -- partitions ------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        new = sorted({tp.partition for tp in partitions} - self.owned)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(new)))) as pool:
            states = list(
                pool.map(
                    lambda p: read_latest(self.reader_config, STATE_TOPIC, p), new
                )
            )  # fmt: skip
        group_tps, side_tps = [], []
        now = time.monotonic()
        if new:  # their state may predate acknowledgements: read the alerts again
            self._rewind_alerts_at = 0.0
        for i, (partition, state) in enumerate(zip(new, states, strict=True)):
            self.pipeline.restore(partition, state)
            self.owned.add(partition)
            # Due times spread over one interval, so checkpoints do not come together.
            self.last_checkpoint[partition] = now - self.settings.checkpoint_interval_s * (
                i / len(new)
            )

            def start(topic: str, p: int = partition) -> TopicPartition:
                offset = self.pipeline.expected_offset(topic, p)
                return TopicPartition(topic, p, offset if offset > 0 else OFFSET_BEGINNING)

            group_tps.append(start(GROUP_TOPIC))
            side_tps += [start(t) for t in SIDE_TOPICS]
        log.info("assigned partitions %s (restored from checkpoints)", new)
        consumer.incremental_assign(group_tps)
        if side_tps:
            self.side.incremental_assign(side_tps)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Checkpoint what this worker gives away, then forget it."""
        gone = sorted({tp.partition for tp in partitions} & self.owned)
        outputs: list[Output] = []
        for partition in gone:
            outputs += self.pipeline.checkpoint(partition)
        try:
            self.produce(outputs)
        finally:
            self._forget(gone)
            consumer.incremental_unassign(partitions)
        log.info("revoked partitions %s (checkpointed)", gone)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions lost without a clean revoke: another worker owns them already."""
        gone = sorted({tp.partition for tp in partitions} & self.owned)
        self._forget(gone)
        consumer.incremental_unassign(partitions)
        log.warning("lost partitions %s (not checkpointed)", gone)

    def _forget(self, gone: list[int]) -> None:
        side = [TopicPartition(t, p) for p in gone for t in SIDE_TOPICS]
        if side:
            self.side.incremental_unassign(side)
        for partition in gone:
            self.pipeline.drop(partition)
            self.owned.discard(partition)
            self.ended.discard(partition)
            self.last_checkpoint.pop(partition, None)

    def _give_back_all(self) -> None:
        """Stopping: checkpoint every owned partition (close() then revokes nothing)."""
        if self.final_checkpoint:
            outputs: list[Output] = []
            for partition in sorted(self.owned):
                outputs += self.pipeline.checkpoint(partition)
            self.produce(outputs)
            self._commit()
        self._forget(sorted(self.owned))


STOP_WITHOUT_CHECKPOINT = signal.SIGUSR1
"""Stop like SIGTERM but skip the final checkpoint: sent by the embedded runtime,
whose in-memory broker (and the checkpoints in it) goes away with the worker."""


def build(settings: Settings) -> CameraShell:
    """The camera worker the settings describe (nothing starts until ``run``)."""
    from stream_apps.engines.camera_health import CameraHealthEngine

    pipeline = CameraPipeline(
        settings.violations,
        health_factory=functools.partial(CameraHealthEngine, settings.camera_health),
        app_name=APP_NAME,
        live=settings.live_clock_lag_s is not None,
    )
    return CameraShell(settings, pipeline)


def main(settings: Settings) -> None:
    """Run one camera worker until SIGTERM/SIGINT; serve /metrics on ``web_port``."""
    from prometheus_client import start_http_server

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    shell = build(settings)
    start_http_server(settings.web_port, addr=settings.web_bind)
    tune_for_throughput()

    def on_signal(signum, frame) -> None:
        shell.stop(checkpoint=signum != STOP_WITHOUT_CHECKPOINT)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(STOP_WITHOUT_CHECKPOINT, on_signal)
    try:
        shell.run()
    except Exception:
        log.critical("the camera stage crashed; stopping the worker", exc_info=True)
        logging.shutdown()
        os._exit(70)
