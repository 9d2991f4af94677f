-- Read-only ClickHouse user for Grafana (server only; chdb has no users, so this
-- is not a migration). Run once as an admin, with the password from your
-- secret store, e.g.:
--   clickhouse-client --param_pw="$(cat /run/secrets/grafana_clickhouse_password)" \
--       --multiquery < infra/clickhouse/grafana_user.sql
-- (or paste it into `clickhouse-client` replacing the password).
--
-- readonly = 2 lets the plugin set per-query settings (max_execution_time,
-- timezone) while refusing every write and DDL; SELECT is granted on `bk`
-- only. The quota and limits stop one heavy dashboard from starving the sink.
CREATE SETTINGS PROFILE IF NOT EXISTS bk_grafana_profile SETTINGS
    readonly = 2,
    max_execution_time = 60,
    max_memory_usage = 4000000000,
    max_result_rows = 1000000,
    result_overflow_mode = 'throw';

CREATE QUOTA IF NOT EXISTS bk_grafana_quota
    FOR INTERVAL 1 minute MAX queries = 600;

CREATE USER IF NOT EXISTS grafana_ro
    IDENTIFIED WITH sha256_password BY 'CHANGE-ME'
    SETTINGS PROFILE bk_grafana_profile;

ALTER QUOTA bk_grafana_quota TO grafana_ro;

GRANT SELECT ON bk.* TO grafana_ro;
