-- bk.alerts at city scale: partitioned by month of created_at, sorted by time.
--
-- Moves an existing store (0006 + 0121 + 0144: not partitioned, ORDER BY
-- alert_id) to the new design by copy and swap, as 0180 does for violations;
-- a fresh store runs the same statements on an empty table. Columns, engine
-- and version (revision) are unchanged, in the same order.
--
-- - created_at is set once, when the alert is raised (the detected_at of its
--   first member, or the due_at of a licence alert), and every revision
--   carries it unchanged (stream_apps/engines/alerts.py); bk.sla_breaches
--   copies it as alert_created_at. So every revision of an alert lands in the
--   same month's partition and FINAL / merges still collapse them.
-- - ORDER BY (toDateTime(created_at), alert_id): the column before the id is
--   constant per id, so the replacing key is still one row per alert_id; the
--   time prefix lets the boards' `$__timeFilter(created_at)` (FINAL included)
--   skip all but the range, where the old key read every alert of the store.
--
-- The copy and the swap only run while bk.alerts is still unpartitioned
-- (`-- migrate:if`), so a rerun after any failure is safe.
CREATE TABLE IF NOT EXISTS bk.alerts_0230
(
    v                UInt8,
    alert_id         String,
    source           LowCardinality(String),
    cls              LowCardinality(String),
    severity         LowCardinality(String),
    state            LowCardinality(String),
    kitchen_id       Nullable(String),
    operator_id      Nullable(String),
    district         LowCardinality(Nullable(String)),
    station          LowCardinality(Nullable(String)),
    camera_ids       Array(String),
    members          Array(String),
    first_started_at DateTime64(3, 'UTC'),
    created_at       DateTime64(3, 'UTC'),
    group_until      DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    revision         UInt64,
    verified_at      Nullable(DateTime64(3, 'UTC')),
    resolved_at      Nullable(DateTime64(3, 'UTC')),
    resolution       LowCardinality(Nullable(String)),
    last_actor       Nullable(String),
    snapshot         Nullable(String),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3),
    repeat_of        Nullable(String),
    base_severity    LowCardinality(Nullable(String)),
    lenient          Bool DEFAULT false,

    INDEX idx_operator_id operator_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(created_at)
ORDER BY (toDateTime(created_at), alert_id);

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('alerts', 'alerts_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
INSERT INTO bk.alerts_0230
SELECT v, alert_id, source, cls, severity, state, kitchen_id, operator_id, district, station,
       camera_ids, members, first_started_at, created_at, group_until, updated_at, revision,
       verified_at, resolved_at, resolution, last_actor, snapshot, inserted_at, repeat_of,
       base_severity, lenient
FROM bk.alerts
SETTINGS parallel_distributed_insert_select = 2, max_partitions_per_insert_block = 0;

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('alerts', 'alerts_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
EXCHANGE TABLES bk.alerts AND bk.alerts_0230;

DROP TABLE IF EXISTS bk.alerts_0230 SYNC;
