-- bk.quarantine: rows the sink could not store, with the reason (kept 30 days).
--
-- A permanent insert error (a row the table refuses: a value out of the
-- column's range, a type mismatch, ...) must not stop the sink: the batch is
-- split until the offending rows are alone, those rows land here and the rest
-- is stored. Identified by where the row came from (topic, partition, offset),
-- so quarantining the same row again after a restart collapses to one row.
-- `value` is the record as JSON (cut at 8 KiB); `table` the table it was for.
CREATE TABLE IF NOT EXISTS bk.quarantine
(
    topic          LowCardinality(String),
    `partition`    Int32,
    `offset`       Int64,
    `table`        LowCardinality(String),
    reason         String,
    value          String,
    quarantined_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, `partition`, `offset`)
TTL toDateTime(quarantined_at) + INTERVAL 30 DAY;
