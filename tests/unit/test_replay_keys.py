"""Replay partitions by the value's key field, not the envelope's key."""

from __future__ import annotations

import json

from brightkitchen.replay import read_envelopes


def write(tmp_path, lines):
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_a_missing_or_wrong_envelope_key_is_corrected_from_the_value(tmp_path):
    frame = {"v": 1, "camera_id": "cam-1", "frame_ts": 1.0}
    path = write(
        tmp_path,
        [
            {"topic": "bk.detections.v1", "key": None, "value": frame},
            {"topic": "bk.detections.v1", "key": "cam-9", "value": frame},
            {"topic": "bk.detections.v1", "value": frame},
            {"topic": "bk.dispositions.v1", "key": "x", "value": {"alert_id": "a1"}},
        ],
    )
    assert [env.key for _, env in read_envelopes(path)] == ["cam-1", "cam-1", "cam-1", "a1"]


def test_a_value_without_its_key_field_keeps_the_envelope_key_for_the_dlq(tmp_path):
    # Not a valid record of its topic: the stream app dead-letters it with the reason.
    path = write(
        tmp_path,
        [
            {"topic": "bk.detections.v1", "key": "cam-1", "value": {"camera_id": "cam-2"}},
            {"topic": "bk.camera-status.v1", "key": "cam-1", "value": {"ts": 1.0}},
            {"topic": "bk.camera-status.v1", "key": "cam-1", "value": [1, 2]},
        ],
    )
    assert [env.key for _, env in read_envelopes(path)] == ["cam-2", "cam-1", "cam-1"]
