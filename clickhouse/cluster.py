"""Render the numbered migrations for a sharded, replicated ClickHouse cluster.

The files in migrations/ are written for one node (`CREATE TABLE bk.x ...
ENGINE = ReplacingMergeTree(...)`). With a cluster name (the
``BK_CLICKHOUSE_CLUSTER`` variable, or ``--cluster`` of ``python -m
clickhouse.migrate``) every statement is rewritten, the way snuba runs one
migration on a node or a cluster:

- ``CREATE DATABASE bk`` -> ``CREATE DATABASE bk ON CLUSTER '{cluster}'``;
- ``CREATE TABLE bk.x (...) ENGINE = <Kind>MergeTree(args) ...`` -> two tables:
  ``bk.x_local ON CLUSTER '{cluster}'`` with
  ``Replicated<Kind>MergeTree('/clickhouse/tables/{shard}/{database}/{table}',
  '{replica}', args)`` and the rest of the definition unchanged (ORDER BY,
  PARTITION BY, TTL, SETTINGS, skip indexes), and ``bk.x ON CLUSTER`` with the
  same columns and ``ENGINE = Distributed('{cluster}', 'bk', 'x_local', key)``.
  Readers and writers keep using ``bk.x``: the fixed names of the contract
  hold on a cluster too;
- ``ALTER TABLE bk.x ...`` -> the same on ``bk.x_local ON CLUSTER``, and for
  column changes on ``bk.x`` as well (a Distributed table has columns only);
- ``EXCHANGE TABLES bk.a AND bk.b`` -> ``EXCHANGE TABLES bk.a_local AND
  bk.b_local ON CLUSTER``: the Distributed tables name their local table, so
  swapping the locals swaps what ``bk.a`` reads (copy-and-swap migrations,
  0180 and 0181);
- ``DROP TABLE [IF EXISTS] bk.x [SYNC]`` -> the same ``ON CLUSTER`` for
  ``bk.x`` and ``bk.x_local``;
- ``INSERT INTO bk.x SELECT ... FROM bk.y`` is left as it is: through the
  Distributed tables with ``parallel_distributed_insert_select = 2`` (the
  migration sets it) every shard copies its own local rows, so each id stays
  on the shard it was on (a copy into a table sharded otherwise sets 0: the
  rows go through the target's Distributed table);
- ``CREATE VIEW bk.v AS SELECT ...`` -> the same ``ON CLUSTER``, reading the
  node's local tables (every ``bk.x`` it names becomes ``bk.x_local``): the
  views are the look-ups of the materialized views below, which run on the
  node of the inserted rows;
- ``CREATE MATERIALIZED VIEW bk.m TO bk.t AS SELECT ... FROM bk.s ...`` ->
  the same ``ON CLUSTER``, triggered by inserts into ``bk.s_local`` (every
  table it names becomes its ``_local`` table; names ending in ``_view`` are
  the views above and stay). It writes ``bk.t_local`` when ``t`` shards like
  ``s`` (the rows stay on their shard), else ``bk.t``, the Distributed table,
  which sends each row to its shard (``bk.sla_breaches_open`` shards by
  alert, ``bk.sla_breaches`` by breach). Both tables must be in
  ``SHARDING_KEYS``.

The sharding key keeps every row of one logical id on one shard, because
``FINAL`` and ReplacingMergeTree merges collapse duplicates within a shard
only: tables whose id is derived from the camera (violations, camera events,
detections, the registry) shard by ``camera_id`` (a camera's history stays on
one shard), the others by their id (`SHARDING_KEYS`); a table not listed
shards by its sorting key, which is always safe. The staging table of a
copy-and-swap migration (``violations_0180``) shards like its target
(``violations``).

``{cluster}``, ``{shard}``, ``{replica}``, ``{database}`` and ``{table}`` are
server macros (``<macros>`` in each node's config; ``{database}``/``{table}``
are filled in by the server), so one rendering serves every node. Any other
kind of statement is refused: a new migration of another kind needs its
cluster form written here first.
"""

from __future__ import annotations

import re

CLUSTER_MACRO = "{cluster}"
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
"""ZooKeeper/Keeper path of a sharded replicated table (macros filled in by the server)."""
BOOKKEEPING_PATH = "/clickhouse/tables/all/{database}/{table}"
"""The migrations table is one replicated table across all shards: every node sees
what ran, whichever node the runner connects to."""
LOCAL_SUFFIX = "_local"

SHARDING_KEYS: dict[str, str] = {
    "violations": "cityHash64(camera_id)",
    "camera_events": "cityHash64(camera_id)",
    "detections": "cityHash64(camera_id)",
    "cameras": "cityHash64(camera_id)",
    "dead_letters": "cityHash64(app, source_topic, `partition`, `offset`)",
    "alerts": "cityHash64(alert_id)",
    "sla_breaches": "cityHash64(breach_id)",
    "operator_rates": "cityHash64(operator_id)",
    # current-state tables (0232-0238): with the rows they are made from
    "violations_open": "cityHash64(camera_id)",
    "camera_events_open": "cityHash64(camera_id)",
    "camera_events_long": "cityHash64(camera_id)",
    "alerts_open": "cityHash64(alert_id)",
    "alerts_resolutions": "cityHash64(alert_id)",
    "sla_breaches_open": "cityHash64(alert_id)",  # with its alert's tombstones
    "operator_rates_latest": "cityHash64(operator_id)",
    # per-minute rollup of detections (0240): a place's minutes on one shard;
    # its states merge wherever they land, so any fixed key is correct
    "detections_minute": "cityHash64(level, district, station)",
}


class ClusterRenderError(ValueError):
    """A statement has no cluster form (yet); the message names it."""


_CREATE_DB = re.compile(
    r"^CREATE\s+DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?([\w`]+)\s*(.*)$", re.I | re.S
)
_CREATE_TABLE = re.compile(
    r"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s*\(", re.I | re.S
)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w*MergeTree)\b", re.I)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(.*)$", re.I | re.S)
_EXCHANGE = re.compile(r"^EXCHANGE\s+TABLES\s+(\w+)\.(\w+)\s+AND\s+(\w+)\.(\w+)$", re.I)
_DROP = re.compile(r"^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(\w+)\.(\w+)((?:\s+SYNC)?)$", re.I)
_INSERT_SELECT = re.compile(r"^INSERT\s+INTO\s+\w+\.\w+\s+SELECT\b", re.I | re.S)
_CREATE_VIEW = re.compile(
    r"^CREATE\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s+AS\s+(.*)$", re.I | re.S
)
_CREATE_MV = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s+"
    r"TO\s+(\w+)\.(\w+)\s+AS\s+(.*)$",
    re.I | re.S,
)
_TABLE_REF = re.compile(r"\b(\w+)\.(\w+)\b")
VIEW_SUFFIX = "_view"
"""Views the migrations create end with this; the cluster form keeps their names."""
_COLUMN_CHANGE = re.compile(r"^\s*(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_NOT_A_COLUMN = re.compile(r"^\s*(INDEX|PROJECTION|CONSTRAINT)\b", re.I)


def strip_comments(sql: str) -> str:
    """SQL without `--` and `/* */` comments (quoted text is left alone)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out).strip()


def _closing(sql: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at`` (quotes respected)."""
    depth = 0
    i = open_at
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < len(sql) and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            i = j
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ClusterRenderError(f"unbalanced parentheses in: {sql[:80]}")


def _split_top_level(body: str) -> list[str]:
    """Split a column list on commas outside parentheses and quotes."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(body):
        ch = body[i]
        if ch in "'\"`":
            j = i + 1
            while j < len(body) and body[j] != ch:
                j += 2 if body[j] == "\\" else 1
            i = j
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
        i += 1
    parts.append(body[start:].strip())
    return [p for p in parts if p]


def _on_cluster(cluster: str) -> str:
    return f"ON CLUSTER '{cluster}'"


def sharding_key(table: str, order_by: str | None) -> str:
    base = re.sub(r"_\d{4}$", "", table)  # staging table of migration NNNN
    if base in SHARDING_KEYS:
        return SHARDING_KEYS[base]
    if not order_by:
        raise ClusterRenderError(f"bk.{table}: no sharding key and no ORDER BY to derive one")
    key = order_by.strip()
    if key.startswith("(") and key.endswith(")"):
        key = key[1:-1]
    return f"cityHash64({key})"


def _render_create_table(sql: str, cluster: str, replica_path: str) -> list[str]:
    m = _CREATE_TABLE.match(sql)
    assert m is not None
    if_not_exists = m.group(1) or ""
    database, table = m.group(2), m.group(3)
    open_at = m.end() - 1
    close_at = _closing(sql, open_at)
    body = sql[open_at + 1 : close_at]
    rest = sql[close_at + 1 :]
    engine = _ENGINE.search(rest)
    if engine is None:
        raise ClusterRenderError(f"{database}.{table}: only *MergeTree tables have a cluster form")
    kind = engine.group(1)
    if kind.lower().startswith("replicated"):
        raise ClusterRenderError(f"{database}.{table}: already replicated; write it single-node")
    args = ""
    after = engine.end()
    paren = after + len(rest[after:]) - len(rest[after:].lstrip())
    if paren < len(rest) and rest[paren] == "(":
        args_close = _closing(rest, paren)
        args = rest[paren + 1 : args_close].strip()
        after = args_close + 1
    replicated_args = ", ".join(a for a in (f"'{replica_path}'", "'{replica}'", args) if a)
    local_rest = (
        rest[: engine.start()] + f"ENGINE = Replicated{kind}({replicated_args})" + rest[after:]
    )
    local = f"{table}{LOCAL_SUFFIX}"
    order = re.search(
        r"\bORDER\s+BY\s+(.+?)(?=\s+(?:PRIMARY\s+KEY|SAMPLE\s+BY|TTL|SETTINGS)\b|$)",
        rest,
        re.I | re.S,
    )
    columns = [c for c in _split_top_level(body) if not _NOT_A_COLUMN.match(c)]
    column_list = ",\n    ".join(columns)
    key = sharding_key(table, order.group(1) if order else None)
    return [
        f"CREATE TABLE {if_not_exists}{database}.{local} {_on_cluster(cluster)}\n"
        f"({body}){local_rest}",
        f"CREATE TABLE {if_not_exists}{database}.{table} {_on_cluster(cluster)}\n"
        f"(\n    {column_list}\n)\n"
        f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {key})",
    ]


def _outside_quotes(sql: str) -> list[tuple[int, int, int]]:
    """(start, end, paren depth) of the stretches of ``sql`` outside quotes."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"`":
            out.append((start, i, depth))
            j = i + 1
            while j < len(sql) and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            i = start = j + 1
            continue
        if ch in "()":
            out.append((start, i, depth))
            depth += 1 if ch == "(" else -1
            start = i + 1
        i += 1
    out.append((start, len(sql), depth))
    return out


def _localise(select: str, database: str) -> str:
    """``select`` with every ``database.x`` outside quotes named ``database.x_local``,
    but views (``*_view``)."""

    def local(m: re.Match[str]) -> str:
        if m.group(1) != database or m.group(2).endswith(VIEW_SUFFIX):
            return m.group(0)
        return f"{m.group(1)}.{m.group(2)}{LOCAL_SUFFIX}"

    out, pos = [], 0
    for start, end, _depth in _outside_quotes(select):
        out.append(select[pos:start])  # quoted text between stretches, unchanged
        out.append(_TABLE_REF.sub(local, select[start:end]))
        pos = end
    out.append(select[pos:])
    return "".join(out)


def _mv_source(select: str) -> tuple[str, str]:
    """(database, table) of the top-level ``FROM`` of a materialized view's SELECT."""
    for start, end, depth in _outside_quotes(select):
        if depth == 0:
            m = re.search(r"\bFROM\s+(\w+)\.(\w+)", select[start:end], re.I)
            if m:
                return m.group(1), m.group(2)
    raise ClusterRenderError(f"materialized view without a FROM table: {select[:80]}")


def _known_key(table: str) -> str:
    base = re.sub(r"_\d{4}$", "", table)
    if base not in SHARDING_KEYS:
        raise ClusterRenderError(f"bk.{table}: a materialized view needs its sharding key listed")
    return SHARDING_KEYS[base]


def render_statement(
    statement: str, cluster: str = CLUSTER_MACRO, replica_path: str = REPLICA_PATH
) -> list[str]:
    """The cluster form of one single-node statement (one or more statements)."""
    sql = strip_comments(statement).rstrip(";").strip()
    if re.match(r"^CREATE\s+DATABASE\b", sql, re.I):
        m = _CREATE_DB.match(sql)
        if m is None:
            raise ClusterRenderError(f"cannot parse: {sql[:80]}")
        head = f"CREATE DATABASE {m.group(1) or ''}{m.group(2)} {_on_cluster(cluster)}"
        return [f"{head} {m.group(3)}".strip()]
    if _CREATE_TABLE.match(sql):
        return _render_create_table(sql, cluster, replica_path)
    m = _EXCHANGE.match(sql)
    if m is not None:
        (da, ta, db, tb) = m.groups()
        return [
            f"EXCHANGE TABLES {da}.{ta}{LOCAL_SUFFIX} AND {db}.{tb}{LOCAL_SUFFIX} "
            f"{_on_cluster(cluster)}"
        ]
    m = _DROP.match(sql)
    if m is not None:
        if_exists, database, table, tail = m.groups()
        head = f"DROP TABLE {if_exists or ''}"
        return [
            f"{head}{database}.{name} {_on_cluster(cluster)}{tail}".rstrip()
            for name in (table, f"{table}{LOCAL_SUFFIX}")
        ]
    if _INSERT_SELECT.match(sql):
        return [sql]
    m = _CREATE_VIEW.match(sql)
    if m is not None:
        if_not_exists, database, view, select = m.groups()
        return [
            f"CREATE VIEW {if_not_exists or ''}{database}.{view} {_on_cluster(cluster)} AS "
            + _localise(select, database)
        ]
    m = _CREATE_MV.match(sql)
    if m is not None:
        if_not_exists, database, view, tdb, target, select = m.groups()
        _sdb, source = _mv_source(select)
        local_target = _known_key(target) == _known_key(source)
        to = f"{tdb}.{target}{LOCAL_SUFFIX if local_target else ''}"
        return [
            f"CREATE MATERIALIZED VIEW {if_not_exists or ''}{database}.{view} "
            f"{_on_cluster(cluster)} TO {to} AS " + _localise(select, database)
        ]
    m = _ALTER.match(sql)
    if m is not None:
        database, table, action = m.groups()
        out = [f"ALTER TABLE {database}.{table}{LOCAL_SUFFIX} {_on_cluster(cluster)} {action}"]
        if all(_COLUMN_CHANGE.match(a) for a in _split_top_level(action)):
            out.append(f"ALTER TABLE {database}.{table} {_on_cluster(cluster)} {action}")
        return out
    raise ClusterRenderError(
        "no cluster form for this statement (CREATE DATABASE, CREATE TABLE, CREATE VIEW, "
        "CREATE MATERIALIZED VIEW ... TO, ALTER TABLE, EXCHANGE TABLES, DROP TABLE and "
        f"INSERT ... SELECT are rendered): {sql[:80]}"
    )


def render(statements: list[str] | tuple[str, ...], cluster: str | None) -> list[str]:
    """The statements to run: unchanged without a cluster, else their cluster form."""
    if not cluster:
        return list(statements)
    return [out for s in statements for out in render_statement(s, cluster)]


def bookkeeping_statements(database: str, table: str, cluster: str | None) -> list[str]:
    """DDL of the database and the migrations table, single-node or on the cluster."""
    on = f" {_on_cluster(cluster)}" if cluster else ""
    engine = (
        f"ReplicatedReplacingMergeTree('{BOOKKEEPING_PATH}', '{{replica}}', applied_at)"
        if cluster
        else "ReplacingMergeTree(applied_at)"
    )
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}{on}",
        f"""CREATE TABLE IF NOT EXISTS {database}.{table}{on}
        (
            name       String,
            checksum   String,
            applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
        )
        ENGINE = {engine}
        ORDER BY name""",
    ]
