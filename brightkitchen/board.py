"""Static HTML preview of a generated Grafana dashboard, straight from the store.

`render_board(client, name, out_html)` reads `grafana/dashboards/<uid>.json`,
expands each ClickHouse panel query the way Grafana and the
grafana-clickhouse-datasource plugin would (`expand_query`), runs it on the
store and writes one self-contained HTML file: stats as numbers, tables as
tables, time series and bar charts as inline SVG. No script, no external
asset, so the file opens anywhere (and in a headless browser in the tests).
Prometheus panels are listed with their expressions; they need a Prometheus.

The expander is the single place that knows the macro and variable syntax the
dashboards use; the dashboard tests run every query through it.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(
    os.environ.get("BK_GRAFANA_DASHBOARDS", Path(__file__).resolve().parent.parent / "grafana")
)
if DASHBOARDS_DIR.name != "dashboards":
    DASHBOARDS_DIR = DASHBOARDS_DIR / "dashboards"

ALL = "$__all"
"""The value Grafana gives a variable whose "All" option is selected."""


@dataclass
class QueryContext:
    """What Grafana would know when it sends a query: time range, interval, variables.

    `variables` maps a name to its selected values (a list; `[ALL]` for "All").
    `options` maps a name to every value the variable offers, used when "All"
    is selected and a query formats the variable (`${v:singlequote}`).
    """

    time_from: float
    time_to: float
    interval_s: int = 60
    variables: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        try:
            selected = self.variables[name]
        except KeyError:
            raise KeyError(f"query uses an unknown variable ${name}") from None
        if ALL in selected:
            return list(self.options.get(name, []))
        return list(selected)


class MacroError(ValueError):
    """A query uses a macro or variable the expander does not know."""


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose `(` is at `open_paren`, split at top-level
    commas, and the index just past its `)`."""
    depth, start, args = 0, open_paren + 1, []
    quote: str | None = None
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise MacroError(f"unbalanced parentheses after position {open_paren}")


def _apply_conditional_all(sql: str, ctx: QueryContext) -> str:
    # Like the plugin (frontend, before variables are interpolated): innermost
    # last, `1=1` when the variable selects "All" (or nothing).
    macro = "$__conditionalAll("
    while (at := sql.rfind(macro)) != -1:
        args, end = _macro_args(sql, at + len(macro) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}")
        m = re.search(r"\$\{?(\w+)\}?", args[1])
        if not m:
            raise MacroError(f"$__conditionalAll without a variable: {args[1]!r}")
        selected = ctx.variables.get(m.group(1), [])
        phrase = "1=1" if not selected or ALL in selected else args[0]
        sql = sql[:at] + phrase + sql[end:]
    return sql


def _quote(value: str, q: str) -> str:
    return q + value.replace("\\", "\\\\").replace(q, "\\" + q) + q


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)|\[\[(\w+)\]\]")


def _interpolate_variables(sql: str, ctx: QueryContext) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        fmt = m.group(2)
        if name.startswith("__"):
            return m.group(0)  # a global (`${__from}`...) or macro: not a variable
        values = ctx.values(name)
        if fmt == "singlequote":
            return ",".join(_quote(v, "'") for v in values) or "''"
        if fmt == "doublequote":
            return ",".join(_quote(v, '"') for v in values) or '""'
        if fmt == "csv":
            return ",".join(values)
        if fmt in (None, "raw"):
            if len(values) != 1:
                raise MacroError(
                    f"${name} has {len(values)} values; a multi-value variable needs a "
                    "format such as ${" + name + ":singlequote}"
                )
            return values[0]
        raise MacroError(f"unsupported variable format {fmt!r} of ${name}")

    return _VARIABLE.sub(sub, sql)


def _macros(ctx: QueryContext) -> dict[str, Any]:
    f, t = int(ctx.time_from), int(ctx.time_to)
    fm, tm = int(ctx.time_from * 1000), int(ctx.time_to * 1000)
    n = max(1, int(ctx.interval_s))
    day_f = datetime.fromtimestamp(f, UTC).date().isoformat()
    day_t = datetime.fromtimestamp(t, UTC).date().isoformat()
    return {
        "timeFilter": lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})",
        "timeFilter_ms": lambda c: (
            f"{c} >= fromUnixTimestamp64Milli({fm}) AND {c} <= fromUnixTimestamp64Milli({tm})"
        ),
        "dateFilter": lambda c: f"{c} >= toDate('{day_f}') AND {c} <= toDate('{day_t}')",
        "timeFrom": lambda c: f"{c} >= toDateTime({f})",
        "timeTo": lambda c: f"{c} <= toDateTime({t})",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {n} second)",
        "timeInterval_ms": lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {n * 1000} millisecond)"
        ),
        "fromTime_ms": f"fromUnixTimestamp64Milli({fm})",
        "toTime_ms": f"fromUnixTimestamp64Milli({tm})",
        "fromTime": f"toDateTime({f})",
        "toTime": f"toDateTime({t})",
        "interval_s": str(n),
    }


_MACRO = re.compile(r"\$__(\w+)")


def expand_query(sql: str, ctx: QueryContext) -> str:
    """`sql` as the ClickHouse server would receive it from Grafana.

    Supports `$__conditionalAll`, variables (`$v`, `${v}`, `${v:singlequote}`,
    `${v:doublequote}`, `${v:csv}`, `${v:raw}`) and the plugin's macros
    `$__timeFilter`, `$__timeFilter_ms`, `$__dateFilter`, `$__timeFrom`,
    `$__timeTo`, `$__timeInterval`, `$__timeInterval_ms`, `$__fromTime(_ms)`,
    `$__toTime(_ms)` and `$__interval_s`. Anything else raises MacroError.
    """
    sql = _apply_conditional_all(sql, ctx)
    sql = _interpolate_variables(sql, ctx)
    macros = _macros(ctx)
    out, pos = [], 0
    for m in _MACRO.finditer(sql):
        if m.start() < pos:
            continue
        name = m.group(1)
        if name not in macros:
            raise MacroError(f"unknown macro $__{name}")
        expansion = macros[name]
        out.append(sql[pos : m.start()])
        if callable(expansion):
            if m.end() >= len(sql) or sql[m.end()] != "(":
                raise MacroError(f"$__{name} needs an argument")
            args, pos = _macro_args(sql, m.end())
            out.append(expansion(args[0].strip()))
        else:
            out.append(expansion)
            pos = m.end()
    out.append(sql[pos:])
    return "".join(out)


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
        result.sql = expand_query(target["rawSql"], ctx)
        result.columns, result.rows = run_query(client, result.sql)
    except Exception as exc:  # shown in the preview, never fatal
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if not value.is_integer() else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


PALETTE = ("#3274d9", "#e0752d", "#56a64b", "#c4162a", "#8f3bb8", "#f2cc0c", "#1f9fb4")


def _svg_lines(res: PanelResult, width: int = 560, height: int = 200) -> str:
    cols, rows = res.columns, res.rows
    time_i = cols.index("time") if "time" in cols else 0
    num_i = [i for i in range(len(cols)) if i != time_i and any(_is_number(r[i]) for r in rows)]
    lab_i = [i for i in range(len(cols)) if i not in num_i and i != time_i]
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        t = r[time_i]
        x = t.timestamp() if isinstance(t, datetime) else float(t)
        label = " ".join(str(r[i]) for i in lab_i)
        for i in num_i:
            name = f"{label} {cols[i]}".strip() if len(num_i) > 1 or not label else label
            if r[i] is not None:
                series.setdefault(name, []).append((x, float(r[i])))
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-9)
    pad = 30

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - y / y1 * (height - 2 * pad)

    parts = [
        f'<svg class="chart line" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
        f'<text x="2" y="{pad}" font-size="10">{_fmt(y1)}</text>',
    ]
    for k, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.5" '
            f'points="{path}"><title>{html.escape(name)}</title></polyline>'
        )
        parts.append(
            f'<text x="{pad + 90 * k}" y="{height - 8}" font-size="10" fill="{colour}">'
            f"{html.escape(name[:16])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_bars(res: PanelResult, width: int = 560) -> str:
    cols, rows = res.columns, res.rows
    num_i = [i for i in range(len(cols)) if any(_is_number(r[i]) for r in rows)]
    lab_i = [i for i in range(len(cols)) if i not in num_i]
    bars = [
        (" / ".join(str(r[i]) for i in lab_i), sum(float(r[i] or 0) for i in num_i[-1:]))
        for r in rows
    ]
    if not bars:
        return ""
    top = max(max(v for _, v in bars), 1e-9)
    row_h, label_w = 18, 200
    height = row_h * len(bars) + 4
    parts = [
        f'<svg class="chart bar" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for k, (label, value) in enumerate(bars):
        w = 0 if not math.isfinite(value) else value / top * (width - label_w - 60)
        y = k * row_h + 2
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{html.escape(label[:32])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 4}" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}" font-size="11">{_fmt(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(res: PanelResult, limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in res.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in res.rows[:limit]
    )
    more = f"<p class='more'>{len(res.rows) - limit} more rows</p>" if len(res.rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _stat(res: PanelResult) -> str:
    if not res.rows:
        return ""
    row = res.rows[0]
    return "".join(
        f'<div class="stat"><span class="value">{html.escape(_fmt(v))}</span>'
        f'<span class="name">{html.escape(c)}</span></div>'
        for c, v in zip(res.columns, row, strict=True)
    )


def _panel_html(res: PanelResult) -> str:
    p = res.panel
    title = html.escape(p.get("title", ""))
    if res.error:
        status, inner = "error", f'<pre class="error">{html.escape(res.error)}</pre>'
    elif not res.rows:
        status, inner = "empty", '<p class="empty">No data in this range.</p>'
    else:
        status = "ok"
        kind = p.get("type")
        if kind == "stat":
            inner = _stat(res)
        elif kind == "timeseries":
            inner = _svg_lines(res) or _table(res)
        elif kind in ("barchart", "bargauge", "piechart"):
            inner = _svg_bars(res) + _table(res, limit=10)
        else:
            inner = _table(res)
    return (
        f'<section class="panel" data-panel-id="{p.get("id")}" data-type="{p.get("type")}" '
        f'data-status="{status}"><h2>{title}</h2>{inner}</section>'
    )


def _prometheus_html(p: Mapping[str, Any]) -> str:
    exprs = "".join(f"<code>{html.escape(t.get('expr', ''))}</code>" for t in p["targets"])
    return (
        f'<section class="panel" data-panel-id="{p.get("id")}" data-type="{p.get("type")}" '
        f'data-status="prometheus"><h2>{html.escape(p.get("title", ""))}</h2>'
        f"<p>Prometheus panel (not rendered from the store):</p>{exprs}</section>"
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;background:#f4f5f7;color:#222}
h1{font-size:20px}.meta{color:#666;font-size:12px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.panel{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px;overflow:auto}
.panel h2{font-size:14px;margin:0 0 6px}
table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #eee;padding:2px 6px}
.stat{display:inline-block;margin-right:18px}.stat .value{font-size:26px;display:block}
.stat .name{font-size:11px;color:#666}.error{color:#c4162a;white-space:pre-wrap}
code{display:block;font-size:11px;background:#f7f7f7;margin:2px 0;padding:2px}
"""


def render_board(
    client: Any,
    name: str,
    out_html: str | os.PathLike[str],
    *,
    time_from: float | None = None,
    time_to: float | None = None,
    variables: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Render dashboard `name` (uid like `bk-city`, or `city`) from the store
    behind `client` into one static HTML file; return its path.

    The time range defaults to the 24 h ending at the newest event in the
    store; variables default to "All" (`variables` may select values, e.g.
    `{"district": ["武侯区"]}`). A failing panel query is shown in its panel,
    never raised. Raises KeyError for an unknown dashboard.
    """
    board = load_dashboard(name)
    if time_from is None or time_to is None:
        d_from, d_to = data_time_range(client)
        time_from = d_from if time_from is None else time_from
        time_to = d_to if time_to is None else time_to
    span = max(time_to - time_from, 1.0)
    ctx = QueryContext(
        time_from=time_from,
        time_to=time_to,
        interval_s=max(1, int(span / 120)),
        variables={k: list(v) for k, v in (variables or {}).items()},
    )
    resolve_variables(client, board, ctx)
    sections = []
    for p in board["panels"]:
        if p.get("type") == "row":
            continue
        if is_clickhouse(p):
            sections.append(_panel_html(run_panel(client, p, ctx)))
        else:
            sections.append(_prometheus_html(p))
    chosen = ", ".join(
        f"{k}={'All' if ALL in v else ','.join(v)}" for k, v in ctx.variables.items()
    )
    fmt = "%Y-%m-%d %H:%M UTC"
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(board['title'])}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(board['title'])}</h1>"
        f'<p class="meta">{datetime.fromtimestamp(time_from, UTC).strftime(fmt)} – '
        f"{datetime.fromtimestamp(time_to, UTC).strftime(fmt)} · {html.escape(chosen)}</p>"
        f"<main>{''.join(sections)}</main></body></html>"
    )
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
