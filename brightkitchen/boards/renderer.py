"""One self-contained HTML page of a board's panels (no script, no external asset)."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brightkitchen.boards import fields
from brightkitchen.boards.macros import ALL
from brightkitchen.boards.runner import (
    PanelResult,
    QueryContext,
    data_time_range,
    is_clickhouse,
    load_dashboard,
    resolve_variables,
    run_panel,
)


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


def _svg_bars(res: PanelResult, items: list[tuple], width: int = 560) -> str:
    """One horizontal bar per item (label, value, column), coloured by the column's
    thresholds when it has some, labelled with the column's unit."""
    bars = [(label, float(v) if _is_number(v) else 0.0, col) for label, v, col in items]
    if not bars:
        return ""
    top = max(max(v for _, v, _ in bars), 1e-9)
    row_h, label_w = 18, 200
    height = row_h * len(bars) + 4
    parts = [
        f'<svg class="chart bar" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for k, (label, value, col) in enumerate(bars):
        w = 0 if not math.isfinite(value) else value / top * (width - label_w - 70)
        y = k * row_h + 2
        fill = fields.colour(res.panel, col, value) or PALETTE[k % len(PALETTE)]
        text = fields.format_value(value, fields.unit(res.panel, col))
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{html.escape(label[:32])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 4}" '
            f'fill="{fill}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}" font-size="11">'
            f"{html.escape(text)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(res: PanelResult, column: str, value: Any, unit_name: str | None) -> str:
    text = html.escape(fields.format_value(value, unit_name))
    url = fields.cell_link(res.panel, column, value)
    if url is None:
        return f"<td>{text}</td>"
    return f'<td><a href="{html.escape(url, quote=True)}">{text}</a></td>'


def _table(res: PanelResult, limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in res.columns)
    units = [fields.unit(res.panel, c) for c in res.columns]
    body = "".join(
        "<tr>"
        + "".join(_cell(res, c, v, u) for c, v, u in zip(res.columns, row, units, strict=True))
        + "</tr>"
        for row in res.rows[:limit]
    )
    more = f"<p class='more'>{len(res.rows) - limit} more rows</p>" if len(res.rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _stat(res: PanelResult) -> str:
    if not res.rows:
        return ""
    row = res.rows[0]
    out = []
    for c, v in zip(res.columns, row, strict=True):
        style = f' style="color:{fg}"' if (fg := fields.colour(res.panel, c, v)) else ""
        out.append(
            f'<div class="stat" data-field="{html.escape(c)}"><span class="value"{style}>'
            f"{html.escape(fields.format_value(v, fields.unit(res.panel, c)))}</span>"
            f'<span class="name">{html.escape(c)}</span></div>'
        )
    return "".join(out)


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
        res.columns, res.rows = fields.transform(p, res.columns, res.rows)
        if kind == "stat":
            inner = _stat(res)
        elif kind == "timeseries":
            inner = _svg_lines(res) or _table(res)
        elif kind in ("bargauge", "piechart"):
            items = fields.bar_items(p, res.columns, res.rows)
            inner = _svg_bars(res, items) + _table(res, limit=10)
        elif kind == "barchart":
            inner = _svg_bars(res, fields.grouped_bars(res.columns, res.rows)) + _table(
                res, limit=10
            )
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
body{font-family:system-ui,"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:16px;
background:#f4f5f7;color:#222}
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
    snapshot_base: str | None = None,
) -> Path:
    """Render dashboard `name` (uid like `bk-city`, or `city`) from the store
    behind `client` into one static HTML file; return its path.

    The time range defaults to the 24 h ending at the newest event in the
    store; variables default to "All" (`variables` may select values, e.g.
    `{"district": ["武侯区"]}`). A failing panel query is shown in its panel,
    never raised. `snapshot_base` (BK_SNAPSHOT_PUBLIC_URL) fills the boards'
    `snapshot_base` constant, so evidence images link as in the deployment's
    Grafana. Raises KeyError for an unknown dashboard.
    """
    board = load_dashboard(name)
    variables = {k: list(v) for k, v in (variables or {}).items()}
    hidden = {v["name"] for v in board["templating"]["list"] if v.get("hide") == 2}
    if snapshot_base and "snapshot_base" in hidden:
        variables.setdefault("snapshot_base", [snapshot_base])
    if time_from is None or time_to is None:
        d_from, d_to = data_time_range(client)
        time_from = d_from if time_from is None else time_from
        time_to = d_to if time_to is None else time_to
    span = max(time_to - time_from, 1.0)
    ctx = QueryContext(
        time_from=time_from,
        time_to=time_to,
        interval_s=max(1, int(span / 120)),
        variables=variables,
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
        f"{k}={'All' if ALL in v else ','.join(v)}"
        for k, v in ctx.variables.items()
        if k not in hidden
    )
    fmt = "%Y-%m-%d %H:%M UTC"
    page = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
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
