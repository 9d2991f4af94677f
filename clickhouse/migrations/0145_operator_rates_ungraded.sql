-- bk.operator_rates: hours still needed before an operator is graded (grade 'ungraded' meanwhile).
ALTER TABLE bk.operator_rates ADD COLUMN IF NOT EXISTS hours_to_grade Float64 DEFAULT 0;
