-- bk.sla_breaches: one logical row per breach_id (bk.sla-breaches.v1).
--
-- A breach is emitted once per (alert, kind) and every field is fixed by the
-- alert and its deadline, so a replay writes an identical row:
-- ReplacingMergeTree without a version collapses the copies (read with FINAL
-- for an exact count before merges). Whether a breach is still "open" is a
-- property of its alert (bk.alerts.resolved_at), not of this row.
CREATE TABLE IF NOT EXISTS bk.sla_breaches
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
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_due_at due_at TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY breach_id;
