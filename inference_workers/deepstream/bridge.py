"""The DeepStream bridge: DeepStream's Kafka topic in, ``bk.detections.v1`` out.

`Bridge` turns payloads into what to publish, without a broker; `run_bridge` is
the Kafka loop around it (bad payloads and dropped objects to ``bk.dlq.v1``,
offsets committed only up to what was delivered).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from inference_workers.deepstream.full_schema import FullSchemaFrames
from inference_workers.deepstream.payloads import (
    DeepStreamAdapter,
    DeepStreamPayloadError,
    schema_of,
)
from schemas.records import SCHEMA_VERSION, encode

# The package's name, as when the bridge was one module (log filters keep working).
log = logging.getLogger("inference_workers.deepstream")


class Bridge:
    """The consume-independent core of the bridge: payloads in, outputs out.

    ``handle(value, tag)`` returns what to publish now: a list of
    ``("record", FrameDetections, tags)`` and ``("reject", reason, tag)``;
    ``flush()`` the same for the frames still open; ``open_tags()`` which
    source messages are not published yet (their offsets must not be committed).
    """

    def __init__(self, adapter: DeepStreamAdapter | None = None, frame_gap_s: float = 0.02):
        self.adapter = adapter or DeepStreamAdapter()
        self.frames = FullSchemaFrames(frame_gap_s)

    def _full(self, messages: list, tags: list) -> list[tuple]:
        try:
            rec, dropped = self.adapter.convert_full(messages)
        except DeepStreamPayloadError as exc:
            return [("reject", str(exc), t) for t in tags]
        out: list[tuple] = [("record", rec, tags)]
        if dropped:
            out.append(("dropped", "; ".join(dropped), tags[0] if len(tags) == 1 else None))
        return out

    def handle(self, value: bytes | str, tag: Any = None) -> list[tuple]:
        try:
            payload = json.loads(value)
            if not isinstance(payload, dict):
                raise DeepStreamPayloadError("payload is not a JSON object")
            if schema_of(payload) == "minimal":
                rec, dropped = self.adapter.convert_minimal(payload)
                out: list[tuple] = [("record", rec, [tag])]
                if dropped:
                    out.append(("dropped", "; ".join(dropped), tag))
                return out
            out = []
            for messages, tags in self.frames.add(payload, tag):
                out += self._full(messages, tags)
            return out
        except (DeepStreamPayloadError, ValueError, TypeError) as exc:
            return [("reject", str(exc) or type(exc).__name__, tag)]

    def flush(self) -> list[tuple]:
        out: list[tuple] = []
        for messages, tags in self.frames.flush():
            out += self._full(messages, tags)
        return out

    def open_tags(self) -> list[Any]:
        return list(self.frames.open_tags())


def run_bridge(
    bootstrap: str,
    source_topic: str,
    adapter: DeepStreamAdapter | None = None,
    client_config: Mapping[str, str] | None = None,
    group_id: str = "bk-deepstream-bridge",
    stop: Any = None,
    idle_flush_s: float = 1.0,
    frame_gap_s: float = 0.02,
) -> dict[str, int]:
    """Consume ``source_topic``, publish bk.detections.v1 (bad payloads to bk.dlq.v1).

    Runs until ``stop`` (a threading.Event) is set. Offsets are committed only
    up to what was published and delivered: a message held in an open
    full-schema frame is not committed until its frame is published. Open
    frames are published on stop. Returns counts.
    """
    import threading
    import time

    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    from schemas.records import TOPIC_DETECTIONS, TOPIC_DLQ, DeadLetter

    bridge = Bridge(adapter, frame_gap_s)
    stop = stop or threading.Event()
    conf = {"bootstrap.servers": bootstrap, **(client_config or {})}
    consumer = Consumer(
        {
            **conf,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # as the camera stage: a dead bridge's partitions move within 6 s, and
            # a group's first join does not wait half of librdkafka's 45 s default
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    producer = Producer(
        {**conf, "partitioner": "murmur2_random", "enable.idempotence": True, "linger.ms": 20}
    )
    consumer.subscribe([source_topic])
    counts = {"payloads": 0, "frames": 0, "dead_letters": 0, "objects_dropped": 0}
    failures: list[str] = []
    sources: dict[tuple[int, int], tuple[bytes | None, bytes]] = {}
    consumed: dict[int, int] = {}  # partition -> next offset after the last consumed
    last_full = time.monotonic()
    dirty = False

    def delivered(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    def reject(reason: str, tag) -> None:
        partition, offset = tag if tag is not None else (-1, -1)
        key, value = sources.get(tag, (None, b""))
        letter = DeadLetter(
            v=SCHEMA_VERSION,
            reason=f"deepstream: {reason}"[:1000],
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key else None,
            value=value[:8192].decode("utf-8", "replace"),
            app="deepstream",
            ts=time.time(),
        )
        producer.produce(TOPIC_DLQ, key=letter.key, value=encode(letter), on_delivery=delivered)
        counts["dead_letters"] += 1

    def emit(outputs: list[tuple]) -> None:
        for kind, what, tags in outputs:
            if kind == "record":
                producer.produce(
                    TOPIC_DETECTIONS, key=what.camera_id, value=encode(what), on_delivery=delivered
                )
                counts["frames"] += 1
            elif kind == "dropped":
                counts["objects_dropped"] += what.count("; ") + 1
                log.warning("deepstream: objects dropped: %s", what)
                reject(f"objects dropped (the rest of the frame was published): {what}", tags)
            else:
                reject(what, tags)

    def commit() -> None:
        """Deliver, then commit each partition up to its oldest unpublished message."""
        producer.flush(30)
        if failures or len(producer):
            raise KafkaException(f"deepstream bridge: delivery failed: {failures[:3]}")
        held: dict[int, int] = {}
        for partition, offset in bridge.open_tags():
            held[partition] = min(held.get(partition, offset), offset)
        offsets = [TopicPartition(source_topic, p, held.get(p, nxt)) for p, nxt in consumed.items()]
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
        keep = {tuple(t) for t in bridge.open_tags()}
        for t in [t for t in sources if t not in keep]:
            del sources[t]

    try:
        while not stop.is_set():
            msgs = consumer.consume(num_messages=1000, timeout=0.2)
            for msg in msgs:
                if msg.error():
                    continue
                counts["payloads"] += 1
                tag = (msg.partition(), msg.offset())
                sources[tag] = (msg.key(), msg.value() or b"")
                consumed[msg.partition()] = msg.offset() + 1
                emit(bridge.handle(msg.value() or b"", tag))
                last_full = time.monotonic()
            if bridge.open_tags() and time.monotonic() - last_full >= idle_flush_s:
                emit(bridge.flush())
                dirty = True
            if msgs:
                dirty = True
            if dirty:
                commit()
                dirty = False
        emit(bridge.flush())  # stop: publish the frames still open
        if consumed:
            commit()
    finally:
        producer.flush(30)
        consumer.close()
    return counts
