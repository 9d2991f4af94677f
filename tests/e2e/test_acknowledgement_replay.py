"""Dispositions reach the camera app, end to end through `brightkitchen replay`:
an inspector verifies an `angle_changed` alert, and the camera accepts its new
view as the baseline (the event closes at the verification, nothing reopens)."""

from __future__ import annotations

import msgspec
import pytest

from inference_workers.simulator import replay_line
from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_DISPOSITIONS,
    CameraEvent,
    Disposition,
    RegistryEntry,
)
from stream_apps.engines.alerts import AlertEngine
from stream_apps.pipelines.camera import CameraPipeline
from tests.e2e.test_replay_cli import query, replay
from tests.unit.test_camera_pipeline import _turned_camera_feed

pytestmark = pytest.mark.e2e


def _opened_and_verified() -> tuple[list, CameraEvent, Disposition]:
    """The feed, the angle_changed event it opens, and an inspector's verification
    of its alert a minute after it was raised (ids from the engines themselves)."""
    feed = _turned_camera_feed()
    pipe = CameraPipeline()
    events = []
    for n, (topic, key, value) in enumerate(feed):
        for o in pipe.handle(topic, 0, n, key.encode(), value) + pipe.advance(0):
            if o.topic == TOPIC_CAMERA_EVENTS:
                events.append(msgspec.json.decode(o.value, type=CameraEvent))
    (opened,) = [e for e in events if e.kind == "angle_changed" and e.state == "open"]
    alerts = AlertEngine()
    alerts.feed(msgspec.json.decode(feed[0][2], type=RegistryEntry))
    (alert,) = alerts.feed(opened)
    verified = Disposition(
        v=1, alert_id=alert.alert_id, ts=opened.detected_at + 60, actor="inspector-7",
        action="verified", note="new position agreed with the kitchen",
    )  # fmt: skip
    return feed, opened, verified


def test_a_verified_angle_change_rebaselines_the_camera(tmp_path):
    feed, opened, verified = _opened_and_verified()
    path = tmp_path / "turned.jsonl"
    with path.open("wb") as f:
        pending = [verified]
        for topic, key, value in feed:
            ts = msgspec.json.decode(value).get("frame_ts")
            if pending and ts is not None and ts > pending[0].ts:
                f.write(replay_line(TOPIC_DISPOSITIONS, verified.alert_id, pending.pop()))
            f.write(
                b'{"topic":"%s","key":"%s","value":%s}\n' % (topic.encode(), key.encode(), value)
            )
    replay(tmp_path / "run", path)
    rows = query(
        tmp_path / "run",
        "SELECT event_id, state, toUnixTimestamp64Milli(ended_at) AS ended_ms, detail "
        "FROM bk.camera_events FINAL WHERE kind = 'angle_changed'",
    )
    assert len(rows) == 1, rows  # closed by the acknowledgement, never reopened
    (row,) = rows
    assert row["event_id"] == opened.event_id
    assert row["state"] == "closed"
    assert int(row["ended_ms"]) == round(verified.ts * 1000)
    assert "acknowledged" in row["detail"]
    (alert,) = query(tmp_path / "run", "SELECT state FROM bk.alerts FINAL")
    assert alert["state"] == "verified"
