"""The camera pipeline without a broker: routing, dead letters, checkpoints."""

from __future__ import annotations

import msgspec
import pytest

from inference_workers.simulator import FleetConfig, simulate
from schemas.records import (
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_REGISTRY,
    DeadLetter,
    encode,
)
from stream_apps.camera_pipeline import MARKER_KEY, STATE_TOPIC, CameraPipeline

PARTITIONS = 3


def feed_records(seconds: float = 1800, cameras: int = 6):
    """(topic, partition, offset, key, value) as a consumer of 3 partitions sees them."""
    config = FleetConfig.for_profile("health_stress", cameras=cameras, duration_s=seconds, seed=3)
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for topic, key, record in simulate(config):
        partition = sum(key.encode()) % PARTITIONS
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        out.append((topic, partition, offset, key.encode(), encode(record)))
    return out


@pytest.fixture(scope="module")
def records():
    return feed_records()


def run(pipeline: CameraPipeline, records) -> list[tuple[str, bytes]]:
    out = []
    for topic, partition, offset, key, value in records:
        for o in pipeline.handle(topic, partition, offset, key, value):
            out.append((o.topic, o.value))
        for o in pipeline.advance(partition):
            out.append((o.topic, o.value))
    return out


def compacted(outputs) -> dict[int, dict[str, bytes]]:
    """What a reader of the compacted state topic sees: latest value per key."""
    latest: dict[int, dict[str, bytes]] = {}
    for o in outputs:
        assert o.topic == STATE_TOPIC
        latest.setdefault(o.partition, {})[o.key] = o.value
    return latest


def test_the_feed_produces_violations_and_camera_events(records):
    topics = {t for t, _ in run(CameraPipeline(), records)}
    assert topics == {"bk.violations.v1", "bk.camera-events.v1"}


def test_a_malformed_record_becomes_a_dead_letter_naming_where_it_came_from():
    pipeline = CameraPipeline()
    [out] = pipeline.handle(TOPIC_DETECTIONS, 2, 41, b"cam-9", b'{"v": 1}')
    assert out.topic == TOPIC_DLQ
    letter = msgspec.json.decode(out.value, type=DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPIC_DETECTIONS, 2, 41)
    assert "missing required field" in letter.reason
    assert pipeline.counters.dead_letters == 1


def test_a_record_on_an_unexpected_topic_is_dead_lettered():
    [out] = CameraPipeline().handle("bk.other.v1", 0, 0, None, b"{}")
    assert "not an input" in msgspec.json.decode(out.value, type=DeadLetter).reason


def test_a_tombstone_is_dead_lettered_not_a_crash():
    [out] = CameraPipeline().handle(TOPIC_REGISTRY, 0, 0, b"cam-1", None)
    assert out.topic == TOPIC_DLQ


@pytest.mark.parametrize("cut", [0.3, 0.55, 0.8])
def test_restoring_a_checkpoint_continues_without_a_second_event(records, cut):
    whole = run(CameraPipeline(), records)
    n = int(len(records) * cut)
    first = CameraPipeline()
    before = run(first, records[:n])
    state = compacted(o for p in range(PARTITIONS) for o in first.checkpoint(p))
    assert all(MARKER_KEY in state[p] for p in state)
    second = CameraPipeline()
    for p, latest in state.items():
        second.restore(p, latest)
    # At-least-once: the consumer resumes from an older commit and re-delivers.
    after = run(second, records[n - 500 :])
    assert before + after == whole
    assert second.counters.covered_by_checkpoint >= 400


def test_incremental_checkpoints_only_write_changed_cameras(records):
    pipeline = CameraPipeline()
    run(pipeline, records[:2000])
    first = pipeline.checkpoint(0)
    assert pipeline.checkpoint(0)[-1].key == MARKER_KEY
    assert len(pipeline.checkpoint(0)) == 1  # nothing changed: only the marker
    assert len(first) > 1
