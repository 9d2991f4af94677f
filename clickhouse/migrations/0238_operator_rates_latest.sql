-- bk.operator_rates_latest: the newest rate of every operator and window.
--
-- The operator boards show each operator's newest figure at or before the end
-- of the range ("Operators by risk", "Operators per grade", "Rates per
-- class"); read from bk.operator_rates that is a FINAL over every figure of
-- the store (a daily cadence for a year of a city: 4.9e6 rows). This table
-- keeps the row with the highest as_of per (operator_id, window, district,
-- station) - ReplacingMergeTree(as_of), fed by bk.operator_rates_latest_mv;
-- district and station are in the key because the boards filter rates by
-- the district and station of each row, and an operator that moved has its
-- newest row of each place here. The board reads this table when that row is
-- at or before the end of its range (a live board: always) and falls back to
-- bk.operator_rates, by its primary key (operator_id, window, as_of), for
-- the operators whose newest row is later (a range in the past). Columns
-- are those of bk.operator_rates.
CREATE TABLE IF NOT EXISTS bk.operator_rates_latest
(
    v                UInt8,
    rate_id          String,
    operator_id      String,
    district         LowCardinality(String),
    station          LowCardinality(String),
    `window`         LowCardinality(String),
    window_s         Float64,
    window_start     DateTime64(3, 'UTC'),
    as_of            DateTime64(3, 'UTC'),
    cameras          UInt32,
    exposure_h       Float64,
    violations       UInt32,
    raw_rate         Nullable(Float64),
    rate             Float64,
    prior_rate       Float64,
    prior_source     LowCardinality(String),
    prior_strength_h Float64,
    classes          Array(Tuple(
                         cls String,
                         violations UInt32,
                         raw_rate Nullable(Float64),
                         rate Float64,
                         prior_rate Float64)),
    sla_breaches     Map(LowCardinality(String), UInt32),
    grade            LowCardinality(String),
    colour           LowCardinality(String),
    grade_window     LowCardinality(String),
    reason           String,
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3),
    hours_to_grade   Float64 DEFAULT 0
)
ENGINE = ReplacingMergeTree(as_of)
ORDER BY (operator_id, `window`, district, station);

CREATE MATERIALIZED VIEW IF NOT EXISTS bk.operator_rates_latest_mv TO bk.operator_rates_latest AS
SELECT v, rate_id, operator_id, district, station, `window`, window_s, window_start, as_of,
       cameras, exposure_h, violations, raw_rate, rate, prior_rate, prior_source,
       prior_strength_h, classes, sla_breaches, grade, colour, grade_window, reason,
       inserted_at, hours_to_grade
FROM bk.operator_rates;

INSERT INTO bk.operator_rates_latest
SELECT v, rate_id, operator_id, district, station, `window`, window_s, window_start, as_of,
       cameras, exposure_h, violations, raw_rate, rate, prior_rate, prior_source,
       prior_strength_h, classes, sla_breaches, grade, colour, grade_window, reason,
       inserted_at, hours_to_grade
FROM bk.operator_rates
ORDER BY as_of DESC
LIMIT 1 BY operator_id, `window`, district, station
SETTINGS parallel_distributed_insert_select = 2;
