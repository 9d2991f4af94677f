-- bk.violations: one logical row per violation_id (bk.violations.v1).
--
-- Each episode is written twice (an `open` record, then a `closed` one) and a
-- replay may write either again. ReplacingMergeTree(version) keeps, per
-- violation_id, the row with the highest `version`; read with FINAL to see
-- that row before background merges have run.
--
-- version = state_rank * 2^48 + event_ms, where state_rank is 1 for `open`
-- and 2 for `closed`, and event_ms is ended_at (or detected_at while open) in
-- milliseconds since the epoch (< 2^42 until 2100). So `closed` always beats
-- `open` whatever the arrival order, a later update of the same state beats an
-- earlier one, and a replayed record ties with itself (identical rows).
-- The writer (stream_apps/store_writer.py) sends the same value; the DEFAULT
-- keeps hand-written INSERTs consistent with it.
--
-- No partitioning: the table is small (one row per episode) and a single
-- partition keeps deduplication global, since FINAL only collapses rows that
-- share a partition.
CREATE TABLE IF NOT EXISTS bk.violations
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
    version      UInt64 DEFAULT
        bitShiftLeft(toUInt64(if(state = 'closed', 2, 1)), 48)
        + toUInt64(toUnixTimestamp64Milli(coalesce(ended_at, detected_at))),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_started_at started_at TYPE minmax GRANULARITY 1,
    INDEX idx_camera_id camera_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY violation_id;
