-- bk.dead_letters: records that failed validation (bk.dlq.v1), kept 30 days.
--
-- A dead letter is identified by the app that rejected it and where the input
-- came from (source_topic, partition, offset); a restart that rejects the same
-- input again writes the same key, which ReplacingMergeTree collapses.
-- Retention runs on `ts`, the wall-clock time of the rejection.
CREATE TABLE IF NOT EXISTS bk.dead_letters
(
    v            UInt8,
    reason       String,
    source_topic LowCardinality(String),
    `partition`  Int32,
    `offset`     Int64,
    key          Nullable(String),
    value        String,
    app          LowCardinality(String),
    ts           DateTime64(3, 'UTC'),
    inserted_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (app, source_topic, `partition`, `offset`)
TTL toDateTime(ts) + INTERVAL 30 DAY;
