-- bk.alerts: the evidence image of the alert (bk.alerts.v1 `snapshot`): the
-- evidence.snapshot of its first violation member that has one; NULL otherwise.
ALTER TABLE bk.alerts ADD COLUMN IF NOT EXISTS snapshot Nullable(String) AFTER last_actor;
