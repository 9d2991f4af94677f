"""A replay file for the SLA clocks: alerts disposed on time, late, never, and across a holiday.

One canteen camera (operator ``op-hexi-01``, kitchen ``k-hexi-01``) watched
from 2026-09-30 08:00 to 2026-10-12 08:00 Beijing time — across the 2026
National Day golden week (1-7 October off, Saturday 10 October a make-up
working day). Frames come every 30 s, and every second during three violation
episodes on the first morning. Inspectors answer in ``bk.dispositions.v1``:

| alert | verified | rectified | expected breaches |
|---|---|---|---|
| smoking, 09:00 | after 2 h | 9 Oct (3rd working day is 10 Oct) | none |
| phone_use, 10:00 | after 26 h | 9 Oct | verify_overdue |
| no_hat, 11:00 | never | never | all five (no_hat is fixable at once: 24 h track too) |

Counted on weekends only, the rectification deadline would be 5 October and
both rectifications would be late: the holiday calendar is what makes them
on time.

``frames_for_s`` cuts the frames short: after it the camera sends only
``streaming`` heartbeats (every 30 s), which move the clock as frames do, so
the breaches are the same (DESIGN principle 2).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import msgspec

from inference_workers.simulator import replay_line
from schemas.records import (
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DISPOSITIONS,
    TOPIC_REGISTRY,
    CameraStatus,
    Detection,
    Disposition,
    FrameDetections,
    Quality,
    RegistryEntry,
)
from stream_apps.engines.alerts import alert_id

START = 1_790_726_400.0  # 2026-09-30 08:00 Beijing (00:00 UTC)
HOUR = 3600.0
DAY = 86400.0
DURATION_S = 12 * DAY
CAMERA, KITCHEN, OPERATOR = "cam-hexi-01-a", "k-hexi-01", "op-hexi-01"
# (class, start offset from START, seconds present)
EPISODES = (("smoking", 1 * HOUR, 90), ("phone_use", 2 * HOUR, 90), ("no_hat", 3 * HOUR, 120))
EXPECTED_BREACHES = {
    "phone_use": {"verify_overdue"},
    "no_hat": {
        "verify_overdue",
        "rectify_24h_overdue",
        "rectify_overdue",
        "yellow_card",
        "escalated",
    },
}


def _jittered(rng: random.Random, x1: float, y1: float, x2: float, y2: float) -> tuple:
    dx, dy = rng.uniform(-0.015, 0.015), rng.uniform(-0.015, 0.015)
    return (round(x1 + dx, 4), round(y1 + dy, 4), round(x2 + dx, 4), round(y2 + dy, 4))


def _alert(cls: str, start: float) -> str:
    return alert_id("violation", cls, OPERATOR, f"kitchen:{KITCHEN}", start)


def dispositions() -> list[Disposition]:
    """What the inspectors did, in event time (alert ids are the deterministic ones)."""
    smoking, phone = (_alert(c, START + off) for c, off, _ in EPISODES[:2])
    oct9_noon = START + 9 * DAY + 4 * HOUR  # 2026-10-09 12:00 Beijing
    rows = [
        (smoking, START + 3 * HOUR, "verified"),
        (phone, START + 2 * HOUR + 26 * HOUR, "verified"),
        (smoking, oct9_noon, "rectified"),
        (phone, oct9_noon + 600, "rectified"),
    ]
    return [
        Disposition(v=1, alert_id=a, ts=ts, actor="inspector-li", action=act, note="")
        for a, ts, act in rows
    ]


def records(
    seed: int = 1, frames_for_s: float | None = None
) -> Iterator[tuple[str, str, msgspec.Struct]]:
    """(topic, key, record) in event-time order."""
    rng = random.Random(seed)
    hand = random.Random(f"{seed}/hand")  # its own stream: the rest is unchanged
    yield (
        TOPIC_REGISTRY,
        CAMERA,
        RegistryEntry(
            v=1,
            camera_id=CAMERA,
            kitchen_id=KITCHEN,
            operator_id=OPERATOR,
            operator_name="河西区第一中学食堂",
            district="河西区",
            station="友谊路市场监管所",
            opening_hours=[["00:00", "24:00"]],
            timezone="Asia/Shanghai",
            active=True,
        ),
    )
    view = [rng.gauss(0, 1) for _ in range(64)]
    mean = sum(view) / 64
    norm = sum((x - mean) ** 2 for x in view) ** 0.5
    view = [(x - mean) / norm for x in view]
    times = set(range(0, int(DURATION_S), 30))
    for _, off, secs in EPISODES:
        times.update(range(int(off) - 30, int(off) + secs + 90))
    pending = sorted(dispositions(), key=lambda d: d.ts)
    for seq, t in enumerate(sorted(times)):
        ts = START + t
        while pending and pending[0].ts <= ts:
            d = pending.pop(0)
            yield TOPIC_DISPOSITIONS, d.alert_id, d
        if frames_for_s is not None and t >= frames_for_s:
            status = CameraStatus(
                v=1, camera_id=CAMERA, ts=ts, worker_id="w-hexi", state="streaming", fps=1.0
            )
            yield TOPIC_CAMERA_STATUS, CAMERA, status
            continue
        present = [c for c, off, secs in EPISODES if off <= t < off + secs]
        yield (
            TOPIC_DETECTIONS,
            CAMERA,
            FrameDetections(
                v=1,
                camera_id=CAMERA,
                frame_ts=ts,
                seq=seq,
                worker_id="w-hexi",
                model="kitchen-yolo",
                width=1280,
                height=720,
                quality=Quality(
                    brightness=0.5 + rng.gauss(0, 0.01),
                    sharpness=200 + rng.gauss(0, 8),
                    signature=[x + rng.gauss(0, 0.002) for x in view],
                ),
                # Held objects jitter in a hand (a box that never moves would be a
                # stationary look-alike to the violation engine's motion prior).
                detections=[
                    Detection(cls=c, score=0.85, box=_jittered(hand, 0.3, 0.2, 0.5, 0.6))
                    for c in present
                ],
            ),
        )


def write(path: str | Path, frames_for_s: float | None = None) -> int:
    """Write the scenario as a replay file; return the number of records."""
    n = 0
    with Path(path).open("wb") as f:
        for topic, key, record in records(frames_for_s=frames_for_s):
            f.write(replay_line(topic, key, record))
            n += 1
    return n
