"""Decoded wire records -> Arrow tables, one per contract topic stored.

The conversion half of the sink's writer (`store_writer` inserts what these
build): columns are built one at a time from the records with comprehensions
and numpy, never through a dict per row.

Conversions every table shares:
- times: float seconds since the epoch -> `DateTime64(3, 'UTC')`, rounded to
  the nearest millisecond (never truncated: 1700000000.123 * 1000 is
  1700000000122.9999...). Arrow carries them as UTC instants, so neither the
  host's nor the server's time zone is involved.
- `version` (violations, camera events): state_rank * 2^48 + event_ms with
  state_rank 1 for `open` and 2 for `closed` and event_ms the milliseconds of
  `ended_at`, or of `detected_at` while open. It is the same value the
  column's DEFAULT computes (clickhouse/migrations/0001_violations.sql), so a
  closed record beats an open one in whatever order they arrive, and a
  replayed record ties with itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_INSPECTION_PLAN,
    TOPIC_KEY_MONITORING,
    TOPIC_LICENCE_ALERTS,
    TOPIC_OPERATOR_RATES,
    TOPIC_SLA_BREACHES,
    TOPIC_STATION_KPIS,
    TOPIC_VIOLATIONS,
    Alert,
    CameraEvent,
    DeadLetter,
    FrameDetections,
    OperatorRate,
    RegistryEntry,
    SlaBreach,
    Violation,
)

TS_MS = pa.timestamp("ms", tz="UTC")
TS_US = pa.timestamp("us", tz="UTC")
_STATE_SHIFT = 48  # event_ms < 2^42 until the year 2100


def _timestamps(seconds: Sequence[float]) -> tuple[np.ndarray, pa.Array]:
    """Epoch seconds -> (int64 milliseconds, Arrow UTC timestamp array)."""
    ms = np.rint(np.asarray(seconds, dtype=np.float64) * 1000.0).astype(np.int64)
    return ms, pa.array(ms, type=TS_MS)


def _nullable_timestamps(seconds: Sequence[float | None]) -> tuple[np.ndarray, pa.Array]:
    """Like _timestamps, with None -> null; the int64 array holds -1 for nulls."""
    mask = np.fromiter((s is None for s in seconds), dtype=bool, count=len(seconds))
    filled = [0.0 if s is None else s for s in seconds]
    ms = np.rint(np.asarray(filled, dtype=np.float64) * 1000.0).astype(np.int64)
    ms[mask] = -1
    return ms, pa.array(ms, type=TS_MS, mask=mask)


def _episode_version(
    states: Sequence[str], detected_ms: np.ndarray, ended_ms: np.ndarray
) -> pa.Array:
    closed = np.fromiter((s == "closed" for s in states), dtype=bool, count=len(states))
    rank = np.where(closed, 2, 1).astype(np.uint64)
    event_ms = np.where(ended_ms >= 0, ended_ms, detected_ms).astype(np.uint64)
    return pa.array((rank << np.uint64(_STATE_SHIFT)) + event_ms, type=pa.uint64())


def _fixed_lists(values: np.ndarray, width: int) -> pa.Array:
    """A flat float32 array of n*width values -> list<float32> of n lists."""
    offsets = np.arange(0, len(values) + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.float32()))


def _column(records: Sequence[Any], field: str) -> list[Any]:
    # map(attrgetter) runs in C: about twice as fast as a comprehension.
    return list(map(attrgetter(field), records))


def violations_table(records: Sequence[Violation]) -> pa.Table:
    """bk.violations.v1 records -> rows of bk.violations."""
    n = len(records)
    _, started = _timestamps(_column(records, "started_at"))
    detected_ms, detected = _timestamps(_column(records, "detected_at"))
    ended_ms, ended = _nullable_timestamps(_column(records, "ended_at"))
    states = _column(records, "state")
    evidence = _column(records, "evidence")
    _, evidence_ts = _timestamps(_column(evidence, "frame_ts"))
    boxes = np.fromiter(
        chain.from_iterable(_column(evidence, "box")), dtype=np.float32, count=4 * n
    )
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "violation_id": pa.array(_column(records, "violation_id"), pa.string()),
            "camera_id": pa.array(_column(records, "camera_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "cls": pa.array(_column(records, "cls"), pa.string()),
            "severity": pa.array(_column(records, "severity"), pa.string()),
            "state": pa.array(states, pa.string()),
            "started_at": started,
            "detected_at": detected,
            "ended_at": ended,
            "peak_score": pa.array(_column(records, "peak_score"), pa.float32()),
            "frames": pa.array(_column(records, "frames"), pa.uint32()),
            "evidence": pa.StructArray.from_arrays(
                [evidence_ts, _fixed_lists(boxes, 4)], names=["frame_ts", "box"]
            ),
            "evidence_snapshot": pa.array(_column(evidence, "snapshot"), pa.string()),
            "version": _episode_version(states, detected_ms, ended_ms),
        }
    )


def camera_events_table(records: Sequence[CameraEvent]) -> pa.Table:
    """bk.camera-events.v1 records -> rows of bk.camera_events."""
    _, started = _timestamps(_column(records, "started_at"))
    detected_ms, detected = _timestamps(_column(records, "detected_at"))
    ended_ms, ended = _nullable_timestamps(_column(records, "ended_at"))
    states = _column(records, "state")
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "event_id": pa.array(_column(records, "event_id"), pa.string()),
            "camera_id": pa.array(_column(records, "camera_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "kind": pa.array(_column(records, "kind"), pa.string()),
            "state": pa.array(states, pa.string()),
            "started_at": started,
            "detected_at": detected,
            "ended_at": ended,
            "detail": pa.array(_column(records, "detail"), pa.string()),
            "version": _episode_version(states, detected_ms, ended_ms),
        }
    )


class _NoQuality:
    brightness = float("nan")
    sharpness = float("nan")


_NO_QUALITY = _NoQuality()


def detections_table(records: Sequence[FrameDetections]) -> pa.Table:
    """bk.detections.v1 records -> rows of bk.detections (one per frame)."""
    per_frame = _column(records, "detections")
    counts = np.fromiter(map(len, per_frame), dtype=np.int32, count=len(records))
    offsets = pa.array(np.concatenate(([0], np.cumsum(counts, dtype=np.int32))))
    dets = list(chain.from_iterable(per_frame))
    boxes = np.fromiter(
        chain.from_iterable(_column(dets, "box")), dtype=np.float32, count=4 * len(dets)
    )
    # A frame without measured quality (stock DeepStream) stores NaN.
    qualities = [q if q is not None else _NO_QUALITY for q in _column(records, "quality")]
    _, frame_ts = _timestamps(_column(records, "frame_ts"))
    return pa.table(
        {
            "camera_id": pa.array(_column(records, "camera_id"), pa.string()),
            "frame_ts": frame_ts,
            "seq": pa.array(_column(records, "seq"), pa.uint64()),
            "worker_id": pa.array(_column(records, "worker_id"), pa.string()),
            "model": pa.array(_column(records, "model"), pa.string()),
            "width": pa.array(_column(records, "width"), pa.uint16()),
            "height": pa.array(_column(records, "height"), pa.uint16()),
            "brightness": pa.array(_column(qualities, "brightness"), pa.float32()),
            "sharpness": pa.array(_column(qualities, "sharpness"), pa.float32()),
            "cls": pa.ListArray.from_arrays(offsets, pa.array(_column(dets, "cls"), pa.string())),
            "score": pa.ListArray.from_arrays(
                offsets, pa.array(_column(dets, "score"), pa.float32())
            ),
            "box": pa.ListArray.from_arrays(offsets, _fixed_lists(boxes, 4)),
        }
    )


HOUR_RANGE = pa.struct([("open", pa.string()), ("close", pa.string())])


def cameras_table(records: Sequence[RegistryEntry], updated_us: np.ndarray) -> pa.Table:
    """bk.registry.v1 records -> rows of bk.cameras, stamped with `updated_us`."""
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "camera_id": pa.array(_column(records, "camera_id"), pa.string()),
            "kitchen_id": pa.array(_column(records, "kitchen_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "operator_name": pa.array(_column(records, "operator_name"), pa.string()),
            "district": pa.array(_column(records, "district"), pa.string()),
            "station": pa.array(_column(records, "station"), pa.string()),
            "opening_hours": pa.array(
                [[tuple(h) for h in r.opening_hours] for r in records], pa.list_(HOUR_RANGE)
            ),
            "timezone": pa.array(_column(records, "timezone"), pa.string()),
            "active": pa.array(_column(records, "active"), pa.bool_()),
            "updated_at": pa.array(updated_us, type=TS_US),
        }
    )


def dead_letters_table(records: Sequence[DeadLetter]) -> pa.Table:
    """bk.dlq.v1 records -> rows of bk.dead_letters."""
    _, ts = _timestamps(_column(records, "ts"))
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "reason": pa.array(_column(records, "reason"), pa.string()),
            "source_topic": pa.array(_column(records, "source_topic"), pa.string()),
            "partition": pa.array(_column(records, "partition"), pa.int32()),
            "offset": pa.array(_column(records, "offset"), pa.int64()),
            "key": pa.array(_column(records, "key"), pa.string()),
            "value": pa.array(_column(records, "value"), pa.string()),
            "app": pa.array(_column(records, "app"), pa.string()),
            "ts": ts,
        }
    )


def alerts_table(records: Sequence[Alert]) -> pa.Table:
    """bk.alerts.v1 records -> rows of bk.alerts (latest `revision` wins)."""
    _, first_started = _timestamps(_column(records, "first_started_at"))
    _, created = _timestamps(_column(records, "created_at"))
    _, group_until = _timestamps(_column(records, "group_until"))
    _, updated = _timestamps(_column(records, "updated_at"))
    _, verified = _nullable_timestamps(_column(records, "verified_at"))
    _, resolved = _nullable_timestamps(_column(records, "resolved_at"))
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "alert_id": pa.array(_column(records, "alert_id"), pa.string()),
            "source": pa.array(_column(records, "source"), pa.string()),
            "cls": pa.array(_column(records, "cls"), pa.string()),
            "severity": pa.array(_column(records, "severity"), pa.string()),
            "state": pa.array(_column(records, "state"), pa.string()),
            "kitchen_id": pa.array(_column(records, "kitchen_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "district": pa.array(_column(records, "district"), pa.string()),
            "station": pa.array(_column(records, "station"), pa.string()),
            "camera_ids": pa.array(_column(records, "camera_ids"), pa.list_(pa.string())),
            "members": pa.array(_column(records, "members"), pa.list_(pa.string())),
            "first_started_at": first_started,
            "created_at": created,
            "group_until": group_until,
            "updated_at": updated,
            "revision": pa.array(_column(records, "revision"), pa.uint64()),
            "verified_at": verified,
            "resolved_at": resolved,
            "resolution": pa.array(_column(records, "resolution"), pa.string()),
            "last_actor": pa.array(_column(records, "last_actor"), pa.string()),
            "snapshot": pa.array(_column(records, "snapshot"), pa.string()),
            "repeat_of": pa.array(_column(records, "repeat_of"), pa.string()),
            "base_severity": pa.array(_column(records, "base_severity"), pa.string()),
            "lenient": pa.array(_column(records, "lenient"), pa.bool_()),
        }
    )


def sla_breaches_table(records: Sequence[SlaBreach]) -> pa.Table:
    """bk.sla-breaches.v1 records -> rows of bk.sla_breaches (one per breach_id)."""
    _, due = _timestamps(_column(records, "due_at"))
    _, alert_created = _timestamps(_column(records, "alert_created_at"))
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "breach_id": pa.array(_column(records, "breach_id"), pa.string()),
            "alert_id": pa.array(_column(records, "alert_id"), pa.string()),
            "kind": pa.array(_column(records, "kind"), pa.string()),
            "due_at": due,
            "alert_created_at": alert_created,
            "state_at_due": pa.array(_column(records, "state_at_due"), pa.string()),
            "source": pa.array(_column(records, "source"), pa.string()),
            "cls": pa.array(_column(records, "cls"), pa.string()),
            "severity": pa.array(_column(records, "severity"), pa.string()),
            "kitchen_id": pa.array(_column(records, "kitchen_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "district": pa.array(_column(records, "district"), pa.string()),
            "station": pa.array(_column(records, "station"), pa.string()),
            "calendar_covered": pa.array(_column(records, "calendar_covered"), pa.bool_()),
        }
    )


CLASS_RATE = pa.struct(
    [
        ("cls", pa.string()),
        ("violations", pa.uint32()),
        ("raw_rate", pa.float64()),
        ("rate", pa.float64()),
        ("prior_rate", pa.float64()),
    ]
)


def operator_rates_table(records: Sequence[OperatorRate]) -> pa.Table:
    """bk.operator-rates.v1 records -> rows of bk.operator_rates (one per rate_id)."""
    _, window_start = _timestamps(_column(records, "window_start"))
    _, as_of = _timestamps(_column(records, "as_of"))
    classes = [
        [(c.cls, c.violations, c.raw_rate, c.rate, c.prior_rate) for c in per_rate]
        for per_rate in _column(records, "classes")
    ]
    breaches = [list(b.items()) for b in _column(records, "sla_breaches")]
    return pa.table(
        {
            "v": pa.array(_column(records, "v"), pa.uint8()),
            "rate_id": pa.array(_column(records, "rate_id"), pa.string()),
            "operator_id": pa.array(_column(records, "operator_id"), pa.string()),
            "district": pa.array(_column(records, "district"), pa.string()),
            "station": pa.array(_column(records, "station"), pa.string()),
            "window": pa.array(_column(records, "window"), pa.string()),
            "window_s": pa.array(_column(records, "window_s"), pa.float64()),
            "window_start": window_start,
            "as_of": as_of,
            "cameras": pa.array(_column(records, "cameras"), pa.uint32()),
            "exposure_h": pa.array(_column(records, "exposure_h"), pa.float64()),
            "violations": pa.array(_column(records, "violations"), pa.uint32()),
            "raw_rate": pa.array(_column(records, "raw_rate"), pa.float64()),
            "rate": pa.array(_column(records, "rate"), pa.float64()),
            "prior_rate": pa.array(_column(records, "prior_rate"), pa.float64()),
            "prior_source": pa.array(_column(records, "prior_source"), pa.string()),
            "prior_strength_h": pa.array(_column(records, "prior_strength_h"), pa.float64()),
            "classes": pa.array(classes, pa.list_(CLASS_RATE)),
            "sla_breaches": pa.array(breaches, pa.map_(pa.string(), pa.uint32())),
            "grade": pa.array(_column(records, "grade"), pa.string()),
            "colour": pa.array(_column(records, "colour"), pa.string()),
            "grade_window": pa.array(_column(records, "grade_window"), pa.string()),
            "reason": pa.array(_column(records, "reason"), pa.string()),
            "hours_to_grade": pa.array(_column(records, "hours_to_grade"), pa.float64()),
        }
    )


# -- the regulators' loop (docs/inspections.md): flat records, one column per field --
_ARROW: dict[str, Callable[[list[Any]], pa.Array]] = {
    "str": lambda v: pa.array(v, pa.string()),
    "u8": lambda v: pa.array(v, pa.uint8()),
    "u16": lambda v: pa.array(v, pa.uint16()),
    "u32": lambda v: pa.array(v, pa.uint32()),
    "f64": lambda v: pa.array(v, pa.float64()),
    "bool": lambda v: pa.array(v, pa.bool_()),
    "ts": lambda v: _timestamps(v)[1],
    "nts": lambda v: _nullable_timestamps(v)[1],
    "date": lambda v: pa.array(
        np.array(v, dtype="datetime64[D]") if v else np.array([], dtype="datetime64[D]"),
        pa.date32(),
    ),
    "strs": lambda v: pa.array(v, pa.list_(pa.string())),
}


def _flat_table(records: Sequence[Any], columns: dict[str, str]) -> pa.Table:
    return pa.table({name: _ARROW[kind](_column(records, name)) for name, kind in columns.items()})


INSPECTION_PLAN_COLUMNS = {
    "v": "u8",
    "plan_id": "str",
    "operator_id": "str",
    "operator_name": "str",
    "district": "str",
    "station": "str",
    "as_of": "ts",
    "grade": "str",
    "colour": "str",
    "grade_reason": "str",
    "on_key_monitoring": "bool",
    "due_per_year": "f64",
    "interval_days": "f64",
    "last_inspection_at": "nts",
    "last_on_site_at": "nts",
    "last_result": "str",
    "inspections_365d": "u32",
    "next_due_at": "ts",
    "overdue": "bool",
    "overdue_days": "f64",
    "month": "str",
    "inspected_this_month": "bool",
    "station_operators": "u32",
    "station_inspected_this_month": "u32",
    "risk_rank": "u32",
    "alerts_30d": "u32",
}
STATION_KPI_COLUMNS = {
    "v": "u8",
    "kpi_id": "str",
    "level": "str",
    "district": "str",
    "station": "str",
    "day": "date",
    "day_start": "ts",
    "window_days": "u16",
    **{
        k: "u32"
        for k in (
            "kitchens_registered",
            "kitchens_connected",
            "cameras_registered",
            "cameras_online",
        )
    },
    "kitchen_coverage": "f64",
    "camera_coverage": "f64",
    **{
        k: "u32"
        for k in (
            "kitchen_days",
            "alerts",
            "confirmed",
            "rectified",
            "false_positive",
            "timely_due",
            "timely_met",
        )
    },
    "discovery_rate": "f64",
    "handling_rate": "f64",
    "timely_rate": "f64",
    "false_alarm_rate": "f64",
}
KEY_MONITORING_COLUMNS = {
    "v": "u8",
    "entry_id": "str",
    "operator_id": "str",
    "operator_name": "str",
    "district": "str",
    "station": "str",
    "state": "str",
    "since": "ts",
    "until": "nts",
    "reason": "str",
    "evidence": "strs",
    "events": "u32",
    "suspicious": "u32",
    "revision": "u32",
    "updated_at": "ts",
}
LICENCE_ALERT_COLUMNS = {
    "v": "u8",
    "licence_alert_id": "str",
    "operator_id": "str",
    "operator_name": "str",
    "district": "str",
    "station": "str",
    "kind": "str",
    "number": "str",
    "holder": "str",
    "stage": "str",
    "expires_at": "nts",
    "due_at": "ts",
    "days_left": "f64",
    "severity": "str",
}


CONVERTERS: dict[str, Callable[[Sequence[Any]], pa.Table]] = {
    TOPIC_VIOLATIONS: violations_table,
    TOPIC_CAMERA_EVENTS: camera_events_table,
    TOPIC_DETECTIONS: detections_table,
    TOPIC_DLQ: dead_letters_table,
    TOPIC_ALERTS: alerts_table,
    TOPIC_SLA_BREACHES: sla_breaches_table,
    TOPIC_OPERATOR_RATES: operator_rates_table,
    TOPIC_INSPECTION_PLAN: lambda r: _flat_table(r, INSPECTION_PLAN_COLUMNS),
    TOPIC_STATION_KPIS: lambda r: _flat_table(r, STATION_KPI_COLUMNS),
    TOPIC_KEY_MONITORING: lambda r: _flat_table(r, KEY_MONITORING_COLUMNS),
    TOPIC_LICENCE_ALERTS: lambda r: _flat_table(r, LICENCE_ALERT_COLUMNS),
}
"""Topic -> the Arrow table of a batch of its records. The registry is absent:
`cameras_table` needs the `updated_at` stamps the writer's clock gives."""
