"""The ops app restored from a checkpoint mid-stream gives what an undisturbed run gives."""

from __future__ import annotations

import msgspec

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_OPERATOR_RATES,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    TOPIC_SLA_BREACHES,
    TOPIC_VIOLATIONS,
    Progress,
)
from stream_apps.engines.sla import SlaParams, WorkingCalendar
from stream_apps.pipelines.camera import CameraPipeline
from stream_apps.pipelines.ops import OPS_STATE_TOPIC, OpsPipeline
from tests.unit.test_bad_input import T0, dumps, frame, registry

CAMS = ("cam-a", "cam-b", "cam-c")


def ops_input() -> list[tuple[str, int, bytes | None, bytes]]:
    """(topic, offset, key, value) the ops app reads: the camera app's outputs over
    two hours of frames with rodents and an outage, and its progress records."""
    cam = CameraPipeline()
    out: list[tuple[str, int, bytes | None, bytes]] = []
    offsets: dict[str, int] = {}

    def emit(topic: str, key: bytes | None, value: bytes) -> None:
        off = offsets.get(topic, 0)
        offsets[topic] = off + 1
        out.append((topic, off, key, value))

    for i, c in enumerate(CAMS):
        cam.handle(TOPIC_REGISTRY, 0, i, None, dumps(registry(c)))
        emit(TOPIC_REGISTRY, c.encode(), dumps(registry(c)))
    off = 0
    for t in range(0, 7200, 2):
        for c in CAMS:
            if c == "cam-c" and 1800 <= t < 2400:
                continue  # ten minutes offline
            rodent = c != "cam-b" and (t % 1800) < 40
            dets = (("rodent", 0.95),) if rodent else ()
            recs = cam.handle(TOPIC_DETECTIONS, 0, off, None, dumps(frame(c, T0 + t, off, dets)))
            off += 1
            for o in recs + cam.advance(0):
                emit(o.topic, o.key.encode() if isinstance(o.key, str) else o.key, o.value)
        if t % 20 == 0:
            outs = {
                f"{topic}/0": offsets[topic] - 1
                for topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS)
                if topic in offsets
            }
            p = Progress(
                app="cameras",
                topic=TOPIC_DETECTIONS,
                partition=0,
                offset=off - 1,
                outputs=outs,
                watermark=cam.clock(0),
            )
            emit(TOPIC_PROGRESS, b"p", msgspec.json.encode(p))
    return out


FEED = ops_input()
CAL = WorkingCalendar(set(), set())
SLA = SlaParams(verify_within_s=900.0)


def new_ops() -> OpsPipeline:
    return OpsPipeline(CAL, sla_params=SLA)


def stored(outputs) -> dict[tuple[str, str], bytes]:
    rows = {}
    for o in outputs:
        if o.topic in (TOPIC_ALERTS, TOPIC_SLA_BREACHES, TOPIC_OPERATOR_RATES):
            rec = msgspec.json.decode(o.value)
            rid = rec.get("breach_id") or rec.get("rate_id") or rec["alert_id"]
            rows[(o.topic, rid)] = o.value
    return rows


def run_through(ops: OpsPipeline, records) -> list:
    out = []
    for topic, off, key, value in records:
        out += ops.handle(topic, 0, off, key, value)
    return out


def test_restore_mid_stream_equals_an_undisturbed_run():
    undisturbed = run_through(new_ops(), FEED)
    reference = stored(undisturbed)
    assert any(t == TOPIC_ALERTS for t, _ in reference)
    assert any(t == TOPIC_SLA_BREACHES for t, _ in reference)
    assert any(t == TOPIC_OPERATOR_RATES for t, _ in reference)
    for cut in (len(FEED) // 3, len(FEED) // 2, 2 * len(FEED) // 3):
        # The consumer resumes at its last commit, at or before the checkpoint:
        # what the checkpoint covers is redelivered. The resume point is clamped at
        # the start of the feed (a negative slice start would wrap round and skip
        # the records between the checkpoint and it: a gap the shell never leaves,
        # OpsAgent.catch_up re-reads it).
        for resume in (cut - 50, max(0, cut - 400)):
            first = new_ops()
            durable = run_through(first, FEED[: cut - 50])
            state = {o.key: o.value for o in first.checkpoint() if o.topic == OPS_STATE_TOPIC}
            lost = run_through(first, FEED[cut - 50 : cut])  # then kill -9: state lost
            second = new_ops()
            assert second.restore(state)
            after = run_through(second, FEED[resume:])
            assert stored(durable + lost + after) == reference
            # what the checkpoint covers is not raised again, and what follows it
            # is raised exactly as the undisturbed run raised it, in order
            assert [o.value for o in durable + after] == [o.value for o in undisturbed]
            ids = [
                msgspec.json.decode(o.value)["breach_id"]
                for o in durable + after
                if o.topic == TOPIC_SLA_BREACHES
            ]
            assert sorted(ids) == sorted(set(ids))
            assert len(ids) == sum(1 for t, _ in reference if t == TOPIC_SLA_BREACHES)


def test_the_checkpoint_is_chunked_and_survives_a_torn_write():
    ops = new_ops()
    run_through(ops, FEED[: len(FEED) // 2])
    good = {o.key: o.value for o in ops.checkpoint()}
    torn = dict(good)
    nxt = ops.checkpoint()
    torn.update({o.key: o.value for o in nxt[:-2]})  # crashed before the marker
    again = new_ops()
    assert again.restore(torn) == new_ops().restore(good)


def test_engines_registered_later_are_checkpointed():
    class Counter:
        def __init__(self):
            self.n = 0

        def snapshot(self):
            return {"n": self.n}

        def restore(self, snap):
            self.n = snap["n"]

    ops = new_ops()
    ops.register_engine("kpi", c := Counter())
    c.n = 7
    state = {o.key: o.value for o in ops.checkpoint()}
    again = new_ops()
    again.register_engine("kpi", d := Counter())
    again.restore(state)
    assert d.n == 7
