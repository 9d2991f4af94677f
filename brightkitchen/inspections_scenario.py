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

`ops_feed()` is the feed at the ops app's level (what the camera app would have
produced: violation episodes and camera events) plus the registry,
dispositions and inspections, in event-time order; tests drive the ops
pipeline with it and check the rows of bk.inspection_plan, bk.station_kpis,
bk.key_monitoring and bk.licence_alerts exactly (tests/unit/test_inspections_month.py).
`write(path)` writes the same month as a replay file for `brightkitchen replay`
(a frame every 30 s per camera outside its offline spans, frames of the
violation episodes, dispositions, inspections):
`brightkitchen simulate --profile inspections-month`. Known gap: replayed
through the camera app, a camera that goes silent holds its partition's
watermark, and the other camera's frames on that partition are then
dead-lettered as "future timestamp" (seen with 4 partitions); the exact rows
are therefore asserted at the ops app's input (`run_ops`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
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
    CameraEvent,
    Detection,
    Disposition,
    Evidence,
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
DECISION_S = 15.0  # camera app: violation raised this long after its start
OFFLINE_AFTER_S = 60.0  # camera app: offline raised this long after the last frame


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
    """(topic, key, record) at the ops app's level, in event-time order (registry first)."""
    timed: list[tuple[float, int, str, str, Any]] = []
    n = 0
    for op_id, camera, cls, start, dur in EPISODES:
        sev = "major" if cls == "smoking" else "minor"
        vid = f"v-{camera}-{cls}-{int(start)}"
        common = dict(
            v=1,
            violation_id=vid,
            camera_id=camera,
            operator_id=op_id,
            cls=cls,
            severity=sev,
            started_at=start,
            detected_at=start + DECISION_S,
            peak_score=0.9,
            frames=int(dur),
            evidence=Evidence(frame_ts=start, box=(0.2, 0.2, 0.4, 0.5)),
        )
        opened = Violation(state="open", ended_at=None, **common)
        closed = Violation(state="closed", ended_at=start + dur, **common)
        timed += [
            (start + DECISION_S, n, TOPIC_VIOLATIONS, camera, opened),
            (start + dur, n + 1, TOPIC_VIOLATIONS, camera, closed),
        ]
        n += 2
    for camera, start, end in OFFLINE:
        op_id = next(o for o, op in OPERATORS.items() if camera in op["cameras"])
        common = dict(
            v=1,
            event_id=f"e-{camera}-offline-{int(start)}",
            camera_id=camera,
            operator_id=op_id,
            kind="offline",
            started_at=start,
            detected_at=start + OFFLINE_AFTER_S,
            detail="no frames",
        )
        timed += [
            (
                start + OFFLINE_AFTER_S,
                n,
                TOPIC_CAMERA_EVENTS,
                camera,
                CameraEvent(state="open", ended_at=None, **common),
            ),
            (
                end,
                n + 1,
                TOPIC_CAMERA_EVENTS,
                camera,
                CameraEvent(state="closed", ended_at=end, **common),
            ),
        ]
        n += 2
    for d in dispositions():
        timed.append((d.ts, n, TOPIC_DISPOSITIONS, d.alert_id, d))
        n += 1
    for i in INSPECTIONS:
        timed.append((i.ts, n, TOPIC_INSPECTIONS, i.operator_id, i))
        n += 1
    timed.sort(key=lambda x: (x[0], x[1]))
    head = [(TOPIC_REGISTRY, e.camera_id, e) for e in registry()]
    return head + [(topic, key, rec) for _, _, topic, key, rec in timed]


# -- the replay file (camera level) ------------------------------------------------
def _quality(rng: random.Random) -> Quality:
    base = [((i * 7919) % 64) / 64.0 - 0.5 for i in range(64)]
    norm = sum(x * x for x in base) ** 0.5
    return Quality(
        brightness=0.55 + rng.uniform(-0.01, 0.01),
        sharpness=180.0 + rng.uniform(-2, 2),
        signature=[x / norm for x in base],
    )


def camera_records(
    days: int = DAYS, heartbeat_s: float = 30.0, seed: int = 18
) -> Iterator[tuple[float, str, str, Any]]:
    """(ts, topic, key, record) of the camera-level feed, not sorted."""
    rng = random.Random(seed)
    end = START + days * DAY
    for op in OPERATORS.values():
        for camera in op["cameras"]:
            gaps = [(a, b) for c, a, b in OFFLINE if c == camera]
            ts = START
            seq = 0
            while ts < end:
                if not any(a <= ts < b for a, b in gaps):
                    # A frame per heartbeat: the camera app's offline clock and its
                    # baselines run on frames (as in brightkitchen/sla_scenario.py).
                    yield (ts, TOPIC_DETECTIONS, camera, _frame(camera, ts, seq, [], rng))
                    seq += 1
                ts += heartbeat_s
    for _, camera, cls, start, dur in EPISODES:
        for k in range(int(dur)):
            det = Detection(cls=cls, score=0.9, box=(0.2, 0.2, 0.4, 0.5))
            yield (
                start + k,
                TOPIC_DETECTIONS,
                camera,
                _frame(camera, start + k, 10**6 + k, [det], rng),
            )
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


def write(path: Path, days: int = DAYS) -> int:
    """Write the month as a replay file; return the number of records."""
    enc = msgspec.json.Encoder()
    rows = sorted(camera_records(days), key=lambda r: (r[0], r[1], r[2]))
    n = 0
    with path.open("wb") as f:
        for e in registry():
            f.write(enc.encode({"topic": TOPIC_REGISTRY, "key": e.camera_id, "value": e}) + b"\n")
            n += 1
        for _, topic, key, rec in rows:
            f.write(enc.encode({"topic": topic, "key": key, "value": rec}) + b"\n")
            n += 1
    return n


def run_ops(
    until: float | None = None, step_s: float = HOUR, notification_params: Any = None
) -> tuple[Any, list[Any]]:
    """Drive the ops pipeline with `ops_feed()` and a camera clock stepping by ``step_s``.

    Returns (pipeline, outputs): what the ops app would produce from the month
    when the camera app's watermark reaches ``until`` (default: the end of d31 08:00).
    """
    from schemas.records import TOPIC_PROGRESS, encode
    from stream_apps.engines.sla import WorkingCalendar
    from stream_apps.pipelines.ops import OpsPipeline

    until = t(DAYS, 8) if until is None else until
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
    wm = START
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
