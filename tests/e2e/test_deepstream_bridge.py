"""The DeepStream bridge on the embedded broker: payloads in, contract records out,
bad payloads dead-lettered with the reason."""

from __future__ import annotations

import json
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from brightkitchen.embedded import create_topics, start_broker
from inference_workers.deepstream import run_bridge
from schemas.records import TOPIC_DETECTIONS, TOPIC_DLQ, DeadLetter, FrameDetections, decode
from tests.unit.test_deepstream import minimal

pytestmark = pytest.mark.e2e
SOURCE = "ds.payloads"


def test_the_bridge_republishes_frames_and_dead_letters_bad_payloads():
    broker = start_broker()
    stop = threading.Event()
    try:
        create_topics(broker.bootstrap, topics=[SOURCE, TOPIC_DETECTIONS, TOPIC_DLQ], partitions=1)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(5):
            ts = f"2026-11-02T08:00:{i:02d}.000Z"
            producer.produce(SOURCE, value=json.dumps(minimal(i, ["1|0|0|96|54|rat|#|0.9"], ts)))
        producer.produce(SOURCE, value=b'{"sensorId": "cam-x", "objects": "nope"}')
        producer.flush(10)
        counts: dict = {}
        thread = threading.Thread(
            target=lambda: counts.update(run_bridge(broker.bootstrap, SOURCE, stop=stop)),
            daemon=True,
        )
        thread.start()
        consumer = Consumer(
            {"bootstrap.servers": broker.bootstrap, "group.id": "t", "enable.partition.eof": False}
        )
        consumer.assign([TopicPartition(TOPIC_DETECTIONS, 0, 0), TopicPartition(TOPIC_DLQ, 0, 0)])
        got: dict[str, list] = {TOPIC_DETECTIONS: [], TOPIC_DLQ: []}
        deadline = time.monotonic() + 60
        while len(got[TOPIC_DETECTIONS]) < 5 or not got[TOPIC_DLQ]:
            assert time.monotonic() < deadline, got
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if not msg.error():
                    got[msg.topic()].append(msg.value())
        consumer.close()
        frames = [decode(FrameDetections, v) for v in got[TOPIC_DETECTIONS]]
        assert [f.seq for f in frames] == [0, 1, 2, 3, 4]
        assert all(f.detections[0].cls == "rodent" for f in frames)
        [letter] = [decode(DeadLetter, v) for v in got[TOPIC_DLQ]]
        assert letter.source_topic == SOURCE and letter.offset == 5
        assert letter.reason.startswith("deepstream:")
    finally:
        stop.set()
        broker.stop()


SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared"


@pytest.mark.skipif(not (SAMPLES / "deepstream-samples").is_dir(), reason="no DeepStream samples")
def test_a_held_full_schema_frame_is_not_committed_and_is_published_on_stop():
    samples = SAMPLES / "deepstream-samples"
    full = (samples / "s02_ds8_test4_py_full_person.json").read_bytes()
    other = (samples / "s03_ds8_test4_py_minimal_person.json").read_bytes()
    broker = start_broker()
    stop = threading.Event()
    try:
        create_topics(broker.bootstrap, topics=[SOURCE, TOPIC_DETECTIONS, TOPIC_DLQ], partitions=1)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        producer.produce(SOURCE, value=full)  # offset 0: held in an open frame
        producer.produce(SOURCE, value=other)  # offset 1: published at once
        producer.flush(10)
        counts: dict = {}
        thread = threading.Thread(
            target=lambda: counts.update(
                run_bridge(broker.bootstrap, SOURCE, stop=stop, idle_flush_s=3600, group_id="g")
            ),
            daemon=True,
        )
        thread.start()
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t2"})
        consumer.assign([TopicPartition(TOPIC_DETECTIONS, 0, 0)])

        def read(n):
            got, deadline = [], time.monotonic() + 60
            while len(got) < n:
                assert time.monotonic() < deadline, got
                got += [m.value() for m in consumer.consume(100, 0.5) if not m.error()]
            return [decode(FrameDetections, v) for v in got]

        [first] = read(1)
        assert first.camera_id == "sensor-0"
        probe = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g"})
        deadline = time.monotonic() + 60
        while True:  # the minimal frame's commit lands; the held message stays uncommitted
            [tp] = probe.committed([TopicPartition(SOURCE, 0)], timeout=10)
            if tp.offset >= 0:
                break
            assert time.monotonic() < deadline
        assert tp.offset == 0
        stop.set()
        thread.join(60)
        [held] = read(1)
        assert held.camera_id == "CAMERA_ID" and held.quality is None and held.detections == []
        [tp] = probe.committed([TopicPartition(SOURCE, 0)], timeout=10)
        assert tp.offset == 2 and counts["frames"] == 2
        probe.close()
        consumer.close()
    finally:
        stop.set()
        broker.stop()
