-- bk.inspection_plan: one logical row per operator (bk.inspection-plan.v1), newest as_of wins.
--
-- The ops app emits an operator's plan at every local midnight and whenever an
-- inspection of it is recorded (docs/inspections.md); ReplacingMergeTree(as_of)
-- keeps the newest, so `SELECT ... FROM bk.inspection_plan FINAL` is the plan
-- now. A replayed row has the as_of (and plan_id) of its first copy.
-- Columns are documented in docs/store.md.
CREATE TABLE IF NOT EXISTS bk.inspection_plan
(
    v                            UInt8,
    plan_id                      String,
    operator_id                  String,
    operator_name                String,
    district                     LowCardinality(String),
    station                      LowCardinality(String),
    as_of                        DateTime64(3, 'UTC'),
    grade                        LowCardinality(Nullable(String)),
    colour                       LowCardinality(Nullable(String)),
    grade_reason                 String,
    on_key_monitoring            Bool,
    due_per_year                 Float64,
    interval_days                Float64,
    last_inspection_at           Nullable(DateTime64(3, 'UTC')),
    last_on_site_at              Nullable(DateTime64(3, 'UTC')),
    last_result                  LowCardinality(Nullable(String)),
    inspections_365d             UInt32,
    next_due_at                  DateTime64(3, 'UTC'),
    overdue                      Bool,
    overdue_days                 Float64,
    month                        LowCardinality(String),
    inspected_this_month         Bool,
    station_operators            UInt32,
    station_inspected_this_month UInt32,
    risk_rank                    UInt32,
    alerts_30d                   UInt32,
    inserted_at                  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(as_of)
ORDER BY operator_id;
