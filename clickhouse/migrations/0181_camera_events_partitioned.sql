-- bk.camera_events at city scale: the design of bk.violations (0180).
--
-- PARTITION BY toYYYYMM(started_at) and ORDER BY (toDateTime(started_at),
-- camera_id, event_id): camera_id and started_at are inputs of
-- event_id (sha1 of camera_id|kind|started_at), so every version of an event
-- shares a partition and the replacing key is still one row per event_id.
-- Copy and swap guarded by `-- migrate:if` as in 0180.
CREATE TABLE IF NOT EXISTS bk.camera_events_0181
(
    v           UInt8,
    event_id    String,
    camera_id   String,
    operator_id Nullable(String),
    kind        LowCardinality(String),
    state       LowCardinality(String),
    started_at  DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    ended_at    Nullable(DateTime64(3, 'UTC')),
    detail      String,
    version     UInt64 DEFAULT
        bitShiftLeft(toUInt64(if(state = 'closed', 2, 1)), 48)
        + toUInt64(toUnixTimestamp64Milli(coalesce(ended_at, detected_at))),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (toDateTime(started_at), camera_id, event_id);

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('camera_events', 'camera_events_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
INSERT INTO bk.camera_events_0181
SELECT v, event_id, camera_id, operator_id, kind, state, started_at, detected_at, ended_at,
       detail, version, inserted_at
FROM bk.camera_events
SETTINGS parallel_distributed_insert_select = 2, max_partitions_per_insert_block = 0;

-- migrate:if SELECT count() FROM system.tables WHERE database = 'bk' AND name IN ('camera_events', 'camera_events_local') AND engine LIKE '%ReplacingMergeTree' AND partition_key = ''
EXCHANGE TABLES bk.camera_events AND bk.camera_events_0181;

DROP TABLE IF EXISTS bk.camera_events_0181 SYNC;
