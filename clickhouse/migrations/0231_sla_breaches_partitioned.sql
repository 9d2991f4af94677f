-- bk.sla_breaches at city scale: partitioned by month of due_at, sorted by time.
--
-- Moves an existing store (0007: not partitioned, ORDER BY breach_id) by copy
-- and swap, as 0180 and 0230 do; columns and engine are unchanged.
--
-- - Every field of a breach is fixed by its alert and deadline (a replay
--   writes an identical row, 0007), so due_at cannot change for a breach_id:
--   every copy lands in the same partition and the replacing key
--   (toDateTime(due_at), breach_id) is still one row per breach_id.
-- - The boards read breaches by due_at (`$__timeFilter(due_at)`), and the
--   breaches of the alerts raised in a range by `due_at >= $__fromTime` (a
--   deadline is never before its alert's created_at); the old key read every
--   breach of the store for both.
--
-- The copy and the swap only run while bk.sla_breaches is still
-- unpartitioned (`-- migrate:if`), so a rerun after any failure is safe.
CREATE TABLE IF NOT EXISTS bk.sla_breaches_0231
(
    v                UInt8,
    breach_id        String,
    alert_id         String,
    kind             LowCardinality(String),
    due_at           DateTime64(3, 'UTC'),
    alert_created_at DateTime64(3, 'UTC'),
    state_at_due     LowCardinality(String),
    source           LowCardinality(String),
    cls              LowCardinality(String),
    severity         LowCardinality(String),
    kitchen_id       Nullable(String),
    operator_id      Nullable(String),
    district         LowCardinality(Nullable(String)),
    station          LowCardinality(Nullable(String)),
    calendar_covered Bool,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(due_at)
ORDER BY (toDateTime(due_at), breach_id);

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('sla_breaches', 'sla_breaches_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
INSERT INTO bk.sla_breaches_0231
SELECT v, breach_id, alert_id, kind, due_at, alert_created_at, state_at_due, source, cls,
       severity, kitchen_id, operator_id, district, station, calendar_covered, inserted_at
FROM bk.sla_breaches
SETTINGS parallel_distributed_insert_select = 2, max_partitions_per_insert_block = 0;

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('sla_breaches', 'sla_breaches_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
EXCHANGE TABLES bk.sla_breaches AND bk.sla_breaches_0231;

DROP TABLE IF EXISTS bk.sla_breaches_0231 SYNC;
