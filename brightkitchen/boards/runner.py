"""Load a committed dashboard and run its ClickHouse panel queries on the store."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grafana
from brightkitchen.boards.macros import ALL, QueryContext, expand_query, with_min_interval

GRAFANA_DIR = Path(grafana.__file__).resolve().parent
"""grafana/ of the source checkout, or the installed package data (pip install .)."""
DASHBOARDS_DIR = Path(os.environ.get("BK_GRAFANA_DASHBOARDS", GRAFANA_DIR))
if DASHBOARDS_DIR.name != "dashboards":
    DASHBOARDS_DIR = DASHBOARDS_DIR / "dashboards"


# --- dashboards ---------------------------------------------------------------


def load_dashboard(name: str, directory: Path | None = None) -> dict[str, Any]:
    """A committed dashboard by uid (`bk-city`), short name (`city`) or file stem."""
    directory = directory or DASHBOARDS_DIR
    files = sorted(directory.glob("*.json"))
    wanted = {name, f"bk-{name}", name.removeprefix("bk-")}
    for path in files:
        board = json.loads(path.read_text(encoding="utf-8"))
        if path.stem in wanted or board.get("uid") in wanted:
            return board
    known = ", ".join(p.stem for p in files)
    raise KeyError(f"no dashboard {name!r} in {directory}; known: {known}")


def is_clickhouse(target_or_panel: Mapping[str, Any]) -> bool:
    ds = target_or_panel.get("datasource") or {}
    return ds.get("type") == "grafana-clickhouse-datasource"


def query_variables(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [v for v in board["templating"]["list"] if v["type"] == "query"]


def resolve_variables(
    client: Any, board: Mapping[str, Any], ctx: QueryContext, select_all: bool = True
) -> QueryContext:
    """Fill `ctx` with every variable of `board`: custom ones at their default,
    query ones run in order (a later one may use an earlier one) at "All"."""
    for var in board["templating"]["list"]:
        name = var["name"]
        if var["type"] == "query":
            sql = expand_query(var["query"], ctx)
            rows = client.query(sql).result_rows
            ctx.options[name] = [str(r[0]) for r in rows]
            if name not in ctx.variables:
                ctx.variables[name] = [ALL] if select_all and var.get("includeAll") else []
                if not ctx.variables[name] and ctx.options[name]:
                    ctx.variables[name] = ctx.options[name][:1]
        else:
            ctx.options[name] = [o["value"] for o in var.get("options", [])]
            ctx.variables.setdefault(name, [var["current"]["value"]])
    return ctx


def data_time_range(client: Any, span_s: float = 24 * 3600) -> tuple[float, float]:
    """(from, to) ending at the newest event in the store, so a replay of
    recorded input previews its own data; the wall clock when it is empty."""
    newest = client.query(
        "SELECT greatest("
        "(SELECT toUnixTimestamp64Milli(max(frame_ts)) FROM bk.detections),"
        "(SELECT toUnixTimestamp64Milli(max(started_at)) FROM bk.violations),"
        "(SELECT toUnixTimestamp64Milli(max(started_at)) FROM bk.camera_events))"
    ).result_rows[0][0]
    to = newest / 1000 + 60 if newest and newest > 0 else datetime.now(UTC).timestamp()
    return to - span_s, to


# --- rendering ----------------------------------------------------------------


@dataclass
class PanelResult:
    panel: dict[str, Any]
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    error: str | None = None
    sql: str = ""


def run_query(client: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of `sql`; the names come from DESCRIBE when there
    are no rows (an empty result carries no column names on chdb)."""
    q = client.query(sql)
    if q.column_names:
        return list(q.column_names), list(q.result_rows)
    described = client.query(f"DESCRIBE ({sql})").result_rows
    return [r[0] for r in described], []


def run_panel(client: Any, panel: Mapping[str, Any], ctx: QueryContext) -> PanelResult:
    result = PanelResult(dict(panel))
    target = panel["targets"][0]
    try:
        result.sql = expand_query(target["rawSql"], with_min_interval(ctx, panel.get("interval")))
        result.columns, result.rows = run_query(client, result.sql)
    except Exception as exc:  # shown in the preview, never fatal
        result.error = f"{type(exc).__name__}: {exc}"
    return result
