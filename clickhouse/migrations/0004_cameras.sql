-- bk.cameras: the camera registry (bk.registry.v1), latest entry wins.
--
-- Registry records carry no time of their own (the topic is compacted: the
-- last record for a key is the truth). The writer stamps each row with
-- `updated_at`, its wall clock in microseconds, strictly increasing within a
-- writer, so the entry written last wins under FINAL.
CREATE TABLE IF NOT EXISTS bk.cameras
(
    v             UInt8,
    camera_id     String,
    kitchen_id    String,
    operator_id   String,
    operator_name String,
    district      LowCardinality(String),
    station       LowCardinality(String),
    opening_hours Array(Tuple(open String, close String)),
    timezone      LowCardinality(String),
    active        Bool,
    updated_at    DateTime64(6, 'UTC') DEFAULT now64(6),
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY camera_id;
