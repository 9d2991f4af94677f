"""Wire records: strict decoding with errors that name the problem; exported schemas in sync."""

from __future__ import annotations

import json

import pytest

from schemas.export import JSON_DIR, render
from schemas.records import (
    TOPIC_RECORDS,
    FrameDetections,
    RecordError,
    RegistryEntry,
    decode,
    decode_topic,
)

SIG = [0.125] * 32 + [-0.125] * 32


def frame(**changes) -> dict:
    value = {
        "v": 1,
        "camera_id": "cam-1",
        "frame_ts": 1_793_577_600.0,
        "seq": 7,
        "worker_id": "w1",
        "model": "m",
        "width": 640,
        "height": 480,
        "quality": {"brightness": 0.5, "sharpness": 120.0, "signature": SIG},
        "detections": [{"cls": "no_hat", "score": 0.8, "box": [0.1, 0.1, 0.3, 0.4]}],
    }
    value.update(changes)
    return value


def error_of(record_type, value) -> str:
    with pytest.raises(RecordError) as exc:
        decode(record_type, json.dumps(value) if not isinstance(value, bytes) else value)
    return str(exc.value)


def test_a_valid_frame_decodes():
    rec = decode(FrameDetections, json.dumps(frame()))
    assert rec.detections[0].cls == "no_hat" and rec.quality.signature == SIG


def test_a_score_above_one_names_its_field():
    bad = frame(detections=[{"cls": "no_hat", "score": 1.5, "box": [0, 0, 1, 1]}])
    assert "$.detections[0].score" in error_of(FrameDetections, bad)


def test_a_missing_field_is_named():
    value = frame()
    del value["frame_ts"]
    assert "frame_ts" in error_of(FrameDetections, value)


def test_unknown_fields_are_rejected():
    assert "surprise" in error_of(FrameDetections, frame(surprise=1))


def test_nan_is_not_json_and_is_rejected():
    raw = json.dumps(frame()).replace('"score": 0.8', '"score": NaN').encode()
    assert "malformed JSON" in error_of(FrameDetections, raw)


def test_truncated_json_is_malformed():
    assert "malformed JSON" in error_of(FrameDetections, json.dumps(frame())[:-3].encode())


def test_a_signature_must_have_64_values():
    bad = frame(quality={"brightness": 0.5, "sharpness": 1.0, "signature": [0.0] * 63})
    assert "signature" in error_of(FrameDetections, bad)


def test_an_inverted_box_is_rejected():
    bad = frame(detections=[{"cls": "rodent", "score": 0.9, "box": [0.5, 0.5, 0.1, 0.1]}])
    assert "box" in error_of(FrameDetections, bad)


def test_timestamps_outside_2000_to_2100_are_rejected():
    assert "frame_ts" in error_of(FrameDetections, frame(frame_ts=12.0))
    assert "frame_ts" in error_of(FrameDetections, frame(frame_ts=5e9))


def test_opening_hours_must_be_hh_mm():
    entry = {
        "v": 1,
        "camera_id": "c",
        "kitchen_id": "k",
        "operator_id": "o",
        "operator_name": "n",
        "district": "d",
        "station": "s",
        "opening_hours": [["7am", "22:00"]],
    }
    assert "opening_hours" in error_of(RegistryEntry, entry)


def test_an_unknown_topic_is_an_error():
    with pytest.raises(RecordError, match="unknown topic"):
        decode_topic("bk.nope.v1", b"{}")


def test_every_contract_topic_has_a_record_type():
    assert {
        "bk.detections.v1",
        "bk.camera-status.v1",
        "bk.registry.v1",
        "bk.dispositions.v1",
        "bk.violations.v1",
        "bk.camera-events.v1",
        "bk.operator-rates.v1",
        "bk.alerts.v1",
        "bk.sla-breaches.v1",
        "bk.dlq.v1",
    } <= set(TOPIC_RECORDS)


def test_the_exported_json_schemas_match_the_code():
    """Run `brightkitchen schemas export` after changing schemas/records.py."""
    rendered = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in JSON_DIR.glob("*.json")}
    assert {k: json.loads(v) for k, v in committed.items()} == {
        k: json.loads(v) for k, v in rendered.items()
    }
