"""Connect to the store: the embedded chdb folder or a ClickHouse server.

chdb allows one store path per process and one process per path, so the
process that owns the embedded store (demo, replay, sink, query) opens it once
through :func:`connect` and keeps the client.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect

from brightkitchen.settings import Settings


class StoreError(RuntimeError):
    """The store could not be opened; the message names the store."""


def server_address(settings: Settings) -> tuple[str, int, bool]:
    """(host, port, TLS) of BK_CLICKHOUSE_URL; StoreError for anything not http(s)://host."""
    raw = settings.clickhouse_url or ""
    try:
        u = urlparse(raw.strip())
        host, port = u.hostname, u.port
    except ValueError as exc:  # a port that is not a number or out of range
        raise StoreError(f"BK_CLICKHOUSE_URL {_redact(raw)!r}: {exc}") from None
    if u.scheme not in ("http", "https") or not host:
        raise StoreError(
            f"BK_CLICKHOUSE_URL {_redact(raw)!r} is not a ClickHouse URL: "
            "want http(s)://[user@]host[:port]"
        )
    return host, port or (8443 if u.scheme == "https" else 8123), u.scheme == "https"


def _redact(url: str) -> str:
    """The URL without a password it may carry."""
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)


def describe(settings: Settings) -> str:
    if settings.embedded_store:
        return f"embedded store {settings.store_path.resolve()}"
    try:
        host, port, _ = server_address(settings)
    except StoreError:
        return f"ClickHouse server {_redact(settings.clickhouse_url or '')!r}"
    return f"ClickHouse server {host}:{port}"  # never the password


def connect(settings: Settings, query: bool = False) -> Any:
    """A clickhouse-connect client for the configured store.

    ``query=True`` (the `query` command) connects as BK_CLICKHOUSE_QUERY_USER on a
    server when that is set: a user the server itself holds read-only.
    """
    if settings.embedded_store:
        try:
            path = settings.store_path.resolve()
            path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{path}")
        except Exception as exc:
            raise StoreError(f"cannot open the {describe(settings)}: {first_line(exc)}") from None
    host, port, secure = server_address(settings)
    # clickhouse-connect logs every failed request itself; the StoreError says it once.
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    username = urlparse(settings.clickhouse_url or "").username or settings.clickhouse_user
    password = settings.clickhouse_secret()
    if query and settings.clickhouse_query_user:
        username = settings.clickhouse_query_user
        try:
            pw_file = settings.clickhouse_query_password_file
            password = pw_file.read_text().strip() if pw_file else ""
        except OSError as exc:
            raise StoreError(f"BK_CLICKHOUSE_QUERY_PASSWORD_FILE: {exc.strerror}") from None
    try:
        return clickhouse_connect.get_client(
            host=host, port=port, secure=secure, username=username, password=password
        )
    except Exception as exc:
        raise StoreError(f"cannot reach the {describe(settings)}: {_reach_reason(exc)}") from None


def _reach_reason(exc: BaseException) -> str:
    """Why a server could not be reached, in a few words (not urllib3's whole story)."""
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip().rstrip(".")
    m = re.search(r"Failed to resolve '([^']*)'", text)
    if m:
        return f"cannot resolve host {m.group(1)}"
    if "timed out" in text.lower():
        return "timed out"
    return first_line(exc)


# -- read-only queries (`brightkitchen query`) ---------------------------------

MAX_QUERY_CHARS = 100_000
"""Longest statement `query` accepts."""

READ_KINDS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "EXPLAIN", "EXISTS")
_ALLOWED_TOP = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "DescribeQuery", "Explain")
"""ClickHouse AST node names of a read-only statement (plus every ``Show*`` node)."""

SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "values",
        "generate_series",
        "generateseries",
        "null",
        "view",
        "one",
    }
)
"""Table functions `query` accepts: each computes rows in memory. Every other one
(file, url, s3, remote, mysql, postgresql, hdfs, input, executable, cluster,
dictionary, ...) touches files, URLs, other servers or programs and is refused."""

_UNSAFE_FUNCTION_PREFIXES = ("dict", "catboost", "sleep")
_UNSAFE_FUNCTIONS = frozenset(
    {
        "file",
        "modelevaluate",
        "joinget",
        "joingetornull",
        "input",
        "url",
        "urlcluster",
        "s3",
        "s3cluster",
        "gcs",
        "hdfs",
        "hdfscluster",
        "remote",
        "remotesecure",
        "cluster",
        "clusterallreplicas",
        "mysql",
        "postgresql",
        "executable",
        "dictionary",
        "jdbc",
        "odbc",
        "mongodb",
        "redis",
        "sqlite",
        "azureblobstorage",
        "azureblobstoragecluster",
        "deltalake",
        "hudi",
        "hive",
        "iceberg",
        "icebergs3",
        "icebergazure",
        "iceberghdfs",
        "iceberglocal",
        "merge",
        "filecluster",
        "arrowflight",
        "ytsaurus",
    }
)
"""Functions refused wherever they appear: ``file()`` reads a file, ``dictGet*`` and
friends read dictionaries whose source may be a file, URL or another server, model
evaluation reads model files, ``sleep*`` holds the store, and the names of the table
functions that reach outside the store are refused in any position too."""

UNSAFE_ENGINES = frozenset(
    {
        "File",
        "URL",
        "S3",
        "S3Queue",
        "HDFS",
        "MySQL",
        "PostgreSQL",
        "MaterializedPostgreSQL",
        "MongoDB",
        "ODBC",
        "JDBC",
        "Redis",
        "SQLite",
        "Kafka",
        "RabbitMQ",
        "NATS",
        "FileLog",
        "Executable",
        "ExecutablePool",
        "Dictionary",
        "AzureBlobStorage",
        "AzureQueue",
        "Hive",
        "Iceberg",
        "IcebergS3",
        "IcebergAzure",
        "IcebergHDFS",
        "IcebergLocal",
        "DeltaLake",
        "Hudi",
        "URLCluster",
        "S3Cluster",
        "HDFSCluster",
        "AzureBlobStorageCluster",
        "ArrowFlight",
        "YTsaurus",
    }
)
"""Table engines whose reads touch files, URLs, other servers or programs (a Kafka
table would even consume its topic): a query naming such a table is refused."""

_TEXT_FORMAT_PREFIXES = (
    "tabseparated",
    "tsv",
    "csv",
    "customseparated",
    "json",
    "ndjson",
    "pretty",
    "vertical",
    "markdown",
    "values",
    "xml",
    "tskv",
    "sqlinsert",
    "null",
    "lineasstring",
    "template",
    "mysqldump",
)
"""Output formats that are text; every other one (Parquet, Arrow, ORC, Native,
RowBinary, Avro, Protobuf, MsgPack, BSONEachRow, ...) is binary and goes to --out."""


class QueryRefused(ValueError):
    """A statement `query` will not run; the message says why."""


@dataclass(frozen=True)
class ReadQuery:
    """A statement checked read-only: ``body`` is ClickHouse's own rendering of it
    without its FORMAT clause, and is what runs."""

    body: str
    fmt: str
    binary: bool


def is_binary_format(fmt: str) -> bool:
    return not fmt.lower().startswith(_TEXT_FORMAT_PREFIXES)


def _canonical(client: Any, sql: str) -> str:
    """ClickHouse's own single-line rendering of ``sql``; the text travels as a
    query parameter, so checking it runs none of it. More than one statement is
    a syntax error there."""
    try:
        out = client.raw_query(
            "SELECT formatQuerySingleLine({q:String})", parameters={"q": sql}, fmt="TSVRaw"
        )
    except Exception as exc:
        raise QueryRefused(f"not one statement ClickHouse can parse: {first_line(exc)}") from None
    return out.decode("utf-8", "replace").rstrip("\n")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else repr(exc)
    return line if len(line) <= 300 else line[:300] + "…"


def _ast(client: Any, body: str) -> list[tuple[int, str, str]]:
    """(depth, node, detail) of ClickHouse's EXPLAIN AST of ``body``."""
    try:
        out = client.raw_query(f"EXPLAIN AST {body}", fmt="TabSeparatedRaw")
    except Exception as exc:
        raise QueryRefused(f"ClickHouse cannot explain it: {first_line(exc)}") from None
    nodes = []
    for line in out.decode("utf-8", "replace").splitlines():
        stripped = line.lstrip(" ")
        if not stripped:
            continue
        node, _, detail = stripped.partition(" ")
        nodes.append((len(line) - len(stripped), node, detail))
    return nodes


_EXPLAIN_PREFIX = re.compile(
    r"^\s*EXPLAIN(\s+(AST|SYNTAX|PLAN|PIPELINE|ESTIMATE|QUERY\s+TREE|TABLE\s+OVERRIDE))?"
    r"(\s+\w+\s*=\s*[\w']+\s*,?)*\s*",
    re.IGNORECASE,
)
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)


def check_read_only(client: Any, sql: str, default_format: str = "JSONEachRow") -> ReadQuery:
    """Check ``sql`` is one read-only statement that touches nothing outside the
    store; raise :class:`QueryRefused` naming the reason.

    Two parsers must agree: sqlglot's tokens (no ``INTO``: no ``INTO OUTFILE``)
    and ClickHouse's own AST (the statement kind, every function, every table).
    What runs is ClickHouse's rendering of the checked statement, not the text
    as typed, so no difference between parsers can smuggle anything past.
    """
    import sqlglot
    from sqlglot.tokens import TokenType

    sql = sql.strip()
    if not sql:
        raise QueryRefused("empty statement")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefused(f"statement longer than {MAX_QUERY_CHARS:,} characters")
    if "\x00" in sql:
        raise QueryRefused("the statement holds a NUL character")
    canonical = _canonical(client, sql)
    try:
        tokens = sqlglot.tokenize(canonical, read="clickhouse")
    except Exception as exc:
        raise QueryRefused(f"cannot read the statement: {first_line(exc)}") from None
    if not tokens:
        raise QueryRefused("empty statement")
    first = tokens[0].text.upper()
    if first not in READ_KINDS:
        raise QueryRefused(
            f"{first} is not a read: only {'/'.join(READ_KINDS[:-1])} statements are run"
        )
    checked = tokens
    if first == "EXPLAIN":
        # sqlglot reads EXPLAIN as a command whose rest is one opaque token:
        # check the explained statement's own tokens instead.
        inner = _EXPLAIN_PREFIX.sub("", canonical, count=1)
        try:
            checked = sqlglot.tokenize(inner, read="clickhouse")
        except Exception as exc:
            raise QueryRefused(f"cannot read the statement: {first_line(exc)}") from None
    if _INTO_OUTFILE.search(canonical):  # whatever the tokenizer made of it
        raise QueryRefused("INTO OUTFILE is refused: query never writes files")
    for tok in checked:
        if tok.token_type == TokenType.INTO or tok.text.upper() == "OUTFILE":
            raise QueryRefused("INTO OUTFILE is refused: query never writes files")
        if tok.token_type == TokenType.SEMICOLON:
            raise QueryRefused("one statement per call")
        if tok.token_type == TokenType.SETTINGS:  # refused before ClickHouse applies them
            raise QueryRefused("a SETTINGS clause is refused: query runs with fixed settings")
    fmt = default_format
    body = canonical
    if len(tokens) >= 3 and tokens[-2].text.upper() == "FORMAT":
        fmt = tokens[-1].text
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", fmt):
            raise QueryRefused(f"FORMAT {fmt!r} is not a format name")
        body = canonical[: tokens[-2].start].rstrip()
        if _canonical(client, body) != body:
            raise QueryRefused("the statement changes meaning without its FORMAT clause")
    _check_ast(client, body)
    return ReadQuery(body=body, fmt=fmt, binary=is_binary_format(fmt))


def _check_ast(client: Any, body: str) -> None:
    nodes = _ast(client, body)
    if not nodes:
        raise QueryRefused("ClickHouse gave no syntax tree for it")
    _, top, _ = nodes[0]
    if top not in _ALLOWED_TOP and not top.startswith(("Show", "Exists")):
        raise QueryRefused(f"a {top} is not a read-only statement")
    tables: set[tuple[str, str]] = set()
    parent_at: dict[int, str] = {}
    for depth, node, detail in nodes:
        parent = parent_at.get(depth - 1, "")
        parent_at[depth] = node
        if node == "Explain" and depth > 0:
            continue
        if depth == 1 and node == "Literal" and top == "SelectWithUnionQuery":
            raise QueryRefused("INTO OUTFILE is refused: query never writes files")
        if node == "Set":
            raise QueryRefused("a SETTINGS clause is refused: query runs with fixed settings")
        if node in ("InsertQuery", "CreateQuery", "AlterQuery", "DropQuery", "SystemQuery"):
            raise QueryRefused(f"a {node} is not a read-only statement")
        if node == "Function":
            name = detail.split(" ", 1)[0]
            low = name.lower()
            if parent == "TableExpression":
                if low not in SAFE_TABLE_FUNCTIONS:
                    raise QueryRefused(
                        f"table function {name}() is refused: it reaches files, URLs, other "
                        "servers or programs (allowed: "
                        + ", ".join(sorted(SAFE_TABLE_FUNCTIONS))
                        + ")"
                    )
            elif low.startswith(_UNSAFE_FUNCTION_PREFIXES) or low in _UNSAFE_FUNCTIONS:
                raise QueryRefused(
                    f"function {name}() is refused: it reads files, dictionaries or models, "
                    "or holds the store"
                )
        if node == "TableIdentifier":
            name = detail.split(" ", 1)[0]
            db, _, table = name.rpartition(".")
            tables.add((db.strip("`"), table.strip("`")))
    _check_engines(client, tables)


def _check_engines(client: Any, tables: set[tuple[str, str]]) -> None:
    if not tables:
        return
    names = sorted(tables)
    try:
        out = client.raw_query(
            "SELECT database, name, engine FROM system.tables "
            "WHERE (database = currentDatabase() OR database IN {dbs:Array(String)}) "
            "AND name IN {names:Array(String)}",
            parameters={"dbs": [d for d, _ in names if d], "names": [t for _, t in names]},
            fmt="TSVRaw",
        )
    except Exception as exc:
        raise QueryRefused(f"cannot look up the tables' engines: {first_line(exc)}") from None
    for line in out.decode("utf-8", "replace").splitlines():
        db, name, engine = (line.split("\t") + ["", "", ""])[:3]
        if engine in UNSAFE_ENGINES:
            raise QueryRefused(
                f"table {db}.{name} is refused: its {engine} engine reads outside the store"
            )
