-- bk.camera_events_long: closed camera-health events that lasted more than 7 days.
--
-- "Longest offline" lists the offline events overlapping the board's range:
-- open ones, and closed ones that ended after the range began, however long
-- ago they started. The board reads the events that started up to 7 days
-- before the range from bk.camera_events (bounded by time), the open ones
-- from bk.camera_events_open, and the rest - closed, started more than 7
-- days before the range, ended inside or after it, so longer than 7 days -
-- from this table, which holds every closed event longer than that (a
-- handful a year).
--
-- ReplacingMergeTree(version) per event_id, fed by bk.camera_events_long_mv:
-- a closed version of an event is the highest it has, and a later closed
-- version ends later, so it is long too; the newest row here is the event's
-- newest row in bk.camera_events for every event whose newest row is long.
CREATE TABLE IF NOT EXISTS bk.camera_events_long
(
    event_id    String,
    camera_id   String,
    operator_id Nullable(String),
    kind        LowCardinality(String),
    state       LowCardinality(String),
    started_at  DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    ended_at    Nullable(DateTime64(3, 'UTC')),
    detail      String,
    version     UInt64,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY event_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.camera_events_long_mv TO bk.camera_events_long AS
SELECT event_id, camera_id, operator_id, kind, state, started_at, detected_at, ended_at,
       detail, version
FROM bk.camera_events
WHERE state = 'closed' AND ended_at > started_at + INTERVAL 7 DAY;

INSERT INTO bk.camera_events_long
SELECT event_id, camera_id, operator_id, kind, state, started_at, detected_at, ended_at,
       detail, version, now64(3) AS inserted_at
FROM bk.camera_events FINAL
WHERE state = 'closed' AND ended_at > started_at + INTERVAL 7 DAY
SETTINGS parallel_distributed_insert_select = 2;
