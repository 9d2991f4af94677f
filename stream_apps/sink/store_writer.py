"""Decoded wire records -> Arrow tables -> ClickHouse tables of database `bk`.

`StoreWriter(client).write(topic, records)` converts a batch of records of one
contract topic into one Arrow table and inserts it with `insert_arrow` (about
four times faster than row lists). Columns are built one at a time from the
records with comprehensions and numpy, never through a dict per row.

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
- `updated_at` (cameras): registry records carry no time, so the writer
  stamps them with its wall clock in microseconds, strictly increasing within
  a writer (later records of a batch, and later batches, win).

Inserts are idempotent at the table level: every table is a ReplacingMergeTree
keyed by the record's id, so writing a batch twice (a retry, a replay) changes
nothing a `FINAL` read sees. This module imports no Kafka client.
"""

from __future__ import annotations

import time
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
    TOPIC_REGISTRY,
    TOPIC_SLA_BREACHES,
    TOPIC_STATION_KPIS,
    TOPIC_VIOLATIONS,
    Alert,
    CameraEvent,
    DeadLetter,
    FrameDetections,
    InspectionPlanRow,
    KeyMonitoringEntry,
    LicenceAlert,
    OperatorRate,
    RegistryEntry,
    SlaBreach,
    StationKpi,
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


# Contract topic -> (table, record type). Topics absent here are not stored
# by this writer (inputs other than detections and the registry).
TABLES: dict[str, tuple[str, type]] = {
    TOPIC_VIOLATIONS: ("bk.violations", Violation),
    TOPIC_CAMERA_EVENTS: ("bk.camera_events", CameraEvent),
    TOPIC_DETECTIONS: ("bk.detections", FrameDetections),
    TOPIC_REGISTRY: ("bk.cameras", RegistryEntry),
    TOPIC_DLQ: ("bk.dead_letters", DeadLetter),
    TOPIC_ALERTS: ("bk.alerts", Alert),
    TOPIC_SLA_BREACHES: ("bk.sla_breaches", SlaBreach),
    TOPIC_OPERATOR_RATES: ("bk.operator_rates", OperatorRate),
    TOPIC_INSPECTION_PLAN: ("bk.inspection_plan", InspectionPlanRow),
    TOPIC_STATION_KPIS: ("bk.station_kpis", StationKpi),
    TOPIC_KEY_MONITORING: ("bk.key_monitoring", KeyMonitoringEntry),
    TOPIC_LICENCE_ALERTS: ("bk.licence_alerts", LicenceAlert),
}

MAX_PARTITIONS_PER_INSERT = 100
"""Table partitions one insert may touch (ClickHouse's
``max_partitions_per_insert_block``, set explicitly on every insert so a
server's own setting cannot change it). A batch spanning more partitions is
split by :meth:`StoreWriter.write` into inserts of at most this many: one
camera sending a frame a day for a year must not fail the whole batch
("Too many partitions for single INSERT block"), and many small parts per
insert are what the limit protects the server from, so it is not raised."""

PARTITION_KEYS: dict[str, tuple[str, str]] = {
    TOPIC_DETECTIONS: ("frame_ts", "D"),  # PARTITION BY toDate(frame_ts)
    TOPIC_DLQ: ("ts", "M"),  # PARTITION BY toYYYYMM(ts)
    TOPIC_OPERATOR_RATES: ("as_of", "M"),  # PARTITION BY toYYYYMM(as_of)
    # PARTITION BY toYYYYMM(day): day_start is the local midnight (UTC+8), at most
    # one month off at a month's first day: only the batch split can differ.
    TOPIC_STATION_KPIS: ("day_start", "M"),
    TOPIC_VIOLATIONS: ("started_at", "M"),  # 0180: PARTITION BY toYYYYMM(started_at)
    TOPIC_CAMERA_EVENTS: ("started_at", "M"),  # 0181: PARTITION BY toYYYYMM(started_at)
}
"""Topic -> (record field, numpy datetime unit) of its table's partition key
(clickhouse/migrations; keep in step when a migration changes a key). The
other tables are not partitioned. See docs/scaling.md, "Table partitioning"."""

# optimize_on_insert=0: skip collapsing duplicates inside each inserted block;
# FINAL and background merges collapse them anyway. For detections, whose
# Array(LowCardinality) column makes that insert-time merge the most costly
# step, this makes the insert about three times faster.
_LIMIT = {"max_partitions_per_insert_block": MAX_PARTITIONS_PER_INSERT}
INSERT_SETTINGS: dict[str, dict[str, Any]] = {
    topic: {**_LIMIT, **({"optimize_on_insert": 0} if topic == TOPIC_DETECTIONS else {})}
    for topic in TABLES
}

QUARANTINE_TABLE = "bk.quarantine"
QUARANTINE_VALUE_MAX = 8192


def partition_chunks(topic: str, records: Sequence[Any]) -> list[np.ndarray] | None:
    """Row indices per insert so none touches more than MAX_PARTITIONS_PER_INSERT
    partitions; None when the batch fits in one insert."""
    key = PARTITION_KEYS.get(topic)
    if key is None or len(records) <= MAX_PARTITIONS_PER_INSERT:
        return None
    field, unit = key
    ms = np.rint(np.asarray(_column(records, field), dtype=np.float64) * 1000.0).astype(np.int64)
    parts = ms.astype("datetime64[ms]").astype(f"datetime64[{unit}]").astype(np.int64)
    unique = np.unique(parts)
    if len(unique) <= MAX_PARTITIONS_PER_INSERT:
        return None
    chunk_of = np.searchsorted(unique, parts) // MAX_PARTITIONS_PER_INSERT
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange(1, chunk_of.max() + 1))
    return np.split(order, bounds)


class StoreWriter:
    """Inserts batches of decoded records of one topic into their table.

    `client` is a clickhouse-connect client (chdb or server) on a store the
    migrations have been applied to. Not thread-safe; use one per thread.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._last_updated_us = 0
        self._converters: dict[str, Callable[[Sequence[Any]], pa.Table]] = {
            TOPIC_VIOLATIONS: violations_table,
            TOPIC_CAMERA_EVENTS: camera_events_table,
            TOPIC_DETECTIONS: detections_table,
            TOPIC_REGISTRY: self._cameras_table,
            TOPIC_DLQ: dead_letters_table,
            TOPIC_ALERTS: alerts_table,
            TOPIC_SLA_BREACHES: sla_breaches_table,
            TOPIC_OPERATOR_RATES: operator_rates_table,
            TOPIC_INSPECTION_PLAN: lambda r: _flat_table(r, INSPECTION_PLAN_COLUMNS),
            TOPIC_STATION_KPIS: lambda r: _flat_table(r, STATION_KPI_COLUMNS),
            TOPIC_KEY_MONITORING: lambda r: _flat_table(r, KEY_MONITORING_COLUMNS),
            TOPIC_LICENCE_ALERTS: lambda r: _flat_table(r, LICENCE_ALERT_COLUMNS),
        }

    def to_arrow(self, topic: str, records: Sequence[Any]) -> pa.Table:
        """The Arrow table `write` would insert for these records."""
        try:
            table, record_type = TABLES[topic]
        except KeyError:
            raise ValueError(
                f"no store table for topic {topic!r}; known: {', '.join(TABLES)}"
            ) from None
        bad = next((r for r in records if not isinstance(r, record_type)), None)
        if bad is not None:
            raise TypeError(
                f"{topic} holds {record_type.__name__} records, got {type(bad).__name__}"
            )
        return self._converters[topic](records)

    def write(self, topic: str, records: Sequence[Any]) -> int:
        """Insert `records` (all of `topic`'s record type); return the rows written.

        Raises ValueError for a topic without a table, TypeError for a record
        of the wrong type; nothing is written then.
        """
        arrow = self.to_arrow(topic, records)
        if not len(records):
            return 0
        table, settings = TABLES[topic][0], INSERT_SETTINGS[topic]
        chunks = partition_chunks(topic, records)
        if chunks is None:
            self.client.insert_arrow(table, arrow, settings=settings)
        else:
            for rows in chunks:
                self.client.insert_arrow(table, arrow.take(pa.array(rows)), settings=settings)
        return arrow.num_rows

    def quarantine(self, rows: Sequence[tuple[str, int, int, str, bytes]]) -> int:
        """Store rows the sink could not insert: (topic, partition, offset, reason, value)."""
        if not rows:
            return 0
        now = time.time()
        data = [
            [
                topic,
                partition,
                offset,
                TABLES[topic][0] if topic in TABLES else "",
                reason,
                value[:QUARANTINE_VALUE_MAX].decode("utf-8", "replace"),
                now,
            ]
            for topic, partition, offset, reason, value in rows
        ]
        arrow = pa.table(
            {
                "topic": pa.array([r[0] for r in data], pa.string()),
                "partition": pa.array([r[1] for r in data], pa.int32()),
                "offset": pa.array([r[2] for r in data], pa.int64()),
                "table": pa.array([r[3] for r in data], pa.string()),
                "reason": pa.array([r[4] for r in data], pa.string()),
                "value": pa.array([r[5] for r in data], pa.string()),
                "quarantined_at": _timestamps([r[6] for r in data])[1],
            }
        )
        self.client.insert_arrow(QUARANTINE_TABLE, arrow)
        return len(rows)

    def _cameras_table(self, records: Sequence[RegistryEntry]) -> pa.Table:
        start = max(time.time_ns() // 1000, self._last_updated_us + 1)
        updated_us = np.arange(start, start + len(records), dtype=np.int64)
        if len(records):
            self._last_updated_us = int(updated_us[-1])
        return cameras_table(records, updated_us)
