"""Drive the sink with a poison batch on the embedded broker and store; print JSON facts.

Run as a subprocess by test_sink_faults.py (one chdb path per process). On
three tables at once:

- detections: one camera's 150 valid frames one day apart (150 partitions of
  bk.detections, more than one insert may touch) plus a normal camera's frames;
- dead letters: one the table refuses (a partition number out of Int32's
  range) among good ones;
- violations: the store is "down" for them (injected at the write boundary)
  while the other two tables are written.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from sink_fault_run import T0, violation  # a sibling script: its folder is sys.path[0]

from brightkitchen import store
from brightkitchen.embedded import create_topics, start_broker
from brightkitchen.settings import Settings
from clickhouse.migrate import migrate
from schemas.records import (
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_VIOLATIONS,
    DeadLetter,
    FrameDetections,
    Quality,
    encode,
)
from stream_apps.sink.consumer import Sink
from stream_apps.sink.store_writer import StoreWriter

DAY = 86_400.0


def frame(camera: str, ts: float, seq: int) -> FrameDetections:
    return FrameDetections(
        v=1,
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        worker_id="w-1",
        model="m",
        width=640,
        height=480,
        quality=Quality(brightness=0.5, sharpness=100.0, signature=[0.0] * 64),
        detections=[],
    )


def letter(i: int, partition: int) -> DeadLetter:
    """A dead letter as the apps write it: ``ts`` is the wall clock of the rejection
    (bk.dead_letters keeps 30 days of it; a fixed date would expire)."""
    return DeadLetter(
        v=1, reason="test", source_topic=TOPIC_DETECTIONS, partition=partition, offset=i,
        key=None, value="{}", app="cameras", ts=time.time(),
    )  # fmt: skip


def main() -> None:
    broker = start_broker()
    try:
        topics = [TOPIC_DETECTIONS, TOPIC_DLQ, TOPIC_VIOLATIONS]
        create_topics(broker.bootstrap, topics, partitions=2)
        client = store.connect(Settings(store_path=Path("store")))
        migrate(client)
        writer = StoreWriter(client)
        frames = [frame("cam-poison", T0 + i * DAY, i) for i in range(150)]
        frames += [frame("cam-normal", T0 + i, i) for i in range(600)]
        letters = [letter(i, 0) for i in range(50)] + [letter(50, 2**40)]
        violations = [violation(i, "open") for i in range(200)]
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
        for topic, records in (
            (TOPIC_DETECTIONS, frames), (TOPIC_DLQ, letters), (TOPIC_VIOLATIONS, violations),
        ):  # fmt: skip
            for r in records:
                producer.produce(topic, key=getattr(r, "camera_id", None), value=encode(r))
                producer.poll(0)
        assert producer.flush(30) == 0
        down = {"violations": True, "failures": 0}

        def write(topic, batch):
            if topic == TOPIC_VIOLATIONS and down["violations"]:
                down["failures"] += 1
                raise ConnectionError("store unavailable (injected)")
            return writer.write(topic, batch)

        conf = {"bootstrap.servers": broker.bootstrap, "group.id": f"sink-{uuid.uuid4().hex[:6]}"}
        sink = Sink(conf, write, topics=topics, batch_rows=5000, quarantine=writer.quarantine)
        facts: dict = {}

        def stored(topic: str) -> int:
            return sum(o + 1 for (t, _), o in sink.stored().items() if t == topic)

        deadline = time.monotonic() + 120
        while stored(TOPIC_DETECTIONS) < len(frames) or stored(TOPIC_DLQ) < len(letters):
            assert time.monotonic() < deadline, f"other tables blocked: {sink.stored()}"
            sink.poll_once()
        facts["violations_stored_while_down"] = stored(TOPIC_VIOLATIONS)
        facts["violation_failures"] = down["failures"]
        down["violations"] = False
        while stored(TOPIC_VIOLATIONS) < len(violations):
            assert time.monotonic() < deadline, f"violations never caught up: {sink.stored()}"
            sink.poll_once()
        sink.consumer.close()
        q = client.query
        facts["detections"] = q(
            "SELECT camera_id, count(), uniqExact(toDate(frame_ts)) FROM bk.detections FINAL "
            "GROUP BY camera_id ORDER BY camera_id"
        ).result_rows
        facts["dead_letters"] = q("SELECT count() FROM bk.dead_letters FINAL").result_rows[0][0]
        facts["violations"] = q("SELECT count() FROM bk.violations FINAL").result_rows[0][0]
        facts["quarantine"] = [
            list(r)
            for r in q("SELECT topic, `table`, reason, value FROM bk.quarantine").result_rows
        ]
        print(json.dumps(facts, default=str))
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
