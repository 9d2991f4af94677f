"""Arrow tables -> ClickHouse tables of database `bk`: the sink's writer.

`StoreWriter(client).write(topic, records)` converts a batch of records of one
contract topic into one Arrow table (`arrow_tables`) and inserts it with
`insert_arrow` (about four times faster than row lists), split so that no
insert touches more than MAX_PARTITIONS_PER_INSERT partitions; `quarantine`
stores what the sink could not insert.

`updated_at` (cameras): registry records carry no time, so the writer stamps
them with its wall clock in microseconds, strictly increasing within a writer
(later records of a batch, and later batches, win).

Inserts are idempotent at the table level: every table is a ReplacingMergeTree
keyed by the record's id, so writing a batch twice (a retry, a replay) changes
nothing a `FINAL` read sees. This module imports no Kafka client.

Current-state tables (bk.violations_open and the others of migrations
0232-0237) are filled by materialized views on every insert; a closed episode
or a resolved alert leaves a tombstone there. `compact_current_state` drops
the tombstones (`OPTIMIZE ... FINAL CLEANUP`); the writer runs it after a
write to one of their source tables at most every `compact_every_s` seconds.
Results never depend on it (FINAL hides tombstones); it keeps those tables at
the size of what is open now.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
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
from stream_apps.sink.arrow_tables import CONVERTERS, _column, _timestamps, cameras_table

log = logging.getLogger(__name__)

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
    TOPIC_ALERTS: ("created_at", "M"),  # 0230: PARTITION BY toYYYYMM(created_at)
    TOPIC_SLA_BREACHES: ("due_at", "M"),  # 0231: PARTITION BY toYYYYMM(due_at)
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

CURRENT_STATE_TABLES: tuple[str, ...] = (
    "bk.violations_open",  # 0232
    "bk.camera_events_open",  # 0233
    "bk.alerts_open",  # 0235
    "bk.sla_breaches_open",  # 0237
)
"""ReplacingMergeTree(version, is_deleted) tables whose tombstones compaction drops."""
CURRENT_STATE_SOURCES = frozenset(
    {TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS, TOPIC_ALERTS, TOPIC_SLA_BREACHES}
)
"""Topics whose inserts feed those tables (through materialized views)."""
COMPACT_EVERY_S = 300.0
_DISTRIBUTED = re.compile(r"^Distributed\('([^']*)',\s*'([^']*)',\s*'([^']*)'")


def compact_current_state(client: Any, tables: Sequence[str] = CURRENT_STATE_TABLES) -> list[str]:
    """Drop the tombstones of the current-state tables; return the tables compacted.

    ``OPTIMIZE TABLE ... FINAL CLEANUP`` merges a table into one part without
    the rows whose newest version is deleted. Safe at any time: a late copy of
    an older version is written deleted by the materialized view (it looks up
    the closed version in the source table), so no cleaned episode comes
    back. Tables a store does not have yet (migrations pending) are skipped;
    on a cluster the local tables are optimised ``ON CLUSTER``.
    """
    done = []
    for table in tables:
        database, name = table.split(".", 1)
        rows = client.query(
            "SELECT engine, engine_full FROM system.tables "
            "WHERE database = {d:String} AND name = {t:String}",
            parameters={"d": database, "t": name},
        ).result_rows
        if not rows:
            continue
        engine, full = rows[0]
        target = table
        if engine == "Distributed":
            m = _DISTRIBUTED.match(full)
            if m is None:
                continue
            cluster, local_db, local = m.groups()
            target = f"{local_db}.{local} ON CLUSTER '{cluster}'"
        client.command(f"OPTIMIZE TABLE {target} FINAL CLEANUP")
        done.append(table)
    return done


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
    After a write of violations, camera events, alerts or breaches it compacts
    the current-state tables when `compact_every_s` have passed since the last
    time (None: never; a failed compaction is logged, the write stands).
    """

    def __init__(self, client: Any, compact_every_s: float | None = COMPACT_EVERY_S) -> None:
        self.client = client
        self.compact_every_s = compact_every_s
        self._compacted_at = time.monotonic()
        self._last_updated_us = 0
        self._converters: dict[str, Callable[[Sequence[Any]], pa.Table]] = {
            **CONVERTERS,
            TOPIC_REGISTRY: self._cameras_table,
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
        if topic in CURRENT_STATE_SOURCES:
            self._maybe_compact()
        return arrow.num_rows

    def _maybe_compact(self) -> None:
        every = self.compact_every_s
        if every is None or time.monotonic() - self._compacted_at < every:
            return
        self._compacted_at = time.monotonic()
        try:
            compact_current_state(self.client)
        except Exception as exc:  # never fails a write: only the tables' size is at stake
            log.warning("compaction of the current-state tables failed: %s", exc)

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
