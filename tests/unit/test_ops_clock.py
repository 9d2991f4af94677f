"""The ops app's clock waits for every camera partition, so its alerts do not
depend on which camera worker happened to start (or report) first."""

from __future__ import annotations

import msgspec

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_LICENCE_ALERTS,
    TOPIC_OPERATOR_RATES,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    Progress,
)
from stream_apps.engines.sla import WorkingCalendar
from stream_apps.pipelines.camera import CameraPipeline
from stream_apps.pipelines.ops import SILENT_PARTITION_GRACE_S, OpsPipeline
from tests.unit.test_bad_input import T0, dumps, frame, registry

# One kitchen, two cameras in two partitions: a rodent on cam-a at +60 s and on
# cam-b at +200 s belong to one alert anchored on cam-a's episode.
CAMERAS = {0: "cam-a", 1: "cam-b"}
RODENT_FROM = {"cam-a": 60, "cam-b": 200}
Row = tuple[str, int, int, bytes]  # topic, partition, offset, value


def progress(
    partition: int,
    topic: str,
    offset: int,
    outputs: dict,
    wm: float | None,
    origin: float | None = None,
) -> bytes:
    msg = Progress(
        app="cameras", topic=topic, partition=partition, offset=offset, outputs=outputs,
        watermark=wm, origin=origin,
    )  # fmt: skip
    return msgspec.json.encode(msg)


def camera_output(
    partition: int, report_every_s: int = 20, duration_s: int = 600, rodent: bool = True
) -> tuple[list[Row], list[Row]]:
    """(the registry record and its progress, then the violations and progress records) of one
    camera partition over ten minutes of frames, reported every ``report_every_s``
    of frames and at the end."""
    camera = CAMERAS[partition]
    cam = CameraPipeline()
    cam.handle(TOPIC_REGISTRY, partition, 0, None, dumps(registry(camera)))
    head = [
        (TOPIC_REGISTRY, partition, 0, dumps(registry(camera))),
        (TOPIC_PROGRESS, partition, 0, progress(partition, TOPIC_REGISTRY, 0, {}, None)),
    ]
    rows: list[Row] = []
    offsets: dict[str, int] = {}
    start = RODENT_FROM[camera]
    seq = 0
    for seq, t in enumerate(range(0, duration_s, 2)):
        dets = (("rodent", 0.95),) if rodent and start <= t < start + 30 else ()
        value = dumps(frame(camera, T0 + t, seq, dets))
        for o in cam.handle(TOPIC_DETECTIONS, partition, seq, None, value) + cam.advance(partition):
            if o.topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS):
                off = offsets.get(o.topic, 0)
                offsets[o.topic] = off + 1
                rows.append((o.topic, partition, off, o.value))
        if t % report_every_s == 0 or t == duration_s - 2:
            outs = {f"{topic}/{partition}": off - 1 for topic, off in offsets.items()}
            origin = cam.partitions[partition].origin
            value = progress(partition, TOPIC_DETECTIONS, seq, outs, cam.clock(partition), origin)
            rows.append((TOPIC_PROGRESS, partition, seq + 1, value))
    return head, rows


def alerts(rows: list[Row]) -> dict[str, dict]:
    ops = OpsPipeline(WorkingCalendar(set(), set()))
    latest = {}
    for topic, partition, offset, value in rows:
        for o in ops.handle(topic, partition, offset, None, value):
            if o.topic == TOPIC_ALERTS:
                rec = msgspec.json.decode(o.value)
                latest[rec["alert_id"]] = rec
    return latest


def interleaved(a: list[Row], b: list[Row]) -> list[Row]:
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


def test_a_partition_that_reports_late_does_not_change_the_alerts():
    head_a, a = camera_output(0)
    head_b, b = camera_output(1)
    balanced = alerts(head_a + head_b + interleaved(a, b))
    assert len(balanced) == 1
    (only,) = balanced.values()
    assert len(only["members"]) == 2
    # cam-b's worker runs far ahead before cam-a's worker reports anything
    assert alerts(head_a + head_b + b + a) == balanced
    assert alerts(head_b + head_a + a + b) == balanced


def test_a_partition_that_reports_after_the_others_ran_past_the_grace_in_a_replay():
    """A replay: one worker's first fetches held three partitions' batches and not the
    fourth's, so the others are far past the grace in event time a moment after the
    first watermark. The late partition is still waited for (wall time)."""
    duration = int(SILENT_PARTITION_GRACE_S) * 3
    head_a, a = camera_output(0, duration_s=duration)
    head_b, b = camera_output(1, duration_s=duration)
    balanced = alerts(head_a + head_b + interleaved(a, b))
    assert len(balanced) == 1
    assert alerts(head_a + head_b + b + a) == balanced


def test_a_partition_that_never_reports_holds_the_clock_only_for_a_while():
    """Its cameras never send anything: after the grace (event and wall time) the
    others' events flow."""
    head_a, a = camera_output(0)
    silent = progress(1, TOPIC_REGISTRY, 0, {}, None)
    wall = [T0]
    ops = OpsPipeline(WorkingCalendar(set(), set()), wall_clock=lambda: wall[0])
    ops.handle(TOPIC_PROGRESS, 1, 0, None, silent)
    for topic, partition, offset, value in head_a + a:
        ops.handle(topic, partition, offset, None, value)
    assert SILENT_PARTITION_GRACE_S > 600  # ten minutes of frames: still waiting
    assert ops.clock == float("-inf")
    later = T0 + 600 + SILENT_PARTITION_GRACE_S
    ops.handle(TOPIC_PROGRESS, 0, 10**6, None, progress(0, TOPIC_DETECTIONS, 10**6, {}, later))
    assert ops.clock == float("-inf")  # past it in event time, but not in wall time
    wall[0] += SILENT_PARTITION_GRACE_S
    later += 2
    step = progress(0, TOPIC_DETECTIONS, 10**6 + 1, {}, later)
    ops.handle(TOPIC_PROGRESS, 0, 10**6 + 1, None, step)
    assert ops.clock == later


def test_a_partition_whose_input_ended_without_any_event_is_not_waited_for():
    """A replay's end-of-input report of a partition that never had a frame or a
    status (watermark None): it will never move, so the others' events flow at
    once, not after the grace (a short replay would otherwise give nothing)."""
    head_a, a = camera_output(0)
    ops = OpsPipeline(WorkingCalendar(set(), set()))
    ops.handle(TOPIC_PROGRESS, 1, 0, None, progress(1, TOPIC_REGISTRY, 0, {}, None))
    for topic, partition, offset, value in head_a + a:
        ops.handle(topic, partition, offset, None, value)
    assert ops.clock == float("-inf")  # waiting for partition 1 (the grace)
    ended = Progress(
        app="cameras", topic=TOPIC_DETECTIONS, partition=1, offset=-1, outputs={},
        input_ended=True,
    )  # fmt: skip
    ops.handle(TOPIC_PROGRESS, 1, 1, None, msgspec.json.encode(ended))
    assert ops.clock == T0 + 598


def test_exposure_does_not_depend_on_the_first_clock_value_within_its_bucket():
    """Cameras registered before the clock: the first clock value is wherever the
    partitions' first reports happened to meet; exposure must not follow it."""
    from schemas.records import RegistryEntry, decode
    from stream_apps.engines.rates import RateEngine

    def rows(first_clock: float) -> list:
        engine = RateEngine()
        for camera in CAMERAS.values():
            engine.feed(decode(RegistryEntry, dumps(registry(camera))))
        engine.advance(first_clock)
        return [(r.rate_id, r.exposure_h) for r in engine.advance(T0 + 3600)]

    early = rows(T0 + 12)
    assert early and all(h > 0 for _, h in early)
    assert rows(T0 + 57) == early


def test_operator_rates_do_not_depend_on_where_the_first_reports_land():
    """How the camera app batches decides its first watermarks (a report every
    20 s of frames, or every 400 s); no ops output may follow them: time starts
    where the frames begin (Progress.origin). No violation comes early to anchor
    the first rows: the first clock value is all there is. The operator's
    licence expires in 10 days: its 30-day warning is raised when it became
    known, which must be the origin too."""

    def outputs(report_every_s: int) -> tuple[dict[str, bytes], set[tuple[str, bytes]]]:
        head_a, a = camera_output(0, report_every_s, duration_s=2400, rodent=False)
        head_b, b = camera_output(1, report_every_s, duration_s=2400, rodent=False)
        licence = {"kind": "food_business", "number": "JY-1", "holder": "某某餐饮",
                   "expires_at": T0 + 10 * 86400}  # fmt: skip
        entry = dumps({**registry("cam-a"), "licences": [licence]})
        head_a[0] = (TOPIC_REGISTRY, 0, 0, entry)
        ops = OpsPipeline(WorkingCalendar(set(), set()))
        rates, every = {}, set()
        for topic, partition, offset, value in head_a + head_b + interleaved(a, b):
            for o in ops.handle(topic, partition, offset, None, value):
                every.add((o.topic, o.value))
                if o.topic == TOPIC_OPERATOR_RATES:
                    rates[msgspec.json.decode(o.value)["rate_id"]] = o.value
        return rates, every

    often, all_often = outputs(20)
    assert len(often) > 10
    assert any(topic == TOPIC_LICENCE_ALERTS for topic, _ in all_often)
    rarely, all_rarely = outputs(400)
    assert rarely == often
    assert all_rarely == all_often
