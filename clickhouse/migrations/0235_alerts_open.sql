-- bk.alerts_open: the alerts not resolved yet ("Open alerts by age", "Open breaches").
--
-- The design of bk.violations_open (0232) for bk.alerts: one row per
-- alert_id, ReplacingMergeTree(revision, is_deleted). The alert engine
-- re-emits an alert whole with revision + 1 on every change, and resolution
-- is final (a resolving disposition is never taken back: resolved_at stays
-- set), so is_deleted = 1 for a resolved revision removes the alert under
-- FINAL whatever the arrival order; replayed copies carry their revision and
-- collapse. A late copy of an unresolved revision of an alert already
-- resolved in bk.alerts is written deleted (bk.alerts_resolved_view, looked
-- up by the primary key of bk.alerts for the ids of the inserted block), so
-- the store writer's CLEANUP merges may drop tombstones at any time.
CREATE VIEW IF NOT EXISTS bk.alerts_resolved_view AS
SELECT toDateTime(created_at) AS created_s, alert_id
FROM bk.alerts
WHERE resolved_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS bk.alerts_open
(
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
    first_started_at DateTime64(3, 'UTC'),
    created_at       DateTime64(3, 'UTC'),
    updated_at       DateTime64(3, 'UTC'),
    verified_at      Nullable(DateTime64(3, 'UTC')),
    revision         UInt64,
    is_deleted       UInt8,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision, is_deleted)
ORDER BY alert_id
SETTINGS allow_experimental_replacing_merge_with_cleanup = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.alerts_open_mv TO bk.alerts_open AS
SELECT alert_id, source, cls, severity, state, kitchen_id, operator_id, district, station,
       camera_ids, first_started_at, created_at, updated_at, verified_at, revision,
       toUInt8(resolved_at IS NOT NULL OR (toDateTime(created_at), alert_id) IN (
           SELECT created_s, alert_id FROM bk.alerts_resolved_view
           WHERE (created_s, alert_id) IN (
               SELECT toDateTime(created_at), alert_id FROM bk.alerts WHERE resolved_at IS NULL
           )
       )) AS is_deleted
FROM bk.alerts;

INSERT INTO bk.alerts_open
SELECT alert_id, source, cls, severity, state, kitchen_id, operator_id, district, station,
       camera_ids, first_started_at, created_at, updated_at, verified_at, revision,
       0 AS is_deleted, now64(3) AS inserted_at
FROM bk.alerts FINAL
WHERE resolved_at IS NULL
SETTINGS parallel_distributed_insert_select = 2;
