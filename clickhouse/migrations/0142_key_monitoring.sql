-- bk.key_monitoring: one logical row per list entry (bk.key-monitoring.v1), newest revision wins.
--
-- An entry is (operator_id, since): re-emitted with revision + 1 as evidence
-- accrues, and a last time with state 'off' and `until` when the operator
-- leaves the list. `SELECT ... FROM bk.key_monitoring FINAL WHERE state = 'on'`
-- is the list now; a week's list is the entries whose [since, until) meets the
-- week (brightkitchen report key-monitoring --week).
CREATE TABLE IF NOT EXISTS bk.key_monitoring
(
    v             UInt8,
    entry_id      String,
    operator_id   String,
    operator_name String,
    district      LowCardinality(String),
    station       LowCardinality(String),
    state         LowCardinality(String),
    since         DateTime64(3, 'UTC'),
    until         Nullable(DateTime64(3, 'UTC')),
    reason        String,
    evidence      Array(String),
    events        UInt32,
    suspicious    UInt32,
    revision      UInt32,
    updated_at    DateTime64(3, 'UTC'),
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (operator_id, since);
