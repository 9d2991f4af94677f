"""DeepStream nvmsgconv payloads (minimal and full schema) become bk.detections.v1 records."""

from __future__ import annotations

import json

import pytest

from inference_workers.deepstream import (
    DeepStreamAdapter,
    DeepStreamPayloadError,
    FullSchemaFrames,
    parse_timestamp,
    schema_of,
)
from stream_apps.pipelines.camera import CameraPipeline

SIG = [0.125] * 32 + [-0.125] * 32
QUALITY = json.dumps({"bk_quality": {"brightness": 0.5, "sharpness": 150.0, "signature": SIG}})


def quality(frame: int) -> str:
    """A live picture's quality: sensor noise moves sharpness a little every frame
    (identical quality fields are one repeated picture, not new evidence)."""
    return json.dumps(
        {"bk_quality": {"brightness": 0.5, "sharpness": 150.0 + 0.3 * frame, "signature": SIG}}
    )


def minimal(frame: int, objects: list[str], ts: str = "2026-11-02T08:00:00.000Z") -> dict:
    return {
        "version": "4.0",
        "id": frame,
        "@timestamp": ts,
        "sensorId": "cam-ds-1",
        "objects": objects,
        "customMessage": [quality(frame)],
    }


def full(
    label: str,
    box: tuple[int, int, int, int],
    ts: str,
    confidence: float = 0.9,
    object_id: str = "17",
) -> dict:
    x1, y1, x2, y2 = box
    return {
        "messageid": "m",
        "mdsversion": "1.0",
        "@timestamp": ts,
        "sensor": {"id": "cam-ds-2", "type": "Camera"},
        "object": {
            "id": object_id,
            "speed": 0,
            "direction": 0,
            "orientation": 0,
            label: {"confidence": confidence},
            "bbox": {"topleftx": x1, "toplefty": y1, "bottomrightx": x2, "bottomrighty": y2},
            "location": {},
            "coordinate": {},
        },
        "customMessage": [QUALITY],
    }


def test_a_minimal_payload_becomes_one_frame_with_mapped_classes():
    adapter = DeepStreamAdapter(frame_sizes={"cam-ds-1": (1000, 500)})
    rec = adapter.from_minimal(minimal(42, ["3|100|50|300|250|rat|#|0.92", "4|0|0|10|10|car"]))
    assert (rec.camera_id, rec.seq, rec.width, rec.height) == ("cam-ds-1", 42, 1000, 500)
    assert rec.frame_ts == parse_timestamp("2026-11-02T08:00:00.000Z") == 1_793_606_400.0
    [det] = rec.detections  # "car" maps to no violation class and is dropped
    assert det.cls == "rodent" and det.score == pytest.approx(0.92)
    assert det.box == pytest.approx((0.1, 0.1, 0.3, 0.5))


def test_a_minimal_frame_without_objects_is_still_a_frame():
    rec = DeepStreamAdapter().from_minimal(minimal(1, []))
    assert rec.detections == [] and rec.quality.sharpness == 150.3


def test_boxes_outside_the_frame_are_clipped():
    rec = DeepStreamAdapter().from_minimal(minimal(1, ["1|-20|-5|2000|1200|rat|#|0.8"]))
    assert rec.detections[0].box == (0.0, 0.0, 1.0, 1.0)


def test_full_schema_messages_of_one_frame_are_grouped():
    frames = FullSchemaFrames()
    t1, t2 = "2026-11-02T08:00:01.000Z", "2026-11-02T08:00:02.000Z"
    done = list(frames.add(full("rat", (0, 0, 192, 108), t1)))
    done += list(frames.add(full("cigarette", (960, 540, 1920, 1080), t1, 0.7, "18")))
    assert done == []
    [(first, _)] = list(frames.add(full("rat", (0, 0, 10, 10), t2)))
    rec = DeepStreamAdapter().from_full(first)
    assert sorted(d.cls for d in rec.detections) == ["rodent", "smoking"]
    assert rec.frame_ts == parse_timestamp(t1)
    [(second, _)] = list(frames.flush())
    assert len(second) == 1


def test_a_payload_without_quality_is_a_frame_without_quality():
    payload = minimal(1, [])
    del payload["customMessage"]
    assert DeepStreamAdapter().from_minimal(payload).quality is None


def test_a_malformed_quality_block_is_refused_with_the_reason():
    payload = minimal(1, [])
    payload["customMessage"] = [json.dumps({"bk_quality": {"brightness": 2}})]
    with pytest.raises(DeepStreamPayloadError, match="bk_quality"):
        DeepStreamAdapter().from_minimal(payload)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"sensorId": "", "objects": []}, "sensorId"),
        ({"@timestamp": "yesterday"}, "RFC 3339"),
        ({"objects": "nope"}, "not a list"),
    ],
)
def test_malformed_minimal_payloads_name_the_problem(bad, reason):
    payload = {**minimal(1, []), **bad}
    with pytest.raises(DeepStreamPayloadError, match=reason):
        DeepStreamAdapter().from_minimal(payload)


@pytest.mark.parametrize(
    "obj, reason", [("1|2|3", "fewer than 6"), ("1|a|0|1|1|rat", "not numeric")]
)
def test_a_malformed_object_is_dropped_with_its_reason_and_the_rest_kept(obj, reason):
    adapter = DeepStreamAdapter()
    rec, dropped = adapter.convert_minimal(minimal(1, [obj, "2|0|0|10|10|rat|#|0.8"]))
    assert [d.cls for d in rec.detections] == ["rodent"]
    assert len(dropped) == 1 and reason in dropped[0] and adapter.objects_dropped == 1


def test_the_schema_is_told_by_shape():
    assert schema_of(minimal(1, [])) == "minimal"
    assert schema_of(full("mouse", (0, 0, 1, 1), "2026-11-02T08:00:00Z")) == "full"
    with pytest.raises(DeepStreamPayloadError):
        schema_of({"hello": 1})


def test_the_camera_pipeline_accepts_the_records_and_raises_a_rodent():
    """Two confident mouse frames are a rodent episode, as from our own workers."""
    adapter = DeepStreamAdapter()
    pipeline = CameraPipeline()
    outputs = []
    for second in range(20):
        x = 100 + 80 * second  # a real rat runs (a still box is held as a look-alike)
        objects = [f"1|{x}|100|{x + 100}|200|rat|#|0.9"] if second in (3, 4) else []
        rec = adapter.from_minimal(minimal(second, objects, f"2026-11-02T08:00:{second:02d}.000Z"))
        outputs += pipeline.handle("bk.detections.v1", 0, second, None, rec_bytes(rec))
    assert pipeline.counters.dead_letters == 0
    assert [o.topic for o in outputs] == ["bk.violations.v1"]


def rec_bytes(rec) -> bytes:
    from schemas.records import encode

    return encode(rec)
