"""A month of the regulators' loop: three operators, two stations, one district.

Local days d0 .. d31 from Monday 2026-11-02 00:00 Beijing time (no holidays in
November). Opening hours 07:00-22:00 everywhere.

- **op-a 老王面馆** (cam-a1, cam-a2; 友谊路所): no_hat d1 09:00, verified 12:00,
  rectified d2 09:00 (a first minor offence fixed within 24 h: lenient); no_hat
  again d8 10:00 (a repeat: raised to major), never handled; on-site inspection
  d4 10:00; food-business licence expires d20 10:00, a health certificate d40.
- **op-b 小李快餐** (cam-b1; 友谊路所): offline d1 10:00, d2 11:00, d3 12:00 in
  opening hours (key-monitoring list) and d1 23:30 after closing (not
  counted); online patrol d3 13:00, right after the third cut (suspicious); no
  licence in its profile (profile incomplete after 7 working days).
- **op-c 张记食堂** (cam-c1; 马场所): smoking d2 14:00 verified 18:00, never
  rectified; phone_use d3 15:00 judged false positive 16:00; camera offline
  d10 06:00 - d12 06:30 (all of d11 lost); online patrol d6 15:00.

Two levels of the same month:

- `camera_records()` / `write(path)`: the camera level, a replay file for
  `brightkitchen replay` (`brightkitchen simulate --profile inspections-month`).
  Per camera a frame every 30 s from d0 00:00 to END (d31 08:00, so a replay's
  clock ends where `run_ops` stops), and every second of its episodes, with a
  box that jitters (the violation engine's motion prior takes a box that never
  moves for a stationary look-alike); a cut keeps the frame at its start (the
  last sign of life) and drops the frames after it until its end. Then the
  dispositions and inspections.
- `ops_feed()`: the ops app's input, the registry, what the camera app makes of
  those frames (`camera_outputs()`: CameraPipeline run over them in process,
  one partition) and the dispositions and inspections, in event-time order.
  So ids, `detected_at` (a violation 1-3 s after its start, offline 65 s after
  the cut: offline_after_s + lateness_s), frames, peak scores and evidence are
  the camera app's, and the camera app's clock begins at 00:00:30 (the
  cameras' second frame: the origin `run_ops` reports). `camera_outputs()`
  checks that the episodes start and the cuts begin and end where the story
  says (the dispositions address alerts by the episode's start: `_alert_of`).

Tests drive the ops pipeline with `ops_feed()` (`run_ops`) and check the rows
of bk.inspection_plan, bk.station_kpis, bk.key_monitoring and bk.licence_alerts
exactly (tests/unit/test_inspections_month.py). Replayed through the whole
pipeline (`brightkitchen replay`, camera app on 4 partitions, ops app, store),
the camera level gives the same rows in those four tables, bk.alerts and
bk.sla_breaches, wall-clock columns aside, with no dead letter (bench/RESULTS.md,
"Inspections month").
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_DISPOSITIONS,
    TOPIC_INSPECTIONS,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    Box,
    CameraEvent,
    Detection,
    Disposition,
    FrameDetections,
    Inspection,
    Licence,
    Quality,
    RegistryEntry,
    Violation,
)
from stream_apps.engines.alerts import alert_id

START = 1_793_548_800.0  # 2026-11-02 00:00 Beijing (Monday)
HOUR = 3600.0
DAY = 86400.0
DAYS = 31
DISTRICT = "河西区"
HOURS = [["07:00", "22:00"]]


def t(day: int, hh: int = 0, mm: int = 0) -> float:
    """Local day ``day`` (0 = 2 Nov 2026) at hh:mm Beijing time."""
    return START + day * DAY + hh * HOUR + mm * 60


END = t(DAYS, 8)
"""The last frame (d31 08:00): where the replay's clock, and run_ops's, ends."""


OPERATORS: dict[str, dict[str, Any]] = {
    "op-a": {
        "name": "老王面馆",
        "kitchen": "k-a",
        "cameras": ["cam-a1", "cam-a2"],
        "station": "友谊路所",
        "licences": [
            Licence(
                kind="food_business", number="JY-A-001", holder="老王面馆", expires_at=t(20, 10)
            ),
            Licence(
                kind="health_certificate", number="HC-A-01", holder="王一", expires_at=t(40, 10)
            ),
        ],
    },
    "op-b": {
        "name": "小李快餐",
        "kitchen": "k-b",
        "cameras": ["cam-b1"],
        "station": "友谊路所",
        "licences": [],
    },
    "op-c": {
        "name": "张记食堂",
        "kitchen": "k-c",
        "cameras": ["cam-c1"],
        "station": "马场所",
        "licences": [
            Licence(
                kind="food_business", number="JY-C-009", holder="张记食堂", expires_at=t(200, 10)
            ),
        ],
    },
}
# (operator, camera, class, start, seconds present)
EPISODES: tuple[tuple[str, str, str, float, float], ...] = (
    ("op-a", "cam-a1", "no_hat", t(1, 9), 120.0),
    ("op-c", "cam-c1", "smoking", t(2, 14), 120.0),
    ("op-c", "cam-c1", "phone_use", t(3, 15), 120.0),
    ("op-a", "cam-a2", "no_hat", t(8, 10), 120.0),
)
# (camera, start, end): camera offline (no frame, no status)
OFFLINE: tuple[tuple[str, float, float], ...] = (
    ("cam-b1", t(1, 10), t(1, 10, 30)),
    ("cam-b1", t(1, 23, 30), t(1, 23, 50)),
    ("cam-b1", t(2, 11), t(2, 11, 40)),
    ("cam-b1", t(3, 12), t(3, 12, 20)),
    ("cam-c1", t(10, 6), t(12, 6, 30)),
)
# (operator, class, episode start, [(ts, action)])
DISPOSITIONS: tuple[tuple[str, str, float, tuple[tuple[float, str], ...]], ...] = (
    ("op-a", "no_hat", t(1, 9), ((t(1, 12), "verified"), (t(2, 9), "rectified"))),
    ("op-c", "smoking", t(2, 14), ((t(2, 18), "verified"),)),
    ("op-c", "phone_use", t(3, 15), ((t(3, 16), "false_positive"),)),
)
INSPECTIONS: tuple[Inspection, ...] = (
    Inspection(
        v=1,
        operator_id="op-b",
        ts=t(3, 13),
        inspector="检查员乙",
        station="友谊路所",
        kind="online",
        result="issues_found",
        note="画面中断",
    ),
    Inspection(
        v=1,
        operator_id="op-a",
        ts=t(4, 10),
        inspector="检查员甲",
        station="友谊路所",
        kind="on_site",
        result="pass",
    ),
    Inspection(
        v=1,
        operator_id="op-c",
        ts=t(6, 15),
        inspector="检查员丙",
        station="马场所",
        kind="online",
        result="pass",
    ),
)


def registry() -> list[RegistryEntry]:
    out = []
    for op_id, op in OPERATORS.items():
        for camera in op["cameras"]:
            out.append(
                RegistryEntry(
                    v=1,
                    camera_id=camera,
                    kitchen_id=op["kitchen"],
                    operator_id=op_id,
                    operator_name=op["name"],
                    district=DISTRICT,
                    station=op["station"],
                    opening_hours=HOURS,
                    licences=list(op["licences"]),
                )
            )
    return out


def _alert_of(op_id: str, cls: str, start: float) -> str:
    return alert_id("violation", cls, op_id, "kitchen:" + OPERATORS[op_id]["kitchen"], start)


def dispositions() -> list[Disposition]:
    out = []
    for op_id, cls, start, acts in DISPOSITIONS:
        aid = _alert_of(op_id, cls, start)
        for ts, action in acts:
            out.append(Disposition(v=1, alert_id=aid, ts=ts, actor="监管员", action=action))
    return out


def ops_feed() -> list[tuple[str, str, Any]]:
    """(topic, key, record) at the ops app's level, in event-time order (registry first).

    The violations and camera events are what the camera app makes of
    ``camera_records()`` (``camera_outputs()``), so a replay of the month through
    the whole pipeline gives the ops app this very feed.
    """
    from stream_apps.pipelines.ops import event_time

    timed: list[tuple[float, int, str, str, Any]] = []
    for topic, key, rec in camera_outputs().records:
        timed.append((event_time(rec), len(timed), topic, key, rec))
    for d in dispositions():
        timed.append((d.ts, len(timed), TOPIC_DISPOSITIONS, d.alert_id, d))
    for i in INSPECTIONS:
        timed.append((i.ts, len(timed), TOPIC_INSPECTIONS, i.operator_id, i))
    timed.sort(key=lambda x: (x[0], x[1]))
    head = [(TOPIC_REGISTRY, e.camera_id, e) for e in registry()]
    return head + [(topic, key, rec) for _, _, topic, key, rec in timed]


@dataclass(frozen=True)
class CameraOutputs:
    """What the camera app makes of the month's frames."""

    records: tuple[tuple[str, str, Violation | CameraEvent], ...]
    """(topic, camera_id, record): violations and camera events, in output order."""
    origin: float
    """Where the frames begin on the camera app's clock (its progress records' origin)."""


@cache
def camera_outputs() -> CameraOutputs:
    """Run the camera-level month through the camera app's pipeline, in process.

    One partition holds every camera (the ops app sees only the events, and each
    camera's events depend on its own frames and the clock); the input is read in
    the replay file's order and ends as a replay's does (the detections input idle,
    the clock at the last frame). Checks that the episodes and cuts of the story
    came out where the tables say (the dispositions address alerts by the
    episode's start: ``_alert_of``).
    """
    from schemas.records import TOPIC_RECORDS, decode, encode
    from stream_apps.pipelines.camera import CameraPipeline

    pipeline = CameraPipeline(wall_clock=lambda: END)
    outputs: list[Any] = []
    offset = 0
    for topic, key, rec in _replay_order():
        if topic in (TOPIC_REGISTRY, TOPIC_DETECTIONS):
            outputs += pipeline.handle(topic, 0, offset, key.encode(), encode(rec))
            offset += 1
    pipeline.set_idle(0, TOPIC_DETECTIONS)
    outputs += pipeline.advance(0)
    if pipeline.counters.dead_letters:
        raise RuntimeError(f"camera app dead-lettered the month: {pipeline.counters}")
    records = tuple((o.topic, o.key, decode(TOPIC_RECORDS[o.topic], o.value)) for o in outputs)
    got = {
        (r.camera_id, r.cls, r.started_at): r.state
        for _, _, r in records
        if isinstance(r, Violation)
    }
    want = {(camera, cls, start): "closed" for _, camera, cls, start, _ in EPISODES}
    cuts = {
        (r.camera_id, r.started_at, r.ended_at)
        for _, _, r in records
        if isinstance(r, CameraEvent) and r.state == "closed"
    }
    kinds = {r.kind for _, _, r in records if isinstance(r, CameraEvent)}
    if got != want or cuts != set(OFFLINE) or kinds != {"offline"}:
        raise RuntimeError(f"the camera app saw another month: {sorted(got)} {sorted(cuts)}")
    origin = pipeline.engines(0).origin
    assert origin is not None
    return CameraOutputs(records, origin)


# -- the replay file (camera level) ------------------------------------------------
_BASE = [((i * 7919) % 64) / 64.0 - 0.5 for i in range(64)]
_SIGNATURE = [x / sum(y * y for y in _BASE) ** 0.5 for x in _BASE]  # one fixed view


def _quality(rng: random.Random) -> Quality:
    return Quality(
        brightness=0.55 + rng.uniform(-0.01, 0.01),
        sharpness=180.0 + rng.uniform(-2, 2),
        signature=_SIGNATURE,  # shared, never mutated
    )


def _jittered(rng: random.Random, x1: float, y1: float, x2: float, y2: float) -> Box:
    dx, dy = rng.uniform(-0.015, 0.015), rng.uniform(-0.015, 0.015)
    return (round(x1 + dx, 4), round(y1 + dy, 4), round(x2 + dx, 4), round(y2 + dy, 4))


def camera_records(
    until: float = END, heartbeat_s: float = 30.0, seed: int = 18
) -> Iterator[tuple[float, str, str, Any]]:
    """(ts, topic, key, record) of the camera-level feed, not sorted.

    Per camera a frame every ``heartbeat_s`` from START to ``until`` (inclusive) and
    every second of its episodes; an offline cut (a, b) keeps the frame at ``a`` (the
    last sign of life: the episode's start) and drops those after it until ``b`` (the
    frame that closes it).
    """
    rng = random.Random(seed)
    # Held objects jitter in a hand (a box that never moves is a stationary
    # look-alike to the violation engine's motion prior, as in sla_scenario.py);
    # its own stream, so the other frames do not depend on the episodes.
    hand = random.Random(f"{seed}/hand")
    for op in OPERATORS.values():
        for camera in op["cameras"]:
            times = {START + k * heartbeat_s for k in range(int((until - START) / heartbeat_s) + 1)}
            present: dict[float, list[str]] = {}
            for _, c, cls, start, dur in EPISODES:
                if c == camera:
                    for k in range(int(dur)):
                        present.setdefault(start + k, []).append(cls)
            times.update(present)
            for c, a, b in OFFLINE:
                if c == camera:
                    times = {ts for ts in times if not a < ts < b}
            for seq, ts in enumerate(sorted(ts for ts in times if ts <= until)):
                dets = [
                    Detection(cls=cls, score=0.9, box=_jittered(hand, 0.2, 0.2, 0.4, 0.5))
                    for cls in present.get(ts, ())
                ]
                yield (ts, TOPIC_DETECTIONS, camera, _frame(camera, ts, seq, dets, rng))
    for d in dispositions():
        yield (d.ts, TOPIC_DISPOSITIONS, d.alert_id, d)
    for i in INSPECTIONS:
        yield (i.ts, TOPIC_INSPECTIONS, i.operator_id, i)


def _frame(
    camera: str, ts: float, seq: int, dets: list[Detection], rng: random.Random
) -> FrameDetections:
    return FrameDetections(
        v=1,
        camera_id=camera,
        frame_ts=ts,
        seq=seq,
        worker_id="sim",
        model="sim",
        width=1280,
        height=720,
        quality=_quality(rng),
        detections=dets,
    )


def _replay_order() -> Iterator[tuple[str, str, Any]]:
    """(topic, key, record) of the replay file: the registry, then by event time."""
    for e in registry():
        yield TOPIC_REGISTRY, e.camera_id, e
    for _, topic, key, rec in sorted(camera_records(), key=lambda r: (r[0], r[1], r[2])):
        yield topic, key, rec


def write(path: Path) -> int:
    """Write the month as a replay file; return the number of records."""
    enc = msgspec.json.Encoder()
    n = 0
    with path.open("wb") as f:
        for topic, key, rec in _replay_order():
            f.write(enc.encode({"topic": topic, "key": key, "value": rec}) + b"\n")
            n += 1
    return n


def run_ops(
    until: float | None = None, step_s: float = HOUR, notification_params: Any = None
) -> tuple[Any, list[Any]]:
    """Drive the ops pipeline with `ops_feed()` and a camera clock stepping by ``step_s``.

    Returns (pipeline, outputs): what the ops app would produce from the month
    when the camera app's watermark reaches ``until`` (default: END, where the
    replay file's frames end). The progress records carry the camera app's
    origin (where its clock begins), as a replay's do.
    """
    from schemas.records import TOPIC_PROGRESS, encode
    from stream_apps.engines.sla import WorkingCalendar
    from stream_apps.pipelines.ops import OpsPipeline

    until = END if until is None else until
    origin = camera_outputs().origin
    pipeline = OpsPipeline(
        WorkingCalendar(set(), set(), covered_years={2026}),
        notification_params=notification_params,
        # A fixed "now" at the end of the month: deterministic, and (as a live
        # run's wall clock would) after every disposition the feed holds.
        wall_clock=lambda: until,
    )
    offsets: dict[str, int] = {}
    outputs: list[Any] = []
    for topic, key, record in ops_feed():
        off = offsets.get(topic, 0)
        outputs += pipeline.handle(topic, 0, off, key.encode(), encode(record))
        offsets[topic] = off + 1
    backed = {
        f"{topic}/0": n - 1
        for topic, n in offsets.items()
        if topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS)
    }
    wm = origin  # a camera app's clock begins where its frames do
    while wm < until:
        wm = min(wm + step_s, until)
        progress = msgspec.json.encode(
            {
                "app": "cameras",
                "topic": TOPIC_DETECTIONS,
                "partition": 0,
                "offset": 0,
                "outputs": backed,
                "watermark": wm,
                "origin": origin,
            }
        )
        outputs += pipeline.handle(TOPIC_PROGRESS, 0, 0, None, progress)
    return pipeline, outputs


def store_month(client: Any, outputs: list[Any] | None = None) -> int:
    """Migrate ``client``'s store and write the month's ops outputs into it; return rows."""
    from clickhouse.migrate import migrate
    from schemas.records import TOPIC_RECORDS, decode
    from stream_apps.sink.store_writer import StoreWriter

    if outputs is None:
        outputs = run_ops()[1]
    migrate(client)
    writer = StoreWriter(client)
    by_topic: dict[str, list[Any]] = {}
    for o in outputs:
        by_topic.setdefault(o.topic, []).append(decode(TOPIC_RECORDS[o.topic], o.value))
    return sum(writer.write(topic, records) for topic, records in by_topic.items())


if __name__ == "__main__":  # python -m brightkitchen.inspections_scenario STORE_DIR
    import sys

    import clickhouse_connect

    c = clickhouse_connect.get_client(dsn=f"chdb://{Path(sys.argv[1]).resolve()}")
    print(store_month(c), "rows")
    c.close()
