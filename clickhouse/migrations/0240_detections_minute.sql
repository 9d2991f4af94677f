-- bk.detections_minute: frames per minute of the city, of each district and of
-- each station, for the boards' raw-detection panels ("Frames analysed per
-- second", "Picture quality (median)").
--
-- A city-day of raw frames is 8.6e8 rows (10,000 cameras at 1 fps); read from
-- bk.detections, those panels read every frame of the range (a district's day
-- is 7e7 rows). Here a minute is one row per level and place: 1,440 rows a day
-- for the city, 12 x 1,440 for the districts, 96 x 1,440 for the stations.
-- `level` is 'city' (district = station = ''), 'district' (station = '') or
-- 'station'; a board reads the one level its variables select, so a row is
-- never counted twice.
--
-- The medians are quantile(0.5) states (reservoir samples of up to 8,192
-- values, exact below that, as quantile(0.5) over the raw rows is): a
-- station's minute at 1 fps is ~6,000 values, so its median is exact; the
-- city's and a district's are sampled, as the raw query's are at that size.
-- `frames` counts inserted rows, as count() over bk.detections without FINAL
-- does: a frame delivered twice counts twice here even after the raw table's
-- merges collapse it (at-least-once redelivery after a crash is seconds of
-- frames).
--
-- The district and station of a frame are those of its camera in bk.cameras
-- when the frame is inserted (the sink writes the registry first in each
-- flush); a camera missing from the registry counts for the city only, as the
-- raw query at "All" counts it. A camera moved to another station keeps its
-- earlier frames at the old one. Kept like bk.detections: partitions by day of
-- the minute, dropped whole 7 days after the last insert into them.
CREATE TABLE IF NOT EXISTS bk.detections_minute
(
    level       LowCardinality(String),
    district    LowCardinality(String),
    station     LowCardinality(String),
    minute      DateTime('UTC'),
    frames      SimpleAggregateFunction(sum, UInt64),
    brightness  AggregateFunction(quantile(0.5), Float32),
    sharpness   AggregateFunction(quantile(0.5), Float32),
    ingested_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (level, district, station, minute)
TTL toDateTime(ingested_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.detections_minute_city_mv TO bk.detections_minute AS
SELECT 'city' AS level, '' AS district, '' AS station, toStartOfMinute(frame_ts) AS minute,
       count() AS frames, quantileState(0.5)(brightness) AS brightness,
       quantileState(0.5)(sharpness) AS sharpness, max(ingested_at) AS ingested_at
FROM bk.detections
GROUP BY minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.detections_minute_district_mv TO bk.detections_minute AS
SELECT 'district' AS level, c.district AS district, '' AS station,
       toStartOfMinute(d.frame_ts) AS minute, count() AS frames,
       quantileState(0.5)(d.brightness) AS brightness,
       quantileState(0.5)(d.sharpness) AS sharpness, max(d.ingested_at) AS ingested_at
FROM bk.detections AS d
INNER JOIN (SELECT camera_id, district FROM bk.cameras FINAL) AS c ON d.camera_id = c.camera_id
GROUP BY district, minute;

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.detections_minute_station_mv TO bk.detections_minute AS
SELECT 'station' AS level, c.district AS district, c.station AS station,
       toStartOfMinute(d.frame_ts) AS minute, count() AS frames,
       quantileState(0.5)(d.brightness) AS brightness,
       quantileState(0.5)(d.sharpness) AS sharpness, max(d.ingested_at) AS ingested_at
FROM bk.detections AS d
INNER JOIN (SELECT camera_id, district, station FROM bk.cameras FINAL) AS c
    ON d.camera_id = c.camera_id
GROUP BY district, station, minute;

INSERT INTO bk.detections_minute
SELECT 'city', '', '', toStartOfMinute(frame_ts) AS minute, count(),
       quantileState(0.5)(brightness), quantileState(0.5)(sharpness), max(ingested_at)
FROM bk.detections
GROUP BY minute
SETTINGS parallel_distributed_insert_select = 0, max_partitions_per_insert_block = 0;

INSERT INTO bk.detections_minute
SELECT 'district', c.district AS district, '', toStartOfMinute(d.frame_ts) AS minute, count(),
       quantileState(0.5)(d.brightness), quantileState(0.5)(d.sharpness), max(d.ingested_at)
FROM bk.detections AS d
INNER JOIN (SELECT camera_id, district FROM bk.cameras FINAL) AS c ON d.camera_id = c.camera_id
GROUP BY district, minute
SETTINGS parallel_distributed_insert_select = 0, distributed_product_mode = 'local',
         max_partitions_per_insert_block = 0;

INSERT INTO bk.detections_minute
SELECT 'station', c.district AS district, c.station AS station,
       toStartOfMinute(d.frame_ts) AS minute, count(),
       quantileState(0.5)(d.brightness), quantileState(0.5)(d.sharpness), max(d.ingested_at)
FROM bk.detections AS d
INNER JOIN (SELECT camera_id, district, station FROM bk.cameras FINAL) AS c
    ON d.camera_id = c.camera_id
GROUP BY district, station, minute
SETTINGS parallel_distributed_insert_select = 0, distributed_product_mode = 'local',
         max_partitions_per_insert_block = 0;
