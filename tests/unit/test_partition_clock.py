"""The camera partition clock: every input moves it, read order does not matter,
and one camera with a broken clock cannot move the others (DESIGN principle 2)."""

from __future__ import annotations

import random

import msgspec

from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
)
from stream_apps.pipelines.camera import CameraPipeline
from tests.unit.test_bad_input import T0, dumps, frame, registry, status

P = 0
CAMS = ("cam-a", "cam-b", "cam-c")


def feed_records() -> tuple[list[tuple[str, float, bytes]], list[tuple[str, float, bytes]]]:
    """(frames, statuses) of three cameras; cam-c stops sending frames after 2 min;
    the last 10 min are heartbeats only."""
    frames, statuses = [], []
    for i in range(600):
        for cam in CAMS:
            if cam == "cam-c" and i >= 120:
                continue
            dets = (("rodent", 0.9),) if cam == "cam-a" and 200 <= i < 215 else ()
            frames.append((cam, T0 + i, dumps(frame(cam, T0 + i, i, dets))))
    for i in range(0, 1200, 30):
        for cam in ("cam-a", "cam-b"):
            statuses.append((cam, T0 + i, dumps(status(cam, T0 + i))))
    return frames, statuses


def run(order: list[tuple[str, bytes]]) -> tuple[dict[str, bytes], int, float]:
    """Feed one interleaving; the stored rows (latest per id), dead letters, clock."""
    pipeline = CameraPipeline()
    out = []
    offsets: dict[str, int] = {}
    for cam in CAMS:
        order_ = [(TOPIC_REGISTRY, dumps(registry(cam)))]
        for topic, value in order_:
            out += pipeline.handle(topic, P, offsets.setdefault(topic, 0), cam.encode(), value)
            offsets[topic] += 1
    for topic, value in order:
        off = offsets.get(topic, 0)
        offsets[topic] = off + 1
        out += pipeline.handle(topic, P, off, None, value)
        out += pipeline.advance(P)
    pipeline.set_idle(P, TOPIC_DETECTIONS)  # everything read
    pipeline.set_idle(P, TOPIC_CAMERA_STATUS)
    out += pipeline.advance(P)
    rows: dict[str, bytes] = {}
    for o in out:
        if o.topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS):
            rec = msgspec.json.decode(o.value)
            rows[rec.get("violation_id") or rec["event_id"]] = o.value
    dlq = sum(1 for o in out if o.topic == TOPIC_DLQ)
    return rows, dlq, pipeline.clock(P)


def interleavings():
    frames, statuses = feed_records()
    f = [(TOPIC_DETECTIONS, v) for _, _, v in frames]
    s = [(TOPIC_CAMERA_STATUS, v) for _, _, v in statuses]
    merged = sorted(
        [(ts, 0, TOPIC_DETECTIONS, v) for _, ts, v in frames]
        + [(ts, 1, TOPIC_CAMERA_STATUS, v) for _, ts, v in statuses]
    )
    rng = random.Random(3)
    mixed, fi, si = [], 0, 0
    while fi < len(f) or si < len(s):  # a random merge keeping each topic's order
        if si >= len(s) or (fi < len(f) and rng.random() < 0.9):
            mixed.append(f[fi])
            fi += 1
        else:
            mixed.append(s[si])
            si += 1
    return {
        "frames_first": f + s,
        "statuses_first": s + f,
        "by_event_time": [(t, v) for _, _, t, v in merged],
        "random_merge": mixed,
    }


def test_interleavings_give_identical_rows_and_no_dead_letters():
    results = {name: run(order) for name, order in interleavings().items()}
    reference_rows, _, _ = results["by_event_time"]
    kinds = {msgspec.json.decode(v).get("kind") for v in reference_rows.values()}
    assert "offline" in kinds  # cam-c went silent: the clock moved on without it
    assert any(b"rodent" in v for v in reference_rows.values())
    for name, (rows, dlq, clock) in results.items():
        assert dlq == 0, name
        assert rows == reference_rows, name
        # the heartbeats-only tail moved the clock to the last event time of the input
        assert clock == T0 + 1170, name


def test_heartbeats_alone_move_the_clock_once_frames_are_idle():
    pipeline = CameraPipeline()
    pipeline.handle(TOPIC_REGISTRY, P, 0, None, dumps(registry("cam-a")))
    for i in range(10):
        pipeline.handle(TOPIC_DETECTIONS, P, i, None, dumps(frame("cam-a", T0 + i, i)))
    for j, ts in enumerate(range(30, 6 * 86400, 30)):
        pipeline.handle(TOPIC_CAMERA_STATUS, P, j, None, dumps(status("cam-a", T0 + ts)))
    pipeline.advance(P)
    assert pipeline.clock(P) == T0 + 9  # frames may still come: the statuses wait
    pipeline.set_idle(P, TOPIC_DETECTIONS)
    pipeline.advance(P)
    assert pipeline.clock(P) == T0 + 6 * 86400 - 30


def test_a_ratcheting_clock_changes_nothing_for_the_other_cameras():
    frames, _ = feed_records()
    clean = [(TOPIC_DETECTIONS, v) for _, _, v in frames]
    broken = list(clean)
    # cam-x steps +290 s per frame, 25 frames, interleaved from minute 3 on
    for k in range(25):
        value = dumps(frame("cam-x", T0 + 180 + 290 * (k + 1), k))
        broken.insert(3 * (180 + k) + k, (TOPIC_DETECTIONS, value))
    clean_rows, _, clean_clock = run(clean)
    rows, dlq, clock = run(broken)
    others = {k: v for k, v in rows.items() if b'"cam-x"' not in v}
    assert others == clean_rows
    assert clock == clean_clock
    assert dlq >= 20  # its frames ahead of the robust clock by > 300 s are dead letters


def _frames(cam: str, times, rodent=range(0)) -> list[tuple[str, bytes]]:
    return [
        (
            TOPIC_DETECTIONS,
            dumps(frame(cam, T0 + t, seq, (("rodent", 0.9),) if t in rodent else ())),
        )
        for seq, t in enumerate(times)
    ]


def test_a_lone_camera_resuming_after_a_silence_is_processed_not_refused():
    """The only camera of a partition (a small fleet, or a whole kitchen's network
    cut) is silent 15 min: nothing moves its partition's clock meanwhile, so its
    frames after the silence are all far ahead of it. They are the partition
    resuming, not a broken clock: after RESUME_AFTER_S of them they are processed."""
    times = [*range(0, 300), *range(1200, 1800)]
    rows, dlq, clock = run(_frames("cam-a", times, rodent=range(1300, 1320)))
    assert dlq == 0
    assert clock == T0 + 1799
    events = [msgspec.json.decode(v) for v in rows.values()]
    (offline,) = [e for e in events if e.get("kind") == "offline"]
    assert offline["started_at"] == T0 + 299 and offline["ended_at"] == T0 + 1200
    (rodent,) = [e for e in events if e.get("cls") == "rodent"]
    assert T0 + 1300 <= rodent["started_at"] <= T0 + 1302


def test_a_shared_silence_of_two_cameras_resumes_both():
    a = _frames("cam-a", [*range(0, 300), *range(900, 1500)])
    b = _frames("cam-b", [*range(0, 300), *range(900, 1500)])
    order = [rec for pair in zip(a, b, strict=True) for rec in pair]
    rows, dlq, clock = run(order)
    assert dlq == 0 and clock == T0 + 1499
    offline = [msgspec.json.decode(v) for v in rows.values() if b'"offline"' in v]
    assert sorted(e["camera_id"] for e in offline) == ["cam-a", "cam-b"]
    assert all(e["ended_at"] == T0 + 900 for e in offline)


def test_a_camera_whose_clock_runs_hours_ahead_is_refused_beside_a_sparse_one():
    """8 h ahead (local time sent as UTC), stepping 1 s like a healthy camera, on a
    partition whose other camera sends a frame every 30 s: its runs between those
    frames are shorter than RESUME_AFTER_S, so it never passes as a resumption."""
    sparse = _frames("cam-a", range(0, 1200, 30), rodent=range(300, 400))
    clean_rows, _, clean_clock = run(sparse)
    order = []
    for k, rec in enumerate(sparse):
        order.append(rec)
        if k >= 2:  # once cam-a has set the partition's clock
            order += _frames("cam-x", range(28800 + 30 * k, 28800 + 30 * k + 30))
    rows, dlq, clock = run(order)
    assert {k: v for k, v in rows.items() if b'"cam-x"' not in v} == clean_rows
    assert clock == clean_clock
    # every frame of cam-x but those held at the end is a dead letter (the shell
    # dead-letters those when the input ends: flush_held_future)
    assert dlq >= 30 * (len(sparse) - 3)


def test_a_city_partitions_checkpoint_fits_the_broker_and_restores_every_cameras_clock():
    """A checkpoint's marker once listed every camera's clock: at 25,000 cameras
    per partition (100,000 on four) it was over 1 MB, the broker refused it and
    the camera worker crashed. Each camera's clocks now travel with its state."""
    cameras = [f"cam-{i:05d}" for i in range(25_000)]
    pipeline = CameraPipeline(health_factory=None)
    offset = 0
    for step in range(2):
        for cam in cameras:
            value = dumps(frame(cam, T0 + step, step))
            pipeline.handle(TOPIC_DETECTIONS, P, offset, cam.encode(), value)
            offset += 1
    pipeline.advance(P)
    records = pipeline.checkpoint(P)
    assert len(records) == len(cameras) + 1
    assert max(len(r.value) for r in records) < 1_000_000 - 1024  # librdkafka's default
    restored = CameraPipeline(health_factory=None)
    restored.restore(P, {r.key: r.value for r in records})
    before = pipeline.partitions[P].camera_clock
    after = restored.partitions[P].camera_clock
    assert after == before and len(after) == len(cameras)
