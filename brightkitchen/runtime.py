"""The whole pipeline as one object: broker, store, stream workers, sink.

``demo`` and ``replay`` both run inside a :class:`PipelineRuntime`: it starts
what the settings leave unconfigured (the embedded Tansu broker, the chdb
store), the two stream apps (``cameras``, the batched host of
stream_apps/shells/cameras.py, and ``ops``, a Faust app) as child processes and
the sink in a thread of this process (the one that owns the embedded store),
and stops all of them on exit.

Completion is decided by counting, never by consumer lag (Tansu's high
watermark can trail the log): the publisher records the offset of every record
it sent, each stream app reports the offsets it has processed and the outputs
it produced (``bk.progress.v1``), and the sink reports what it has stored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from brightkitchen import store
from brightkitchen.embedded import EmbeddedBroker, create_topics, free_port, start_broker
from brightkitchen.settings import Settings
from clickhouse.migrate import migrate
from schemas.records import (
    TOPIC_DETECTIONS,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    Progress,
    decode,
)
from stream_apps.shells.cameras import STOP_WITHOUT_CHECKPOINT
from stream_apps.shells.input_end import write_input_end
from stream_apps.sink.consumer import Sink
from stream_apps.sink.store_writer import StoreWriter

# Which stream app consumes which input topic (bk.progress.v1 `app` field).
CONSUMERS: dict[str, tuple[str, ...]] = {
    "bk.registry.v1": ("cameras", "ops"),
    "bk.detections.v1": ("cameras",),
    "bk.camera-status.v1": ("cameras",),
    "bk.dispositions.v1": ("ops",),
    "bk.inspections.v1": ("ops",),
}
# Outputs of the camera app that the ops app consumes.
OPS_FROM_CAMERAS = ("bk.violations.v1", "bk.camera-events.v1")
# Outputs of the ops app that the camera app consumes (acknowledged angle changes).
CAMERAS_FROM_OPS = ("bk.alerts.v1",)
# Input topics the sink stores raw.
SINK_INPUTS = (TOPIC_DETECTIONS, TOPIC_REGISTRY)
STREAM_APPS = ("cameras", "ops")


class PipelineError(RuntimeError):
    """The pipeline stopped making progress or a part of it died."""


class ProgressTracker:
    """Follows bk.progress.v1: processed offsets and produced outputs per app."""

    def __init__(self, client_config: dict[str, Any]) -> None:
        self.processed: dict[tuple[str, str, int], int] = {}
        self.outputs: dict[tuple[str, int], int] = {}
        # Highest offset of the camera app's own progress records per
        # partition: the ops app must have read them (they carry its clock).
        self.camera_marks: dict[int, int] = {}
        # Detections partitions whose camera worker read them to the input's end.
        self.ended: set[int] = set()
        self.changed = threading.Condition()
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                **client_config,
                "group.id": f"bk-progress-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
            }
        )
        self._consumer.subscribe([TOPIC_PROGRESS])
        self._thread = threading.Thread(target=self._run, name="bk-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msgs = self._consumer.consume(num_messages=1000, timeout=0.2)
                if not msgs:
                    continue
                with self.changed:
                    for msg in msgs:
                        if msg.error() or msg.value() is None:
                            continue
                        p = decode(Progress, msg.value())
                        if p.app == "cameras":
                            self.camera_marks[msg.partition()] = msg.offset()
                            if p.input_ended:
                                self.ended.add(p.partition)
                        key = (p.app, p.topic, p.partition)
                        if p.offset > self.processed.get(key, -1):
                            self.processed[key] = p.offset
                        for name, offset in p.outputs.items():
                            topic, _, part = name.rpartition("/")
                            tp = (topic, int(part))
                            if offset > self.outputs.get(tp, -1):
                                self.outputs[tp] = offset
                    self.changed.notify_all()
        finally:
            self._consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


class PipelineRuntime(contextlib.AbstractContextManager):
    """Start broker/store/worker/sink as the settings ask; stop them on exit."""

    def __init__(
        self,
        settings: Settings,
        start_worker: bool | None = None,
        log: Callable[[str], None] = lambda s: None,
        log_dir: Path | None = None,
        observe: Callable[[str, list], None] | None = None,
    ) -> None:
        self.settings = settings
        self.observe = observe
        self.log = log
        self.start_worker = settings.embedded_broker if start_worker is None else start_worker
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bk-logs-"))
        # Workers get these settings whole (not a handful of variables), so a
        # Settings built in code configures them exactly as it configures us.
        self.input_end_file = self.log_dir / "input-end.json"
        self.settings_file = settings.model_copy(
            update={"input_end_file": self.input_end_file}
        ).to_file(self.log_dir)
        self.input_ended = False
        self.broker: EmbeddedBroker | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.sink: Sink | None = None
        self.sink_thread: threading.Thread | None = None
        self.progress: ProgressTracker | None = None
        self.producer: Producer | None = None
        self.client: Any = None
        self.sent: dict[tuple[str, int], int] = {}
        self.sent_count = 0
        self.delivery_errors: list[str] = []
        self.bootstrap = settings.kafka_bootstrap or ""
        self.run_id = uuid.uuid4().hex[:8]

    # -- start/stop --------------------------------------------------------------
    def __enter__(self) -> PipelineRuntime:
        # SIGTERM (a supervisor, `timeout`, a test's terminate()) ends Python without
        # unwinding, which would orphan the broker and the workers: turn it into
        # SystemExit so that close() runs. Signal handlers live in the main thread.
        self._previous_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # already stopping: finish it
        try:
            self.close()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)

    def _start(self) -> None:
        s = self.settings
        if s.embedded_broker:
            self.broker = start_broker()
            self.bootstrap = self.broker.bootstrap
            self.log(f"embedded broker (Tansu) on {self.bootstrap}")
        created = create_topics(
            self.bootstrap,
            partitions=s.partitions,
            replication_factor=s.replication_factor,
            retention_ms=s.retention_ms,
            client_config=s.kafka_client_config(),
        )
        if created:
            self.log(f"created {len(created)} topics with {s.partitions} partitions")
        if self.start_worker:  # they never touch the store: they boot while it migrates
            for name in STREAM_APPS:
                self.workers[name] = self._spawn_worker(name)
        self.client = store.connect(s)
        applied = migrate(self.client)
        self.log(f"{store.describe(s)}: {len(applied)} migrations applied")
        writer = StoreWriter(self.client)
        self.sink = Sink(
            self.kafka_config(group=f"{s.app_id}-sink-{self.run_id}", consumer=True),
            writer.write,
            batch_rows=s.sink_batch_rows,
            flush_s=s.sink_flush_s,
            observe=self.observe,
            quarantine=writer.quarantine,
            gate_detections=True,
        )
        self.sink_thread = self.sink.start_thread()
        self.progress = ProgressTracker(self.kafka_config(consumer=True))
        self.producer = Producer(
            {
                **self.kafka_config(),
                "partitioner": "murmur2_random",  # what Java clients and aiokafka use
                "enable.idempotence": True,
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 200000,
                "queue.buffering.max.kbytes": 512 * 1024,
            }
        )

    def kafka_config(self, group: str | None = None, consumer: bool = False) -> dict[str, Any]:
        s = self.settings
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            **(s.kafka_consumer_config() if consumer else s.kafka_client_config()),
        }
        if group:
            conf["group.id"] = group
        return conf

    def _spawn_worker(self, name: str = "cameras") -> subprocess.Popen:
        env = {
            **os.environ,
            "BK_SETTINGS_FILE": str(self.settings_file),
            "BK_KAFKA_BOOTSTRAP": self.bootstrap,
            # A fresh consumer group per run: the embedded broker is new anyway.
            "BK_APP_ID": f"{self.settings.app_id}-{self.run_id}",
            # Each worker serves /metrics (and ops the dispositions endpoint) on
            # its own free loopback port unless the settings name one.
            "BK_WEB_PORT": os.environ.get("BK_WEB_PORT") or str(free_port()),
            "BK_OPS_WEB_PORT": os.environ.get("BK_OPS_WEB_PORT") or str(free_port()),
            "BK_WEB_BIND": os.environ.get("BK_WEB_BIND", "127.0.0.1"),
        }
        log_path = self.log_dir / f"stream-{name}.log"
        self.log(f"stream app {name} starting (log: {log_path})")
        with log_path.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "stream_apps", name, "worker", "-l", "warn"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill_worker(self, name: str = "cameras") -> None:
        """SIGKILL a stream worker (crash tests): no checkpoint, no commit, no goodbye."""
        worker = self.workers.get(name)
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()

    def restart_worker(self, name: str = "cameras") -> None:
        """Start a stream worker in the same consumer group as the last one."""
        self.kill_worker(name)
        self.workers[name] = self._spawn_worker(name)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(30)
            self.producer = None  # destroyed now, before its broker goes away
        for name, worker in self.workers.items():
            if worker.poll() is None:
                if name == "cameras" and self.broker is not None:
                    # The embedded broker keeps its records in memory and stops
                    # below: a final checkpoint would be written only to vanish.
                    worker.send_signal(STOP_WITHOUT_CHECKPOINT)
                else:
                    worker.terminate()
        for worker in self.workers.values():
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if self.progress is not None:
            self.progress.close()
        if self.sink is not None:
            self.sink.stop()
        if self.sink_thread is not None:
            self.sink_thread.join(timeout=60)
        if self.broker is not None:
            self.broker.stop()
        self.client = None

    # -- publishing ------------------------------------------------------------
    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.delivery_errors.append(f"{msg.topic()}: {err}")
            return
        tp = (msg.topic(), msg.partition())
        if msg.offset() > self.sent.get(tp, -1):
            self.sent[tp] = msg.offset()

    def publish(self, topic: str, key: str | bytes | None, value: bytes) -> None:
        if self.input_ended:
            raise PipelineError("publish after end_input(): the input was said to be complete")
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                break
            except BufferError:
                self.producer.poll(0.05)  # queue full: serve delivery reports first
        self.sent_count += 1
        if self.sent_count % 1000 == 0:
            self.producer.poll(0)

    def flush(self) -> None:
        remaining = self.producer.flush(60)
        if remaining or self.delivery_errors:
            raise PipelineError(
                f"{remaining} records undelivered, errors: {self.delivery_errors[:3]}"
            )

    def end_input(self) -> None:
        """Everything is published: say where each detections partition ends.

        The camera workers read it (``input_end_file``); a partition that has read
        its frames to there no longer waits for more, and :meth:`unprocessed`
        waits for each partition to say so. Publishing after this is an error.
        """
        self.flush()
        last = {
            p: self.sent.get((TOPIC_DETECTIONS, p), -1) for p in range(self.settings.partitions)
        }
        write_input_end(self.input_end_file, last)
        self.input_ended = True

    # -- waiting ------------------------------------------------------------------
    def check_alive(self) -> None:
        for name, worker in self.workers.items():
            if worker.poll() is not None:
                raise PipelineError(
                    f"the {name} stream worker exited with {worker.returncode}; "
                    f"see {self.log_dir / f'stream-{name}.log'}"
                )
        if self.sink_thread is not None and not self.sink_thread.is_alive():
            raise PipelineError("the sink stopped; see the log above")

    def unprocessed(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> offsets a stream app has still to reach.

        Every sent input for the apps that consume it; then the camera app's
        outputs and its progress records (which carry its clock) for the ops app.
        """
        missing: dict[tuple[str, int], int] = {}
        progress = self.progress
        with progress.changed:
            wanted = [
                (app, tp, offset)
                for tp, offset in self.sent.items()
                for app in CONSUMERS.get(tp[0], ())
            ]
            wanted += [
                ("ops", tp, offset)
                for tp, offset in progress.outputs.items()
                if tp[0] in OPS_FROM_CAMERAS
            ]
            wanted += [
                ("cameras", tp, offset)
                for tp, offset in progress.outputs.items()
                if tp[0] in CAMERAS_FROM_OPS and self.start_worker
            ]
            wanted += [
                ("ops", (TOPIC_PROGRESS, part), offset)
                for part, offset in progress.camera_marks.items()
            ]
            for app, (topic, part), offset in wanted:
                done = progress.processed.get((app, topic, part), -1)
                if done < offset:
                    missing[(topic, part)] = max(missing.get((topic, part), 0), offset - done)
            if self.input_ended and self.start_worker:
                for part in range(self.settings.partitions):
                    if part not in progress.ended:
                        key = (TOPIC_DETECTIONS, part)
                        missing[key] = max(missing.get(key, 0), 1)
        return missing

    def unstored(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> offsets produced but not yet in the store."""
        with self.progress.changed:
            wanted = dict(self.progress.outputs)
        for tp, offset in self.sent.items():
            if tp[0] in SINK_INPUTS:
                wanted[tp] = max(offset, wanted.get(tp, -1))
        stored = self.sink.stored()
        return {tp: o - stored.get(tp, -1) for tp, o in wanted.items() if stored.get(tp, -1) < o}

    def wait_until(
        self,
        remaining: Callable[[], dict],
        what: str,
        stall_timeout_s: float = 120.0,
        on_tick: Callable[[dict], None] | None = None,
    ) -> None:
        """Block until ``remaining()`` is empty; fail if it stops shrinking."""
        last_total, last_change = None, time.monotonic()
        while True:
            self.check_alive()
            left = remaining()
            if on_tick is not None:
                on_tick(left)
            if not left:
                return
            total = sum(left.values())
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout_s:
                raise PipelineError(
                    f"no progress for {stall_timeout_s:.0f} s while waiting for {what}: "
                    f"{total} records left in {sorted(left)[:6]}"
                )
            with self.progress.changed:
                self.progress.changed.wait(timeout=0.25)

    def wait_processed_and_stored(self, **kwargs) -> None:
        self.end_input()
        self.wait_until(self.unprocessed, "the stream apps", **kwargs)
        self.wait_until(self.unstored, "the sink", **kwargs)
