"""Static HTML preview of a generated Grafana dashboard, straight from the store.

Three parts: `macros` (Grafana's syntax), `runner` (queries), `renderer` (HTML).

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

from brightkitchen.boards.macros import (
    ALL,
    MacroError,
    QueryContext,
    expand_query,
    with_min_interval,
)
from brightkitchen.boards.renderer import render_board
from brightkitchen.boards.runner import (
    DASHBOARDS_DIR,
    PanelResult,
    data_time_range,
    is_clickhouse,
    load_dashboard,
    query_variables,
    resolve_variables,
    run_panel,
    run_query,
)

__all__ = [
    "ALL",
    "DASHBOARDS_DIR",
    "MacroError",
    "PanelResult",
    "QueryContext",
    "data_time_range",
    "expand_query",
    "is_clickhouse",
    "load_dashboard",
    "query_variables",
    "render_board",
    "resolve_variables",
    "run_panel",
    "run_query",
    "with_min_interval",
]
