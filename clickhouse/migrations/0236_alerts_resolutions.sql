-- bk.alerts_resolutions: when alerts were resolved, sorted by that time.
--
-- "Alerts raised and resolved" counts the alerts whose resolved_at falls in
-- the board's range, however long before they were raised; bk.alerts is
-- sorted by created_at, so that read was a FINAL over the whole store. This
-- table holds one row per (resolved_at, alert_id) any revision of an alert
-- carried (resolved_at can move earlier when an earlier disposition arrives
-- late), with the alert's created_at: the board takes the alerts with a row
-- in its range here and reads their newest revision from bk.alerts by its
-- primary key (toDateTime(created_at), alert_id), so the count is the one of
-- bk.alerts FINAL. Rows never change; copies collapse.
CREATE TABLE IF NOT EXISTS bk.alerts_resolutions
(
    resolved_at DateTime64(3, 'UTC'),
    alert_id    String,
    created_at  DateTime64(3, 'UTC'),
    district    LowCardinality(Nullable(String)),
    station     LowCardinality(Nullable(String)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(resolved_at)
ORDER BY (resolved_at, alert_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.alerts_resolutions_mv TO bk.alerts_resolutions AS
SELECT assumeNotNull(resolved_at) AS resolved_at, alert_id, created_at, district, station
FROM bk.alerts
WHERE resolved_at IS NOT NULL;

INSERT INTO bk.alerts_resolutions
SELECT DISTINCT assumeNotNull(resolved_at) AS resolved_at, alert_id, created_at, district,
       station, now64(3) AS inserted_at
FROM bk.alerts
WHERE resolved_at IS NOT NULL
SETTINGS parallel_distributed_insert_select = 2, max_partitions_per_insert_block = 0;
