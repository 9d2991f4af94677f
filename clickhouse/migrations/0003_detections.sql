-- bk.detections: raw per-frame detections (bk.detections.v1), kept 7 days.
--
-- The input may carry a frame twice (same camera_id, frame_ts, seq); the
-- duplicates are identical, so ReplacingMergeTree without a version collapses
-- them (read with FINAL for an exact count before merges have run).
--
-- Retention runs on `ingested_at`, the insert time, not on `frame_ts`: a replay
-- of recorded input carries historical frame times and would otherwise be
-- deleted as soon as it is written. Partitions follow `frame_ts` (part of the
-- sorting key) so that a duplicate always lands in its original's partition;
-- FINAL never collapses rows across partitions. A day's partition of live data
-- is ingested within about a day, so ttl_only_drop_parts drops whole parts
-- instead of rewriting them.
--
-- The per-detection fields are parallel arrays (index i of cls, score and box
-- is one detection). quality.signature (64 floats) is not stored: it is state
-- of the camera-health engine, not something anyone queries.
CREATE TABLE IF NOT EXISTS bk.detections
(
    camera_id   LowCardinality(String),
    frame_ts    DateTime64(3, 'UTC'),
    seq         UInt64,
    worker_id   LowCardinality(String),
    model       LowCardinality(String),
    width       UInt16,
    height      UInt16,
    brightness  Float32,
    sharpness   Float32,
    cls         Array(LowCardinality(String)),
    score       Array(Float32),
    box         Array(Array(Float32)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(frame_ts)
ORDER BY (camera_id, frame_ts, seq)
TTL toDateTime(ingested_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;
