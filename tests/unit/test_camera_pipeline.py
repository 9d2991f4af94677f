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
    RegistryEntry,
    encode,
)
from stream_apps.pipelines.camera import MARKER_KEY, STATE_TOPIC, CameraPipeline

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


# -- dispositions reach the camera app -----------------------------------------------------


def _turned_camera_feed():
    """A registered camera whose view turns at minute 8; frames for 20 minutes."""
    import math
    import random

    from schemas.records import TOPIC_REGISTRY, FrameDetections, Quality, RegistryEntry

    rng = random.Random(1)

    def unit(v):
        m = sum(v) / len(v)
        v = [x - m for x in v]
        n = math.sqrt(sum(x * x for x in v))
        return [x / n for x in v]

    scene, turned = unit([rng.random() for _ in range(64)]), unit([rng.random() for _ in range(64)])
    t0 = 1_793_577_600.0
    reg = RegistryEntry(
        v=1, camera_id="cam-1", kitchen_id="k1", operator_id="op-1", operator_name="o",
        district="d", station="s", opening_hours=[["07:00", "22:00"]],
    )  # fmt: skip
    out = [(TOPIC_REGISTRY, "cam-1", msgspec.json.encode(reg))]
    for i in range(1200):
        q = Quality(brightness=0.5, sharpness=150 + i % 7, signature=scene if i < 480 else turned)
        f = FrameDetections(
            v=1, camera_id="cam-1", frame_ts=t0 + i, seq=i, worker_id="w", model="m",
            width=640, height=480, quality=q, detections=[],
        )  # fmt: skip
        out.append((TOPIC_DETECTIONS, "cam-1", msgspec.json.encode(f)))
    return out


def test_an_acknowledged_angle_changed_alert_rebaselines_the_camera():
    from schemas.records import TOPIC_ALERTS, TOPIC_CAMERA_EVENTS, Alert, CameraEvent, Disposition
    from stream_apps.engines.alerts import AlertEngine

    pipe = CameraPipeline()
    alerts = AlertEngine()
    events = []
    for n, (topic, key, value) in enumerate(_turned_camera_feed()):
        for o in pipe.handle(topic, 0, n, key.encode(), value):
            if o.topic == TOPIC_CAMERA_EVENTS:
                events.append(msgspec.json.decode(o.value, type=CameraEvent))
    (opened,) = [e for e in events if e.kind == "angle_changed"]
    assert opened.state == "open"
    alerts.feed(msgspec.json.decode(_turned_camera_feed()[0][2], type=RegistryEntry))
    (alert,) = alerts.feed(opened)
    assert alert.state == "open"
    # Not yet acknowledged: nothing happens.
    assert pipe.handle(TOPIC_ALERTS, 0, 0, b"a", msgspec.json.encode(alert)) == []
    verified = Disposition(
        v=1, alert_id=alert.alert_id, ts=opened.detected_at + 60, actor="inspector",
        action="verified",
    )  # fmt: skip
    (acked,) = alerts.feed(verified)
    assert acked.state == "verified"
    outs = pipe.handle(TOPIC_ALERTS, 0, 1, b"a", msgspec.json.encode(acked))
    (closed,) = [msgspec.json.decode(o.value, type=CameraEvent) for o in outs]
    assert closed.event_id == opened.event_id and closed.state == "closed"
    assert "acknowledged" in closed.detail
    assert closed.ended_at == opened.detected_at + 60
    # A repeat (the alert re-emitted) is a no-op.
    assert pipe.handle(TOPIC_ALERTS, 0, 2, b"a", msgspec.json.encode(acked)) == []
    # The new view is the baseline: later frames of it raise nothing.
    assert pipe.advance(0) == []
    assert Alert  # the record type the shell decodes
