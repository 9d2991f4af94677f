-- bk.station_kpis: one row per (level, district, station, day) (bk.station-kpis.v1).
--
-- level is "station", "district" (station = '') or "city" (both ''). A day's
-- row is emitted once, when the ops clock passes the end of that local day,
-- and never changes: a replay writes identical rows, which
-- ReplacingMergeTree collapses (read with FINAL). kpi_id is a hash of the
-- sorting key. Definitions of every figure: docs/inspections.md.
CREATE TABLE IF NOT EXISTS bk.station_kpis
(
    v                   UInt8,
    kpi_id              String,
    level               LowCardinality(String),
    district            LowCardinality(String),
    station             LowCardinality(String),
    day                 Date,
    day_start           DateTime64(3, 'UTC'),
    window_days         UInt16,
    kitchens_registered UInt32,
    kitchens_connected  UInt32,
    cameras_registered  UInt32,
    cameras_online      UInt32,
    kitchen_coverage    Nullable(Float64),
    camera_coverage     Nullable(Float64),
    kitchen_days        UInt32,
    alerts              UInt32,
    confirmed           UInt32,
    rectified           UInt32,
    false_positive      UInt32,
    timely_due          UInt32,
    timely_met          UInt32,
    discovery_rate      Nullable(Float64),
    handling_rate       Nullable(Float64),
    timely_rate         Nullable(Float64),
    false_alarm_rate    Nullable(Float64),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (level, district, station, day);
