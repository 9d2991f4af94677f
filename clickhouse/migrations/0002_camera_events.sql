-- bk.camera_events: one logical row per event_id (bk.camera-events.v1).
--
-- Same scheme as bk.violations (0001): ReplacingMergeTree(version) read with
-- FINAL, version = state_rank * 2^48 + event_ms (closed beats open; a replayed
-- record ties with itself).
CREATE TABLE IF NOT EXISTS bk.camera_events
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
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_started_at started_at TYPE minmax GRANULARITY 1,
    INDEX idx_camera_id camera_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(version)
ORDER BY event_id;
