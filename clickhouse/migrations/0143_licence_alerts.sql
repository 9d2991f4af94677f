-- bk.licence_alerts: one row per licence_alert_id (bk.licence-alerts.v1).
--
-- Each (operator, licence kind and number, expiry, stage) is emitted once:
-- 30 and 7 days before expiry, on the expiry day ('0d'), on expiry
-- ('expired'), or 'profile_incomplete' (kind 'profile') when no food-business
-- licence is known 7 working days after the operator's first camera was
-- registered. Rows never change; ReplacingMergeTree collapses replays.
CREATE TABLE IF NOT EXISTS bk.licence_alerts
(
    v                UInt8,
    licence_alert_id String,
    operator_id      String,
    operator_name    String,
    district         LowCardinality(String),
    station          LowCardinality(String),
    kind             LowCardinality(String),
    number           String,
    holder           String,
    stage            LowCardinality(String),
    expires_at       Nullable(DateTime64(3, 'UTC')),
    due_at           DateTime64(3, 'UTC'),
    days_left        Float64,
    severity         LowCardinality(String),
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY licence_alert_id;
