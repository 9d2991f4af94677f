"""Bad input never stops the stream (DESIGN principle 5).

Malformed, truncated, wrong-typed, huge, NaN-scored, far-future and far-past
records are thrown at the camera and ops pipelines and at the dispositions
endpoint's rules. Each one is either dead-lettered to bk.dlq.v1 (with the
reason, source topic, partition and offset) or handled by a documented rule
(README "Restarts, replays and bad input": unknown classes, duplicates and late
frames are counted and dropped). Nothing raises, and a valid episode fed after
the garbage gives exactly the answer it gives on a clean pipeline.
"""

from __future__ import annotations

import json
import math
import os
import random
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DISPOSITIONS,
    TOPIC_DLQ,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    DeadLetter,
    Violation,
)
from stream_apps.dispositions_api import MAX_BODY_BYTES, accept_disposition
from stream_apps.engines.sla import WorkingCalendar
from stream_apps.pipelines.camera import MAX_FUTURE_S, CameraPipeline
from stream_apps.pipelines.dlq import DLQ_VALUE_MAX
from stream_apps.pipelines.ops import OpsPipeline
from stream_apps.pipelines.output import Output

T0 = 1_793_610_000.0  # 2026-11-02 09:00 UTC, inside opening hours
CAM = "cam-1"
PARTITION = 2
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("BK_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)


def _signature() -> list[float]:
    rng = random.Random(7)
    v = [rng.random() for _ in range(64)]
    mean = sum(v) / 64
    v = [x - mean for x in v]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


SIGNATURE = _signature()


def frame(camera: str, ts: float, seq: int, dets: tuple[tuple[str, float], ...] = ()) -> dict:
    # A live picture (sensor noise moves sharpness a little every frame) and a rodent
    # that runs (its box travels 4 % of the frame a second): the engine's rules for
    # frozen pictures and stationary look-alikes must not apply to the valid episode.
    x = 0.1 + (0.04 * (ts % 10))
    return {
        "v": 1,
        "camera_id": camera,
        "frame_ts": ts,
        "seq": seq,
        "worker_id": "w1",
        "model": "yolo-test",
        "width": 640,
        "height": 480,
        "quality": {
            "brightness": 0.5,
            "sharpness": 120.0 + seq % 50 * 0.01,
            "signature": SIGNATURE,
        },
        "detections": [{"cls": c, "score": s, "box": [x, 0.1, x + 0.2, 0.3]} for c, s in dets],
    }


def status(camera: str, ts: float) -> dict:
    return {
        "v": 1,
        "camera_id": camera,
        "ts": ts,
        "worker_id": "w1",
        "state": "streaming",
        "fps": 1.0,
        "detail": "",
    }


def registry(camera: str) -> dict:
    return {
        "v": 1,
        "camera_id": camera,
        "kitchen_id": "k1",
        "operator_id": "op1",
        "operator_name": "某某餐饮",
        "district": "河西区",
        "station": "友谊路所",
        "opening_hours": [["00:00", "24:00"]],
        "timezone": "Asia/Shanghai",
        "active": True,
    }


def dumps(d: Any) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


# -- a feeder that numbers offsets like a consumer of one partition --------------
class Feeder:
    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.offsets: dict[str, int] = {}

    def handle(self, topic: str, key: str | None, value: bytes | None) -> tuple[int, list[Output]]:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        raw_key = key.encode() if key is not None else None
        out = self.pipeline.handle(topic, PARTITION, offset, raw_key, value)
        if isinstance(self.pipeline, CameraPipeline):
            out += self.pipeline.advance(PARTITION)
        return offset, out


def warm_up(feeder: Feeder) -> list[Output]:
    """The registry and two minutes of empty frames: the partition has a watermark."""
    out = feeder.handle(TOPIC_REGISTRY, CAM, dumps(registry(CAM)))[1]
    for i in range(120):
        out += feeder.handle(TOPIC_DETECTIONS, CAM, dumps(frame(CAM, T0 - 120 + i, i)))[1]
    return out


def episode(feeder: Feeder) -> list[Output]:
    """A rodent seen for 10 s then three minutes of empty frames: one open, one closed."""
    out = []
    for i in range(240):
        dets = (("rodent", 0.9),) if 60 <= i < 70 else ()
        out += feeder.handle(TOPIC_DETECTIONS, CAM, dumps(frame(CAM, T0 + i, 1000 + i, dets)))[1]
    return out


def violations_of(outputs: list[Output]) -> list[Violation]:
    return [
        msgspec.json.decode(o.value, type=Violation)
        for o in outputs
        if o.topic == TOPIC_VIOLATIONS and o.key == CAM
    ]


def clean_camera_run() -> list[Violation]:
    feeder = Feeder(CameraPipeline())
    warm_up(feeder)
    return violations_of(episode(feeder))


CLEAN_VIOLATIONS = clean_camera_run()


def test_the_valid_episode_raises_one_open_and_one_closed_rodent_violation():
    assert [(v.cls, v.state) for v in CLEAN_VIOLATIONS] == [
        ("rodent", "open"),
        ("rodent", "closed"),
    ]


# -- garbage ------------------------------------------------------------------------
WRONG_VALUES = ({"x": [1]}, [[]], None)
NULLABLE = frozenset({"operator_id", "ended_at", "watermark", "quality"})  # null is valid there
CAMERA_VALID = {
    TOPIC_DETECTIONS: lambda: frame(CAM, T0 - 1, 5000, (("no_hat", 0.8),)),
    TOPIC_CAMERA_STATUS: lambda: status(CAM, T0 - 1),
    TOPIC_REGISTRY: lambda: registry("cam-2"),
}
TIME_FIELD = {TOPIC_DETECTIONS: "frame_ts", TOPIC_CAMERA_STATUS: "ts"}


@st.composite
def malformed(draw, valid: dict) -> tuple[str, bytes]:
    """(kind, value) of a record its topic's schema rejects."""
    topic = draw(st.sampled_from(sorted(valid)))
    record = valid[topic]()
    text = dumps(record)
    kind = draw(
        st.sampled_from(
            [
                "bytes",
                "truncated",
                "wrong_type",
                "missing",
                "unknown_field",
                "not_object",
                "nan_text",
                "out_of_range",
            ]
        )
    )
    if kind == "bytes":
        value = draw(st.binary(max_size=300))
    elif kind == "truncated":
        value = text[: draw(st.integers(0, len(text) - 1))]
    elif kind == "wrong_type":
        field = draw(st.sampled_from(sorted(record)))
        bad = draw(st.sampled_from(WRONG_VALUES))
        record[field] = [[]] if bad is None and field in NULLABLE else bad
        value = dumps(record)
    elif kind == "missing":
        required = sorted(
            # Optional by the contract: a stock DeepStream frame carries no quality.
            k
            for k in record
            if k not in ("detail", "timezone", "active", "note", "watermark", "quality")
        )
        del record[draw(st.sampled_from(required))]
        value = dumps(record)
    elif kind == "unknown_field":
        record[draw(st.sampled_from(["evil", "__proto__", "V"]))] = 1
        value = dumps(record)
    elif kind == "not_object":
        value = draw(st.sampled_from([b"[]", b'"frame"', b"1", b"null", b"", b"\xff\xfe{"]))
    elif kind == "nan_text":
        # JSON has no NaN; a producer that writes it anyway must not poison a score.
        number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
        value = numeric_placeholder(topic, record, number)
    else:
        value = out_of_range(draw, topic, record)
    return topic, value


def numeric_placeholder(topic: str, record: dict, number: str) -> bytes:
    if topic == TOPIC_DETECTIONS:
        record["detections"][0]["score"] = "@@"
    elif topic == TOPIC_CAMERA_STATUS:
        record["fps"] = "@@"
    elif topic == TOPIC_REGISTRY:
        record["v"] = "@@"
    elif topic == TOPIC_DISPOSITIONS:
        record["ts"] = "@@"
    else:
        record["offset"] = "@@"
    return dumps(record).replace(b'"@@"', number.encode())


def out_of_range(draw, topic: str, record: dict) -> bytes:
    if topic == TOPIC_DETECTIONS:
        choice = draw(st.sampled_from(["score", "box", "ts", "signature", "size"]))
        if choice == "score":
            record["detections"][0]["score"] = draw(st.sampled_from([1.5, -0.1, 7]))
        elif choice == "box":
            record["detections"][0]["box"] = [0.5, 0.5, 0.2, 0.9]  # x2 < x1
        elif choice == "ts":
            record["frame_ts"] = draw(st.sampled_from([0.0, 9.0e8, 5.0e9, -1.0]))  # pre-2000
        elif choice == "signature":
            record["quality"]["signature"] = SIGNATURE[:10]
        else:
            record["width"] = 0
    elif topic == TOPIC_CAMERA_STATUS:
        field, bad = draw(st.sampled_from([("ts", 1.0e3), ("state", "exploded"), ("v", 2)]))
        record[field] = bad
    elif topic == TOPIC_REGISTRY:
        record["opening_hours"] = [["25:00", "07:00"]]
    elif topic == TOPIC_DISPOSITIONS:
        record["action"] = draw(st.sampled_from(["ignored", "VERIFIED", ""]))
    elif topic == TOPIC_VIOLATIONS:
        record["state"] = draw(st.sampled_from(["reopened", "OPEN"]))
    else:
        record["v"] = 2  # a Progress has no v: an unknown field
    return dumps(record)


def assert_one_dead_letter(out: list[Output], topic: str, offset: int, value: bytes) -> None:
    letters = [o for o in out if o.topic == TOPIC_DLQ]
    assert len(letters) == 1, out
    letter = msgspec.json.decode(letters[0].value, type=DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == (topic, PARTITION, offset)
    assert letter.reason
    if len(value) <= DLQ_VALUE_MAX:
        assert letter.value == value.decode("utf-8", "replace")
    else:
        assert letter.value.startswith(value[: DLQ_VALUE_MAX - 3].decode("utf-8", "ignore"))
        assert letter.value.endswith(f"…[+{len(value) - DLQ_VALUE_MAX} bytes]")


@HYPOTHESIS
@given(garbage=st.lists(malformed(CAMERA_VALID), min_size=1, max_size=8))
def test_malformed_camera_input_is_dead_lettered_and_the_stream_goes_on(garbage):
    pipeline = CameraPipeline()
    feeder = Feeder(pipeline)
    warm_up(feeder)
    for topic, value in garbage:
        offset, out = feeder.handle(topic, CAM, value)
        assert_one_dead_letter(out, topic, offset, value)
    assert pipeline.counters.dead_letters == len(garbage)
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


@st.composite
def ruled(draw) -> tuple[str, bytes, str | None]:
    """(topic, value, counter) of valid records a documented rule drops or dead-letters."""
    kind = draw(st.sampled_from(["future", "future_status", "late", "duplicate", "unknown"]))
    ahead = draw(st.floats(MAX_FUTURE_S + 1, 3.0e8))
    if kind == "future":
        value = frame(CAM, T0 + ahead, draw(st.integers(2000, 3000)), (("rodent", 0.99),))
        return TOPIC_DETECTIONS, dumps(value), "dlq"
    if kind == "future_status":
        return TOPIC_CAMERA_STATUS, dumps(status(CAM, T0 + ahead)), "dlq"
    if kind == "late":
        # Far in the past (still a plausible clock) on a camera that moved on.
        ts = draw(st.floats(946_684_800.0, T0 - 130))
        value = frame(CAM, ts, draw(st.integers(2000, 3000)), (("rodent", 0.99),))
        return TOPIC_DETECTIONS, dumps(value), "late_dropped"
    if kind == "duplicate":
        return TOPIC_DETECTIONS, dumps(frame(CAM, T0 - 1, 119)), "duplicates"
    cls = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=20))
    if cls in CameraPipeline().violation_params.classes:
        cls = "unicorn"
    return TOPIC_DETECTIONS, cls.encode(), "unknown_class"  # framed by the test: unique seq


@HYPOTHESIS
@given(records=st.lists(ruled(), min_size=1, max_size=6))
def test_future_late_duplicate_and_unknown_class_records_follow_the_documented_rules(records):
    pipeline = CameraPipeline()
    feeder = Feeder(pipeline)
    warm_up(feeder)
    engine = pipeline.engines(PARTITION).violations
    for i, (topic, value, rule) in enumerate(records):
        if rule == "unknown_class":
            value = dumps(frame("cam-u", T0 - 60 + i, i, ((value.decode(), 0.95),)))
        before = dict(vars(engine.counters))
        offset, out = feeder.handle(topic, CAM, value)
        if rule == "dlq":
            # Held (a silent partition resuming would look the same) until a record
            # within the clock shows the partition is not silent: then a dead letter.
            assert not [o for o in out if o.topic == TOPIC_DLQ]
            if topic == TOPIC_DETECTIONS:
                confirm = dumps(frame("cam-z", T0 - 1, 5000 + i))
            else:
                confirm = dumps(status("cam-z", T0 - 1))
            _, out = feeder.handle(topic, "cam-z", confirm)
            assert_one_dead_letter(out, topic, offset, value)
            assert "future timestamp" in msgspec.json.decode(out[0].value, type=DeadLetter).reason
        else:
            assert not [o for o in out if o.topic == TOPIC_DLQ]
            if rule != "unknown_class":  # counted once the reorder buffer releases it
                assert getattr(engine.counters, rule) == before[rule] + 1
    unknown = sum(1 for _, _, rule in records if rule == "unknown_class")
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS
    assert engine.counters.unknown_class == unknown


@pytest.mark.parametrize("topic", [TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS, TOPIC_REGISTRY])
def test_a_huge_record_is_dead_lettered_with_its_value_cut(topic):
    pipeline = CameraPipeline()
    feeder = Feeder(pipeline)
    warm_up(feeder)
    huge = frame(CAM, T0 - 1, 4000, tuple(("no_hat", 0.7) for _ in range(1001)))
    value = dumps(huge) + b" " * (2 << 20) if topic == TOPIC_DETECTIONS else b"[" * (2 << 20)
    offset, out = feeder.handle(topic, CAM, value)
    assert_one_dead_letter(out, topic, offset, value)
    assert len(out[0].value) < 2 * DLQ_VALUE_MAX
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


def test_a_tombstone_and_a_foreign_topic_are_dead_lettered():
    feeder = Feeder(CameraPipeline())
    warm_up(feeder)
    offset, out = feeder.handle(TOPIC_DETECTIONS, CAM, None)
    assert_one_dead_letter(out, TOPIC_DETECTIONS, offset, b"")
    offset, out = feeder.handle("bk.unknown.v1", CAM, b"{}")
    assert_one_dead_letter(out, "bk.unknown.v1", offset, b"{}")
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


def test_live_a_far_future_first_record_does_not_move_the_partition_clock():
    # A fresh partition has no watermark yet: live, the wall clock is the reference.
    feeder = Feeder(CameraPipeline(live=True))
    _, out = feeder.handle(TOPIC_DETECTIONS, "cam-x", dumps(frame("cam-x", 4.0e9, 0)))
    assert [o.topic for o in out] == [TOPIC_DLQ]
    assert "ahead of the wall clock" in msgspec.json.decode(out[0].value, type=DeadLetter).reason
    warm_up(feeder)
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


def test_live_a_feed_from_the_past_is_not_in_the_future():
    # Live workers catching up start fresh partitions at old event times.
    feeder = Feeder(CameraPipeline(wall_clock=lambda: T0 + 10 * 86400, live=True))
    warm_up(feeder)
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


def test_a_replay_dated_after_today_gives_its_events():
    # Event time only: the same feed gives the same answer whenever it is replayed.
    feeder = Feeder(CameraPipeline(wall_clock=lambda: T0 - 365 * 86400))
    warm_up(feeder)
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


def test_in_a_replay_a_far_future_first_record_does_not_move_the_partition_clock():
    # A camera's first record never moves the clock: a second one within
    # MAX_STEP_S must confirm it (stream_apps/pipelines/camera.py).
    feeder = Feeder(CameraPipeline())
    feeder.handle(TOPIC_DETECTIONS, "cam-x", dumps(frame("cam-x", 4.0e9, 0)))
    warm_up(feeder)
    assert violations_of(episode(feeder)) == CLEAN_VIOLATIONS


# -- the ops pipeline ---------------------------------------------------------------
def violation_record(state: str) -> dict:
    return {
        "v": 1,
        "violation_id": "vid-1",
        "camera_id": CAM,
        "operator_id": "op1",
        "cls": "rodent",
        "severity": "critical",
        "state": state,
        "started_at": T0,
        "detected_at": T0 + 1,
        "ended_at": None if state == "open" else T0 + 10,
        "peak_score": 0.9,
        "frames": 2,
        "evidence": {"frame_ts": T0, "box": [0.1, 0.1, 0.3, 0.3]},
    }


def progress(offset: int, watermark: float, violations_upto: int) -> dict:
    return {
        "app": "cameras",
        "topic": TOPIC_DETECTIONS,
        "partition": PARTITION,
        "offset": offset,
        "outputs": {f"{TOPIC_VIOLATIONS}/{PARTITION}": violations_upto},
        "watermark": watermark,
    }


def disposition(ts: float = T0 + 50) -> dict:
    return {"v": 1, "alert_id": "a1", "ts": ts, "actor": "li", "action": "verified", "note": ""}


OPS_VALID = {
    TOPIC_DISPOSITIONS: disposition,
    TOPIC_PROGRESS: lambda: progress(1, T0 - 5, -1),
    TOPIC_VIOLATIONS: lambda: violation_record("open"),
}
"""Inputs the ops app dead-letters. It reads bk.registry.v1 too, but a bad registry
record is dead-lettered by the camera app only (one DLQ row per bad record)."""


def ops_pipeline() -> OpsPipeline:
    return OpsPipeline(WorkingCalendar(set(), set()), wall_clock=lambda: T0)


def ops_flow(feeder: Feeder) -> list[Output]:
    """A registry entry, a rodent violation opened and closed, the camera clock past both."""
    out = feeder.handle(TOPIC_REGISTRY, CAM, dumps(registry(CAM)))[1]
    first = feeder.offsets.get(TOPIC_VIOLATIONS, 0)
    out += feeder.handle(TOPIC_VIOLATIONS, CAM, dumps(violation_record("open")))[1]
    out += feeder.handle(TOPIC_VIOLATIONS, CAM, dumps(violation_record("closed")))[1]
    out += feeder.handle(TOPIC_PROGRESS, None, dumps(progress(500, T0 + 600, first + 1)))[1]
    return [o for o in out if o.topic != TOPIC_DLQ]


def alerts_of(outputs: list[Output]) -> list[bytes]:
    return [o.value for o in outputs if o.topic == TOPIC_ALERTS]


def test_the_valid_ops_flow_raises_an_alert():
    assert alerts_of(ops_flow(Feeder(ops_pipeline())))


@HYPOTHESIS
@given(garbage=st.lists(malformed(OPS_VALID), min_size=1, max_size=8))
def test_malformed_ops_input_is_dead_lettered_and_the_stream_goes_on(garbage):
    clean = ops_flow(Feeder(ops_pipeline()))
    pipeline = ops_pipeline()
    feeder = Feeder(pipeline)
    for topic, value in garbage:
        offset, out = feeder.handle(topic, "a1", value)
        assert_one_dead_letter(out, topic, offset, value)
    assert pipeline.counters.dead_letters == len(garbage)
    assert alerts_of(ops_flow(feeder)) == alerts_of(clean)


def test_a_camera_event_that_is_not_one_is_dead_lettered():
    feeder = Feeder(ops_pipeline())
    value = dumps({**violation_record("open")})
    offset, out = feeder.handle(TOPIC_CAMERA_EVENTS, CAM, value)
    assert_one_dead_letter(out, TOPIC_CAMERA_EVENTS, offset, value)


# -- the dispositions endpoint --------------------------------------------------------
TOKEN = "tok-Ünïcode-0123456789"
GOOD = dumps(disposition())


@HYPOTHESIS
@given(
    auth=st.one_of(
        st.none(),
        st.just(f"Bearer {TOKEN}"),
        st.just(f"bearer   {TOKEN}"),
        st.text(max_size=80),
        st.just(f"Bearer {TOKEN}x"),
        st.just(f"Basic {TOKEN}"),
    ),
    body=st.one_of(st.binary(max_size=400), malformed(OPS_VALID).map(lambda tv: tv[1])),
)
def test_the_dispositions_endpoint_answers_every_request_by_its_rules(auth, body):
    status_code, answer, record = accept_disposition(auth, body, TOKEN)
    authorised = auth is not None and auth.split(" ", 1)[0].lower() == "bearer"
    authorised = authorised and auth.partition(" ")[2].strip() == TOKEN
    if not authorised:
        assert (status_code, record) == (401, None)
        return
    try:
        msgspec.json.decode(body)
        json_ok = True
    except msgspec.DecodeError:
        json_ok = False
    assert status_code in (202, 422)
    assert (status_code == 202) == (record is not None)
    if status_code == 202:
        assert json_ok and record.alert_id
    else:
        assert answer["error"]


def test_a_huge_disposition_is_413_before_it_is_parsed():
    body = b"[" * (MAX_BODY_BYTES + 1)
    assert accept_disposition(f"Bearer {TOKEN}", body, TOKEN)[0] == 413


def test_a_good_disposition_after_garbage_is_still_accepted():
    for bad in (b"\x00", b"{", dumps({**disposition(), "ts": "NaN"}), GOOD.replace(b"1", b"NaN")):
        assert accept_disposition(f"Bearer {TOKEN}", bad, TOKEN)[0] == 422
    assert accept_disposition(f"Bearer {TOKEN}", GOOD, TOKEN)[0] == 202
