-- ClickHouse users and roles for a city (server only; chdb has no users, so this is
-- not a migration). Run once, and again after a change (idempotent), as the admin
-- that CLICKHOUSE_USER creates, with the passwords as parameters read from the
-- secret files (never written here):
--   clickhouse-client --user bk_admin --password "$(cat /run/secrets/clickhouse_admin_password)" \
--     --param_writer_pw="$(cat /run/secrets/clickhouse_writer_password)" \
--     --param_grafana_pw="$(cat /run/secrets/grafana_clickhouse_password)" \
--     --param_alerting_pw="$(cat /run/secrets/grafana_clickhouse_password)" \
--     --multiquery < infra/clickhouse/grafana_user.sql
-- infra/compose.yaml runs exactly this as the one-shot `clickhouse-users` job.
--
-- bk_writer: the apps (migrate, sink, alerts dispose). DDL and writes on `bk`, no
--   access management (it cannot create users or grant itself anything).
-- bk_reader role: SELECT on `bk` only, readonly = 2 (the plugin may set per-query
--   settings) but every setting that bounds memory or time is CONSTrained or has a
--   MAX, so `SETTINGS max_memory_usage = 0` cannot lift the limits.
-- grafana_ro (people looking at boards) and grafana_alerting (Grafana rule
--   evaluation): same role, separate quotas, so a busy board cannot starve the
--   rules and a stuck rule cannot starve the boards.

CREATE SETTINGS PROFILE OR REPLACE bk_reader_profile SETTINGS
    readonly = 2 CONST,
    max_memory_usage = 4000000000 MAX 4000000000,
    max_execution_time = 60 MAX 60,
    max_bytes_before_external_group_by = 2000000000 MAX 2000000000,
    max_result_rows = 1000000 MAX 1000000,
    result_overflow_mode = 'throw' CONST,
    max_threads = 8 MAX 8,
    max_concurrent_queries_for_user = 20 MAX 20;

CREATE ROLE OR REPLACE bk_reader SETTINGS PROFILE 'bk_reader_profile';
GRANT SELECT ON bk.* TO bk_reader;

CREATE USER OR REPLACE grafana_ro
    IDENTIFIED WITH sha256_password BY {grafana_pw:String}
    DEFAULT ROLE bk_reader;
GRANT bk_reader TO grafana_ro;

CREATE USER OR REPLACE grafana_alerting
    IDENTIFIED WITH sha256_password BY {alerting_pw:String}
    DEFAULT ROLE bk_reader;
GRANT bk_reader TO grafana_alerting;

-- Boards: many people, bursts of panel queries.
CREATE QUOTA OR REPLACE bk_boards_quota
    FOR INTERVAL 1 minute MAX queries = 600, execution_time = 600,
    FOR INTERVAL 1 hour MAX read_rows = 50000000000
    TO grafana_ro;
-- Alert evaluation: a few rules every minute, each small.
CREATE QUOTA OR REPLACE bk_alerting_quota
    FOR INTERVAL 1 minute MAX queries = 120, execution_time = 120
    TO grafana_alerting;

CREATE USER OR REPLACE bk_writer
    IDENTIFIED WITH sha256_password BY {writer_pw:String};
GRANT SELECT, INSERT, ALTER, CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW, TRUNCATE,
    OPTIMIZE, SHOW ON bk.* TO bk_writer;
GRANT CREATE DATABASE ON bk.* TO bk_writer;
