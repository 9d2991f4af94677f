"""Direct reads of one partition, outside the consumer group (confluent-kafka).

Used by the stream shells when a partition is assigned: load its latest
checkpoint from the compacted state topic, and re-read input records that the
group's committed offset skipped past the checkpoint.

Reading "to the end" uses the high watermark, then keeps reading until the
partition has been quiet for ``idle_s``: Tansu (the embedded broker) can report
a high watermark behind its log end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def _consumer(config: dict[str, Any]) -> Consumer:
    return Consumer(
        {
            **config,
            "group.id": "bk-partition-reader",  # never joins or commits: assign() only
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )


def read_latest(
    config: dict[str, Any], topic: str, partition: int, idle_s: float = 0.5
) -> dict[str, bytes]:
    """Latest value per key of a (compacted) topic partition."""
    consumer = _consumer(config)
    latest: dict[str, bytes] = {}
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        position, quiet_since = -1, None
        while True:
            msgs = consumer.consume(num_messages=5000, timeout=0.2)
            got = False
            for msg in msgs:
                if msg.error():
                    continue  # partition EOF
                got = True
                position = msg.offset()
                key = msg.key().decode() if msg.key() is not None else ""
                if msg.value() is None:
                    latest.pop(key, None)
                else:
                    latest[key] = msg.value()
            if got:
                quiet_since = None
            elif position + 1 >= high:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= idle_s:
                    return latest
    finally:
        consumer.close()


Record = tuple[int, bytes | None, bytes | None]


def read_range_chunks(
    config: dict[str, Any],
    topic: str,
    partition: int,
    start: int,
    end: int,
    chunk: int = 5000,
    stall_s: float = 60.0,
) -> Iterator[list[Record]]:
    """(offset, key, value) of the records in [start, end) of one partition, at
    most ``chunk`` at a time, so re-reading a long stretch (a restart with no
    checkpoint) holds one chunk in memory. Raises TimeoutError only when no
    record arrives for ``stall_s``: a long re-read that keeps moving never times out."""
    if end <= start:
        return
    consumer = _consumer(config)
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        out: list[Record] = []
        last_record = time.monotonic()
        while True:
            msgs = consumer.consume(num_messages=min(chunk, 5000), timeout=0.5)
            for msg in msgs:
                if msg.error():
                    continue
                last_record = time.monotonic()
                if msg.offset() >= end:
                    if out:
                        yield out
                    return
                out.append((msg.offset(), msg.key(), msg.value()))
                if msg.offset() == end - 1:
                    yield out
                    return
                if len(out) >= chunk:
                    yield out
                    out = []
            if time.monotonic() - last_record > stall_s:
                raise TimeoutError(
                    f"could not re-read {topic}[{partition}] offsets {start}..{end - 1}: "
                    f"nothing arrived for {stall_s:.0f} s"
                )
    finally:
        consumer.close()


def committed_offsets(
    config: dict[str, Any], group_id: str, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The offsets ``group_id`` committed for ``partitions`` (those it has committed)."""
    if not partitions:
        return {}
    consumer = Consumer({**config, "group.id": group_id, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in tps if tp.offset >= 0}


def partitions_of(config: dict[str, Any], topics: tuple[str, ...]) -> list[tuple[str, int]]:
    """(topic, partition) of every existing partition of ``topics``."""
    consumer = _consumer(config)
    try:
        metadata = consumer.list_topics(timeout=10)
    finally:
        consumer.close()
    return sorted(
        (topic, p)
        for topic in topics
        if topic in metadata.topics
        for p in metadata.topics[topic].partitions
    )
