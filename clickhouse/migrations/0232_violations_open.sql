-- bk.violations_open: the violation episodes open now, for the boards' "open" panels.
--
-- "Open violations" has no lower time bound: read from bk.violations it is a
-- FINAL over the whole store (a year of a city: 1.8e7 rows, seconds). This
-- table holds the current state of every episode whose newest version is
-- `open`, a few thousand rows:
--
-- - ReplacingMergeTree(version, is_deleted), one row per violation_id: the
--   version of bk.violations (closed beats open, docs/store.md "Version
--   semantics"), and is_deleted = 1 for a closed version, so under FINAL an
--   episode whose newest version is closed disappears whatever the arrival
--   order; re-inserted copies have the same version and collapse.
-- - Fed by bk.violations_open_mv on every insert into bk.violations. A closed
--   version is a tombstone until a CLEANUP merge removes it (the store writer
--   runs OPTIMIZE ... FINAL CLEANUP every few minutes: compact_current_state
--   in stream_apps/sink/store_writer.py). So that a tombstone already cleaned
--   cannot let a late copy of the `open` version (a replay) come back, the
--   view also marks an `open` row deleted when bk.violations already holds
--   the closed version of its id: bk.violations_closed_view, looked up by
--   the primary key of bk.violations for the ids of the inserted block only
--   (inside a materialized view every direct reference to bk.violations is
--   the inserted block; the plain view reads the table).
-- - Not partitioned: the table is small and OPTIMIZE rewrites it whole.
--
-- The backfill copies the open episodes of an existing store (view first,
-- then the copy: rows written in between are in both and collapse).
CREATE VIEW IF NOT EXISTS bk.violations_closed_view AS
SELECT toDateTime(started_at) AS started_s, camera_id, violation_id
FROM bk.violations
WHERE state = 'closed';

CREATE TABLE IF NOT EXISTS bk.violations_open
(
    violation_id String,
    camera_id    String,
    operator_id  Nullable(String),
    cls          LowCardinality(String),
    severity     LowCardinality(String),
    started_at   DateTime64(3, 'UTC'),
    detected_at  DateTime64(3, 'UTC'),
    peak_score   Float32,
    frames       UInt32,
    version      UInt64,
    is_deleted   UInt8,
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY violation_id
SETTINGS allow_experimental_replacing_merge_with_cleanup = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.violations_open_mv TO bk.violations_open AS
SELECT violation_id, camera_id, operator_id, cls, severity, started_at, detected_at,
       peak_score, frames, version,
       toUInt8(state != 'open' OR (toDateTime(started_at), camera_id, violation_id) IN (
           SELECT started_s, camera_id, violation_id FROM bk.violations_closed_view
           WHERE (started_s, camera_id, violation_id) IN (
               SELECT toDateTime(started_at), camera_id, violation_id FROM bk.violations
               WHERE state = 'open'
           )
       )) AS is_deleted
FROM bk.violations;

INSERT INTO bk.violations_open
SELECT violation_id, camera_id, operator_id, cls, severity, started_at, detected_at,
       peak_score, frames, version, 0 AS is_deleted, now64(3) AS inserted_at
FROM bk.violations FINAL
WHERE state = 'open'
SETTINGS parallel_distributed_insert_select = 2;
