"""infra/clickhouse/grafana_user.sql (users, roles, quotas; server only) is checked
here without a server: ClickHouse's own parser (chdb, in a subprocess: one engine
per process) accepts every statement, and the least-privilege rules hold."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SQL = Path(__file__).resolve().parents[2] / "infra" / "clickhouse" / "grafana_user.sql"
PARAM = re.compile(r"\{(\w+):String\}")
PARSE = """
import json, sys, tempfile
from chdb import session
s = session.Session(tempfile.mkdtemp())
out = []
for st in json.load(sys.stdin):
    try:
        out.append(str(s.query("EXPLAIN AST " + st, "TSVRaw")).splitlines()[0])
    except Exception as exc:
        out.append("ERROR " + str(exc)[:300])
print(json.dumps(out))
"""


def statements() -> list[str]:
    body = "\n".join(line for line in SQL.read_text().splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def test_clickhouse_parses_every_statement():
    bound = [PARAM.sub("'secret'", s) for s in statements()]
    done = subprocess.run(
        [sys.executable, "-c", PARSE], input=json.dumps(bound), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = json.loads(done.stdout)
    assert len(parsed) == len(bound) >= 10
    assert not [p for p in parsed if p.startswith("ERROR")], parsed


def test_passwords_come_only_from_parameters():
    users = [s for s in statements() if s.startswith("CREATE USER")]
    assert {re.search(r"USER OR REPLACE (\w+)", u)[1] for u in users} == {
        "grafana_ro", "grafana_alerting", "bk_writer",
    }  # fmt: skip
    for user in users:
        assert PARAM.search(user) and not re.search(r"BY\s+'", user), user


def test_the_readers_limits_cannot_be_lifted_per_query():
    [profile] = [s for s in statements() if s.startswith("CREATE SETTINGS PROFILE")]
    for setting in ("readonly", "max_memory_usage", "max_execution_time", "max_result_rows"):
        assert re.search(rf"\b{setting}\s*=\s*\S+\s+(MAX\s+\S+|CONST)", profile), setting


def test_no_grant_gives_access_management_and_each_grafana_user_has_a_quota():
    grants = " ".join(s for s in statements() if s.startswith("GRANT"))
    assert not re.search(r"ACCESS MANAGEMENT|\bALL\b|GRANT OPTION|ON \*\.\*", grants)
    quotas = [s for s in statements() if s.startswith("CREATE QUOTA")]
    assert sorted(re.search(r"TO (\w+)$", q)[1] for q in quotas) == [
        "grafana_alerting", "grafana_ro",
    ]  # fmt: skip
