"""Apply the numbered SQL migrations in clickhouse/migrations/ to a store.

A migration is a file `NNNN_name.sql` holding one or more statements
separated by `;`. The runner applies the files in number order, each
statement with `client.command`, and records every applied file (name,
SHA-256 of its text, time) in `bk.schema_migrations`. Rerunning skips what is
recorded; a recorded file whose text has changed since is refused, because
the store no longer matches what the file says (add a new migration instead).

It uses only `client.command` and `client.query`, so it runs the same on the
embedded chdb store and on a ClickHouse server. Statements are not
transactional: a file that fails half-way is not recorded and runs again from
its first statement next time, so every statement must be safe to repeat
(`CREATE TABLE IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`, ...).

A statement may be guarded: a comment line `-- migrate:if SELECT ...` right
before it makes the runner run that scalar query first and skip the
statement when it returns 0 (or nothing). That is how a migration that moves a
table to a new design by copy and swap (`EXCHANGE TABLES`) stays safe to
rerun after a failure at any statement: the guard asks whether the swap has
happened yet (0180, 0181).

Run against a server:  python3 -m clickhouse.migrate --dsn http://user@host:8123
On a cluster (clickhouse/cluster.py renders each statement ON CLUSTER, with
Replicated*MergeTree `*_local` tables under Distributed tables of the same
names as on one node):  ... --cluster '{cluster}'  (or BK_CLICKHOUSE_CLUSTER)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse import cluster as cluster_ddl

DATABASE = "bk"
MIGRATIONS_TABLE = f"{DATABASE}.schema_migrations"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_GUARD = re.compile(r"^\s*--\s*migrate:if\s+(.+?)\s*$", re.M)


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the store disagree, or one is malformed."""


@dataclass(frozen=True)
class Migration:
    name: str  # file name, e.g. "0001_violations.sql"
    checksum: str  # SHA-256 hex of the text, line endings normalised to \n
    statements: tuple[str, ...]


def split_statements(sql: str) -> list[str]:
    """Split SQL text on top-level `;`, ignoring those in quotes and comments.

    Comments stay inside the statement they precede or follow; a piece that
    holds nothing but comments and blanks is dropped.
    """
    statements: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            i += 1
            while i < n and sql[i] != ch:
                i += 2 if sql[i] == "\\" else 1
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise MigrationError("unterminated /* comment")
            i = end + 2
        elif ch == ";":
            statements.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(piece: str) -> bool:
    without_comments = re.sub(r"/\*.*?\*/|--[^\n]*", "", piece, flags=re.S)
    return bool(without_comments.strip())


def guard(statement: str) -> str | None:
    """The `-- migrate:if SELECT ...` query guarding `statement`, or None."""
    m = _GUARD.search(statement)
    return m.group(1).rstrip(";") if m else None


def _guard_allows(client: Any, statement: str) -> bool:
    query = guard(statement)
    if query is None:
        return True
    value = client.command(query)
    try:
        return bool(int(value or 0))
    except (TypeError, ValueError) as exc:
        raise MigrationError(f"guard {query!r} returned {value!r}, not a number") from exc


def load(directory: Path | None = None) -> list[Migration]:
    """The migrations in `directory` (default: the packaged ones), in number order."""
    directory = Path(directory) if directory is not None else MIGRATIONS_DIR
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_case.sql")
        number = int(match.group(1))
        if number in found:
            raise MigrationError(f"{path.name}: number {number:04d} is also {found[number].name}")
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        statements = tuple(split_statements(text))
        if not statements:
            raise MigrationError(f"{path.name}: holds no statement")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        found[number] = Migration(path.name, checksum, statements)
    return [found[k] for k in sorted(found)]


def _ensure_bookkeeping(client: Any, cluster: str | None = None) -> None:
    # ReplacingMergeTree: two processes migrating at once may both record a
    # file; the duplicates are harmless and collapse.
    table = MIGRATIONS_TABLE.split(".", 1)[1]
    for statement in cluster_ddl.bookkeeping_statements(DATABASE, table, cluster):
        client.command(statement)


def _recorded(client: Any) -> dict[str, str]:
    """name -> checksum of every migration recorded in the store."""
    result = client.query(f"SELECT name, checksum FROM {MIGRATIONS_TABLE} FINAL ORDER BY name")
    return {name: checksum for name, checksum in result.result_rows}


def applied(client: Any) -> list[str]:
    """Names of the migrations recorded in the store, in order; [] on an empty store."""
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": DATABASE, "t": MIGRATIONS_TABLE.split(".", 1)[1]},
    )
    if not int(exists):
        return []
    return list(_recorded(client))


def pending(client: Any, directory: Path | None = None) -> list[Migration]:
    """Migrations not yet applied; raise MigrationError if an applied one has changed."""
    recorded = _recorded(client) if applied(client) else {}
    todo = []
    for migration in load(directory):
        checksum = recorded.get(migration.name)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(
                f"{migration.name} was applied with checksum {checksum[:12]}… but the file now "
                f"has {migration.checksum[:12]}…: applied migrations must not change; "
                "restore the file and add a new migration for the change"
            )
    return todo


def migrate(client: Any, directory: Path | None = None, cluster: str | None = None) -> list[str]:
    """Apply every pending migration in order; return the names applied now.

    Safe to rerun: applied migrations are skipped. Raises MigrationError
    before applying anything if an applied migration's file has changed.
    With ``cluster`` each statement runs in its cluster form
    (clickhouse/cluster.py); the recorded checksum is the file's either way.
    """
    _ensure_bookkeeping(client, cluster)
    done: list[str] = []
    for migration in pending(client, directory):
        try:
            rendered = [
                (statement, cluster_ddl.render([statement], cluster))
                for statement in migration.statements
            ]
        except cluster_ddl.ClusterRenderError as exc:
            raise MigrationError(f"{migration.name}: {exc}") from exc
        for original, statements in rendered:
            try:
                if not _guard_allows(client, original):
                    continue
                for statement in statements:
                    client.command(statement)
            except MigrationError:
                raise
            except Exception as exc:
                raise MigrationError(f"{migration.name}: {exc}") from exc
        client.command(
            f"INSERT INTO {MIGRATIONS_TABLE} (name, checksum) VALUES ({{n:String}}, {{c:String}})",
            parameters={"n": migration.name, "c": migration.checksum},
        )
        done.append(migration.name)
    return done


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m clickhouse.migrate", description="Apply BrightKitchen store migrations."
    )
    parser.add_argument(
        "--dsn",
        required=True,
        help="http(s)://user@host:8123 of a ClickHouse server, or chdb:///path for the embedded "
        "store; the password is read from CLICKHOUSE_PASSWORD",
    )
    parser.add_argument(
        "--cluster",
        default=os.environ.get("BK_CLICKHOUSE_CLUSTER") or None,
        help="render every statement ON CLUSTER with replicated *_local and Distributed tables "
        "(e.g. '{cluster}' for the server macro); default BK_CLICKHOUSE_CLUSTER, unset = one node",
    )
    parser.add_argument("--dry-run", action="store_true", help="list pending migrations only")
    parser.add_argument(
        "--print", action="store_true", help="print the statements that would run and exit"
    )
    args = parser.parse_args(None if argv is None else list(argv))

    if args.print:
        for migration in load():
            print(f"-- {migration.name}")
            for statement in cluster_ddl.render(migration.statements, args.cluster):
                print(f"{statement};\n")
        return 0

    import clickhouse_connect

    kwargs = {}
    if not args.dsn.startswith("chdb:") and "CLICKHOUSE_PASSWORD" in os.environ:
        kwargs["password"] = os.environ["CLICKHOUSE_PASSWORD"]
    client = clickhouse_connect.get_client(dsn=args.dsn, **kwargs)
    try:
        if args.dry_run:
            names = [m.name for m in pending(client)]
            print("\n".join(names) if names else "nothing pending")
        else:
            names = migrate(client, cluster=args.cluster)
            print("\n".join(f"applied {n}" for n in names) if names else "nothing to apply")
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
