"""Drive the ClickHouse sink through faults on the embedded broker and store.

Run as a subprocess by test_sink_faults.py (one chdb path per process).
Usage: python sink_fault_run.py kill|outage|calm. Prints JSON facts:
``stored`` (bk.violations FINAL rows), ``expected`` (the latest record per id
that was produced) and what was observed during the fault.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from brightkitchen import store
from brightkitchen.embedded import create_topics, start_broker
from brightkitchen.settings import Settings
from clickhouse.migrate import migrate
from schemas.records import TOPIC_VIOLATIONS, Evidence, Violation, encode
from stream_apps.sink.consumer import Sink
from stream_apps.sink.store_writer import StoreWriter

T0 = 1_793_610_000.0
EPISODES = 1500
BATCH_ROWS = 400
OUTAGE_S = 4.0
QUERY = (
    "SELECT violation_id, state, toFloat64(ended_at) FROM bk.violations FINAL ORDER BY violation_id"
)


def violation(i: int, state: str) -> Violation:
    start = T0 + i
    return Violation(
        v=1,
        violation_id=f"v{i:05d}",
        camera_id=f"cam-{i % 16}",
        operator_id="op1",
        cls="no_hat",
        severity="minor",
        state=state,
        started_at=start,
        detected_at=start + 5,
        ended_at=None if state == "open" else start + 60,
        peak_score=0.8,
        frames=7,
        evidence=Evidence(frame_ts=start, box=(0.1, 0.1, 0.2, 0.2)),
    )


def produce(bootstrap: str, records: list[Violation]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for r in records:
        producer.produce(TOPIC_VIOLATIONS, key=r.camera_id, value=encode(r))
        producer.poll(0)
    assert producer.flush(30) == 0


def committed(bootstrap: str, group: str, partitions: int) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = probe.committed(
            [TopicPartition(TOPIC_VIOLATIONS, p) for p in range(partitions)], timeout=10
        )
        return {tp.partition: tp.offset for tp in tps}
    finally:
        probe.close()


def run_until_stored(sink: Sink, total: int, timeout_s: float = 120) -> None:
    """Poll until the sink has stored ``total`` records of the topic."""
    deadline = time.monotonic() + timeout_s
    while sum(o + 1 for (_, _), o in sink.stored().items()) < total:
        assert time.monotonic() < deadline, f"sink stored {sink.stored()} of {total}"
        sink.poll_once()


def main(mode: str) -> None:
    broker = start_broker()
    try:
        partitions = 2
        create_topics(broker.bootstrap, [TOPIC_VIOLATIONS], partitions=partitions)
        client = store.connect(Settings(store_path=Path("store")))
        migrate(client)
        writer = StoreWriter(client)
        # The outage needs more records than one consume call takes (10 000) to
        # show that the sink stops reading while the store is down.
        episodes = EPISODES * 10 if mode == "outage" else EPISODES
        records = [violation(i, "open") for i in range(episodes)]
        records += [violation(i, "closed") for i in range(0, episodes, 2)]
        group = f"sink-{uuid.uuid4().hex[:8]}"
        conf = {"bootstrap.servers": broker.bootstrap, "group.id": group}
        facts: dict = {}
        if mode == "calm":
            produce(broker.bootstrap, records)
            sink = Sink(conf, writer.write, topics=[TOPIC_VIOLATIONS], batch_rows=BATCH_ROWS)
            run_until_stored(sink, len(records))
            sink.consumer.close()
        elif mode == "kill":
            flushed, buffered = records[:1000], records[1000:1100]
            produce(broker.bootstrap, flushed)
            first = Sink(
                conf, writer.write, topics=[TOPIC_VIOLATIONS], batch_rows=BATCH_ROWS, flush_s=60
            )
            run_until_stored(first, len(flushed))
            # Then rows that sit in its buffer: fewer than a batch, younger than flush_s.
            produce(broker.bootstrap, buffered)
            deadline = time.monotonic() + 60
            while first._buffered == 0:
                assert time.monotonic() < deadline, "the first sink never got mid-batch"
                first.poll_once()
            facts["lost_from_buffer"] = first._buffered
            facts["committed_before_crash"] = sum(
                o for o in committed(broker.bootstrap, group, partitions).values() if o > 0
            )
            # The crash: the buffer is gone, nothing more is inserted or committed.
            first.consumer.close()
            del first
            produce(broker.bootstrap, records[1100:])
            second = Sink(conf, writer.write, topics=[TOPIC_VIOLATIONS], batch_rows=BATCH_ROWS)
            run_until_stored(second, len(records))
            second.consumer.close()
        elif mode == "outage":
            half = len(records) // 2
            produce(broker.bootstrap, records[:half])
            outage = {"until": float("-inf"), "failures": 0}

            def flaky_write(topic, batch):
                if time.monotonic() < outage["until"]:
                    outage["failures"] += 1
                    raise ConnectionError("store unavailable (injected)")
                return writer.write(topic, batch)

            sink = Sink(conf, flaky_write, topics=[TOPIC_VIOLATIONS], batch_rows=BATCH_ROWS)
            thread = sink.start_thread()
            deadline = time.monotonic() + 60
            while sum(o + 1 for o in sink.stored().values()) < half:
                assert time.monotonic() < deadline and thread.is_alive()
                time.sleep(0.05)
            before = committed(broker.bootstrap, group, partitions)
            outage["until"] = time.monotonic() + OUTAGE_S
            produce(broker.bootstrap, records[half:])
            max_buffered, commits_moved = 0, False
            while time.monotonic() < outage["until"]:
                max_buffered = max(max_buffered, sink._buffered)
                commits_moved |= committed(broker.bootstrap, group, partitions) != before
                time.sleep(0.2)
            facts.update(
                max_buffered_during_outage=max_buffered,
                commits_moved_during_outage=commits_moved,
                injected_failures=outage["failures"],
                produced_during_outage=len(records) - half,
            )
            deadline = time.monotonic() + 90
            while sum(o + 1 for o in sink.stored().values()) < len(records):
                assert time.monotonic() < deadline, f"no catch-up: {sink.stored()}"
                time.sleep(0.1)
            sink.stop()
            thread.join(30)
        else:
            raise SystemExit(f"unknown mode {mode}")
        latest: dict[str, Violation] = {}
        for r in records:
            latest[r.violation_id] = r
        facts["expected"] = [
            [v.violation_id, v.state, v.ended_at] for _, v in sorted(latest.items())
        ]
        facts["stored"] = [list(row) for row in client.query(QUERY).result_rows]
        facts["batch_rows"] = BATCH_ROWS
        print(json.dumps(facts, default=str))
    finally:
        broker.stop()


if __name__ == "__main__":
    main(sys.argv[1])
