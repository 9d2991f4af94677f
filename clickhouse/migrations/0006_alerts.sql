-- bk.alerts: one logical row per alert_id (bk.alerts.v1), latest revision wins.
--
-- The alert engine re-emits an alert whole on every change (a member joins, a
-- disposition is applied) with `revision` one higher, so ReplacingMergeTree
-- (revision) keeps the newest state; read with FINAL. A replayed record has
-- the revision of its first copy and identical fields, so which copy survives
-- does not matter.
--
-- district/station are copied from the registry when the alert is raised so
-- the dashboards and alert rules filter without a join (null when the camera
-- is not in the registry). Not partitioned, like bk.violations: one row per
-- alert, and a single partition keeps deduplication global.
CREATE TABLE IF NOT EXISTS bk.alerts
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
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_created_at created_at TYPE minmax GRANULARITY 1,
    INDEX idx_operator_id operator_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY alert_id;
