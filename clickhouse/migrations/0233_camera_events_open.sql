-- bk.camera_events_open: the camera-health events open now (coverage, "open now" panels).
--
-- The design of bk.violations_open (0232) for bk.camera_events: one row per
-- event_id, ReplacingMergeTree(version, is_deleted) with the version of
-- bk.camera_events, a closed version deletes the event, re-inserts collapse,
-- and a late `open` copy of an event whose closed version is already stored
-- is written deleted (bk.camera_events_closed_view, looked up by the primary
-- key for the ids of the inserted block). Tombstones go at the store
-- writer's CLEANUP merges. At city scale a few thousand rows, where the
-- coverage panels read a year of events with FINAL before.
CREATE VIEW IF NOT EXISTS bk.camera_events_closed_view AS
SELECT toDateTime(started_at) AS started_s, camera_id, event_id
FROM bk.camera_events
WHERE state = 'closed';

CREATE TABLE IF NOT EXISTS bk.camera_events_open
(
    event_id    String,
    camera_id   String,
    operator_id Nullable(String),
    kind        LowCardinality(String),
    started_at  DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    detail      String,
    version     UInt64,
    is_deleted  UInt8,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY event_id
SETTINGS allow_experimental_replacing_merge_with_cleanup = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.camera_events_open_mv TO bk.camera_events_open AS
SELECT event_id, camera_id, operator_id, kind, started_at, detected_at, detail, version,
       toUInt8(state != 'open' OR (toDateTime(started_at), camera_id, event_id) IN (
           SELECT started_s, camera_id, event_id FROM bk.camera_events_closed_view
           WHERE (started_s, camera_id, event_id) IN (
               SELECT toDateTime(started_at), camera_id, event_id FROM bk.camera_events
               WHERE state = 'open'
           )
       )) AS is_deleted
FROM bk.camera_events;

INSERT INTO bk.camera_events_open
SELECT event_id, camera_id, operator_id, kind, started_at, detected_at, detail, version,
       0 AS is_deleted, now64(3) AS inserted_at
FROM bk.camera_events FINAL
WHERE state = 'open'
SETTINGS parallel_distributed_insert_select = 2;
