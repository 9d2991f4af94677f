-- Repeat offences and leniency on bk.alerts (bk.alerts.v1 optional fields, docs/inspections.md).
ALTER TABLE bk.alerts ADD COLUMN IF NOT EXISTS repeat_of Nullable(String);
ALTER TABLE bk.alerts ADD COLUMN IF NOT EXISTS base_severity LowCardinality(Nullable(String));
ALTER TABLE bk.alerts ADD COLUMN IF NOT EXISTS lenient Bool DEFAULT false;
