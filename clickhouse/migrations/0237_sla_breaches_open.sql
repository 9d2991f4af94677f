-- bk.sla_breaches_open: the breaches of alerts not resolved yet ("Open breaches").
--
-- Whether a breach is still open is a property of its alert (0007). The
-- board joins this table with bk.alerts_open (0235), which is exact on its
-- own; this table only keeps the join small, where bk.sla_breaches FINAL
-- held every breach of the store:
--
-- - ReplacingMergeTree(version, is_deleted), one row per (alert_id, kind)
--   (breach_id is hash(alert_id, kind)): bk.sla_breaches_open_mv writes each
--   stored breach with version 1; bk.sla_breaches_resolved_mv writes, for
--   every resolved revision of an alert, a tombstone (version 2, is_deleted)
--   for each breach kind of the SLA engine (BREACH_KINDS), so a resolved
--   alert's breaches disappear under FINAL whichever arrives first.
--   Resolution is final, so nothing brings them back.
-- - Tombstones go at the store writer's CLEANUP merges. A breach stored
--   after that for an alert resolved before (a replay, or a breach arriving
--   more than one compaction after its alert's resolution) stays here; the
--   join with bk.alerts_open keeps it off the board. A new breach kind needs
--   its tombstone added here (until then its breaches stay, harmlessly).
-- - Breaches of the inspection plan (source 'inspection', kind
--   inspection_overdue, alert_id 'inspection:<operator>') belong to no alert
--   of bk.alerts, so the join never shows them: they are left out.
-- - On a cluster both tables shard by alert_id; breaches shard by breach_id,
--   so bk.sla_breaches_open_mv writes through the Distributed table
--   (clickhouse/cluster.py).
CREATE TABLE IF NOT EXISTS bk.sla_breaches_open
(
    alert_id         String,
    kind             LowCardinality(String),
    breach_id        String,
    due_at           DateTime64(3, 'UTC'),
    alert_created_at DateTime64(3, 'UTC'),
    source           LowCardinality(String),
    cls              LowCardinality(String),
    severity         LowCardinality(String),
    kitchen_id       Nullable(String),
    operator_id      Nullable(String),
    district         LowCardinality(Nullable(String)),
    station          LowCardinality(Nullable(String)),
    version          UInt8,
    is_deleted       UInt8,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (alert_id, kind)
SETTINGS allow_experimental_replacing_merge_with_cleanup = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.sla_breaches_open_mv TO bk.sla_breaches_open AS
SELECT alert_id, kind, breach_id, due_at, alert_created_at, source, cls, severity, kitchen_id,
       operator_id, district, station, toUInt8(1) AS version, toUInt8(0) AS is_deleted
FROM bk.sla_breaches
WHERE source != 'inspection';

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.sla_breaches_resolved_mv TO bk.sla_breaches_open AS
SELECT alert_id, kind, '' AS breach_id, created_at AS due_at, created_at AS alert_created_at,
       source, cls, severity, kitchen_id, operator_id, district, station,
       toUInt8(2) AS version, toUInt8(1) AS is_deleted
FROM bk.alerts
ARRAY JOIN ['verify_overdue', 'rectify_24h_overdue', 'rectify_overdue', 'yellow_card',
            'escalated'] AS kind
WHERE resolved_at IS NOT NULL;

INSERT INTO bk.sla_breaches_open
SELECT alert_id, kind, breach_id, due_at, alert_created_at, source, cls, severity, kitchen_id,
       operator_id, district, station, toUInt8(1) AS version, toUInt8(0) AS is_deleted,
       now64(3) AS inserted_at
FROM bk.sla_breaches FINAL
WHERE source != 'inspection' AND alert_id GLOBAL IN (SELECT alert_id FROM bk.alerts_open FINAL)
SETTINGS parallel_distributed_insert_select = 0;
