"""Dispositions dated beyond the clock plus the allowed skew are refused, never held."""

from __future__ import annotations

import json

import msgspec

from schemas.records import TOPIC_DISPOSITIONS, TOPIC_DLQ, TOPIC_PROGRESS, DeadLetter, Progress
from stream_apps.dispositions_api import accept_disposition
from stream_apps.engines.sla import WorkingCalendar
from stream_apps.pipelines.ops import OpsPipeline

T = 1_790_726_400.0


def body(ts: float) -> bytes:
    return json.dumps(
        {"v": 1, "alert_id": "a1", "ts": ts, "actor": "li", "action": "verified"}
    ).encode()


def test_http_refuses_a_disposition_in_2099_with_422():
    status, answer, record = accept_disposition("Bearer t", body(4_070_908_800.0), "t")
    assert (status, record) == (422, None)
    assert "future timestamp" in answer["error"]


def test_http_accepts_within_the_skew_of_the_ops_clock():
    far = 4_070_908_800.0
    status, _, record = accept_disposition("Bearer t", body(far + 60), "t", clock=far)
    assert status == 202 and record is not None
    status, _, _ = accept_disposition("Bearer t", body(far + 7200), "t", clock=far)
    assert status == 422


def test_the_topic_dead_letters_a_future_disposition_instead_of_holding_it():
    ops = OpsPipeline(
        WorkingCalendar(set(), set()), disposition_max_skew_s=600, wall_clock=lambda: T - 86400
    )
    progress = Progress(
        app="cameras", topic="bk.detections.v1", partition=0, offset=0, outputs={}, watermark=T
    )
    ops.handle(TOPIC_PROGRESS, 0, 0, None, msgspec.json.encode(progress))
    assert ops.clock == T
    ok = ops.handle(TOPIC_DISPOSITIONS, 0, 0, b"a1", body(T + 300))
    assert not [o for o in ok if o.topic == TOPIC_DLQ]
    out = ops.handle(TOPIC_DISPOSITIONS, 0, 1, b"a1", body(T + 601))
    assert [o.topic for o in out] == [TOPIC_DLQ]
    assert "future timestamp" in msgspec.json.decode(out[0].value, type=DeadLetter).reason
    assert len(ops._held) == 1


def test_the_topic_does_not_refuse_a_disposition_read_before_the_clock_moved():
    """A replay may read the dispositions topic ahead of the progress records:
    a disposition inside the wall clock's skew is held, not refused."""
    ops = OpsPipeline(WorkingCalendar(set(), set()), wall_clock=lambda: T + 30 * 86400)
    out = ops.handle(TOPIC_DISPOSITIONS, 0, 0, b"a1", body(T + 20 * 86400))
    assert not [o for o in out if o.topic == TOPIC_DLQ]
    out = ops.handle(TOPIC_DISPOSITIONS, 0, 1, b"a1", body(4_070_908_800.0))
    assert [o.topic for o in out] == [TOPIC_DLQ]
