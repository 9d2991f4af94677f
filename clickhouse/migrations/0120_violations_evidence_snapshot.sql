-- bk.violations: the URI of the evidence frame's stored image (bk.violations.v1
-- evidence.snapshot): file://... on the embedded default, s3://bucket/key in
-- production; NULL when none was kept. A column of its own beside the
-- `evidence` tuple: adding one leaves the existing rows and readers as they are.
ALTER TABLE bk.violations ADD COLUMN IF NOT EXISTS evidence_snapshot Nullable(String) AFTER evidence;
