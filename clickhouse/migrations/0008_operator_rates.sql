-- bk.operator_rates: one row per rate_id (bk.operator-rates.v1).
--
-- rate_id = hash(operator_id, window, as_of) and rows are never updated, so a
-- replayed record is identical to its first copy: ReplacingMergeTree without
-- a version collapses them (read with FINAL for exact figures). The current
-- figure of an operator is its row with the newest as_of per window
-- (argMax(..., as_of) or LIMIT 1 BY operator_id, `window`).
--
-- The sorting key leads with (operator_id, window, as_of), which every
-- dashboard read filters or groups by, and ends with rate_id; the first three
-- are functions of rate_id, so deduplication is still "one row per rate_id".
-- Partitioned by month of as_of (part of the key, so a copy always meets its
-- original); one row per operator, window and cadence step is a few million
-- rows a month for a city.
--
-- classes mirrors ClassRate as a named tuple per class; sla_breaches is the
-- record's {kind: count} map.
CREATE TABLE IF NOT EXISTS bk.operator_rates
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
    inserted_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(as_of)
ORDER BY (operator_id, `window`, as_of, rate_id);
