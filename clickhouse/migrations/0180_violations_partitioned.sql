-- bk.violations at city scale: partitioned by month, sorted for the boards.
--
-- Moves an existing store (0001 + 0120's evidence_snapshot: not partitioned,
-- ORDER BY violation_id) to
-- the new design by copy and swap; a fresh store runs the same statements on
-- an empty table. Columns, engine and version are unchanged (DESIGN: the
-- columns of bk.violations.v1, one logical row per violation_id, latest state
-- wins).
--
-- - PARTITION BY toYYYYMM(started_at): started_at is an input of violation_id
--   (blake2b of camera_id|cls|started_at), so every version of an id lands in
--   the same partition and FINAL / merges still collapse them. Settled months
--   merge to one part each and FINAL reads them without merging.
-- - ORDER BY (toDateTime(started_at), camera_id, violation_id): every column
--   before the id is a function of the id, so the replacing key is still "one
--   row per violation_id"; the time prefix lets the primary index (FINAL
--   included) skip all but the boards' time range. A prefix toDate(started_at)
--   was measured not to prune (chdb 4.4: a range on the DateTime64 column
--   does not reach toDate(...) of it in the key), toDateTime(started_at) does.
-- - A live insert block spans one or two months (the sink's batches are
--   seconds of event time): far below max_partitions_per_insert_block (100).
--
-- The copy only runs while bk.violations is still unpartitioned; the swap is
-- guarded the same way (`-- migrate:if`, clickhouse/migrate.py), so a rerun
-- after any failure is safe.
CREATE TABLE IF NOT EXISTS bk.violations_0180
(
    v            UInt8,
    violation_id String,
    camera_id    String,
    operator_id  Nullable(String),
    cls          LowCardinality(String),
    severity     LowCardinality(String),
    state        LowCardinality(String),
    started_at   DateTime64(3, 'UTC'),
    detected_at  DateTime64(3, 'UTC'),
    ended_at     Nullable(DateTime64(3, 'UTC')),
    peak_score   Float32,
    frames       UInt32,
    evidence     Tuple(frame_ts DateTime64(3, 'UTC'), box Array(Float32)),
    evidence_snapshot Nullable(String),
    version      UInt64 DEFAULT
        bitShiftLeft(toUInt64(if(state = 'closed', 2, 1)), 48)
        + toUInt64(toUnixTimestamp64Milli(coalesce(ended_at, detected_at))),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDateTime(started_at), camera_id, violation_id);

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('violations', 'violations_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
INSERT INTO bk.violations_0180
SELECT v, violation_id, camera_id, operator_id, cls, severity, state, started_at, detected_at,
       ended_at, peak_score, frames, evidence, evidence_snapshot, version, inserted_at
FROM bk.violations
SETTINGS parallel_distributed_insert_select = 2, max_partitions_per_insert_block = 0;

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('violations', 'violations_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
EXCHANGE TABLES bk.violations AND bk.violations_0180;

DROP TABLE IF EXISTS bk.violations_0180 SYNC;
