"""Building blocks of the generated dashboards: data sources, panels, variables.

Plain dicts in the shape of Grafana's dashboard JSON (schemaVersion 39,
Grafana 10.4 / 11). `grafana-foundation-sdk` is not available from this
project's package index, so the few builders needed live here; every board is
a function returning one dashboard dict, so the JSON is reviewed as a diff.
"""

from __future__ import annotations

from typing import Any

CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "bk-clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "bk-prometheus"}
CLICKHOUSE_PLUGIN_VERSION = "4.5.1"

# grafana-clickhouse-datasource v4 `format`: how the plugin shapes the frame.
FORMAT_TIMESERIES = 0
FORMAT_TABLE = 1

SCHEMA_VERSION = 39
CAMERA_EVENT_KINDS = ("offline", "frozen", "blurred", "dark", "angle_changed")
GRADE_COLOURS = {"A": "green", "B": "yellow", "C": "orange", "D": "red"}

# Template-variable filters. `$__conditionalAll(cond, $var)` becomes `1=1` when
# the variable is "All", so "All" also keeps rows of cameras missing from the
# registry (which have no district).
DISTRICT_FILTER = "$__conditionalAll(district IN (${district:singlequote}), $district)"
STATION_FILTER = "$__conditionalAll(station IN (${station:singlequote}), $station)"
AREA_FILTER = f"{DISTRICT_FILTER} AND {STATION_FILTER}"
# bk.detections_minute (0240) holds every minute at three levels; read the one
# the variables select (`$__conditionalAll(0, $v)` is 1=1 at "All", else 0),
# so that no frame is counted twice, then filter its places.
DETECTIONS_MINUTE_SCOPE = (
    "level = multiIf(NOT ($__conditionalAll(0, $station)), 'station',"
    " NOT ($__conditionalAll(0, $district)), 'district', 'city')"
    f" AND {AREA_FILTER}"
)


def camera_scope(column: str = "camera_id") -> str:
    """Keep rows whose camera lies in the selected districts and stations."""
    return (
        f"$__conditionalAll({column} IN (SELECT camera_id FROM bk.cameras FINAL"
        " WHERE district IN (${district:singlequote})), $district)"
        f" AND $__conditionalAll({column} IN (SELECT camera_id FROM bk.cameras FINAL"
        " WHERE station IN (${station:singlequote})), $station)"
    )


def sql_target(sql: str, *, timeseries: bool = False, ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": CLICKHOUSE,
        "editorType": "sql",
        "format": FORMAT_TIMESERIES if timeseries else FORMAT_TABLE,
        "pluginVersion": CLICKHOUSE_PLUGIN_VERSION,
        "queryType": "timeseries" if timeseries else "table",
        "rawSql": dedent_sql(sql),
        "refId": ref,
    }


def prom_target(expr: str, legend: str = "__auto", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": True,
        "refId": ref,
    }


def dedent_sql(sql: str) -> str:
    lines = [line.rstrip() for line in sql.strip("\n").splitlines()]
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)


class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, panel: dict[str, Any], w: int, h: int) -> dict[str, Any]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    *,
    description: str = "",
    columns: list[str] | dict[str, list[str]] | None = None,
    unit: str | None = None,
    overrides: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    datasource: dict[str, str] = CLICKHOUSE,
    thresholds: list[tuple[float | None, str]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    min_interval: str | None = None,
) -> dict[str, Any]:
    """One panel. `columns` are the result columns the panel reads, in order (a
    dict by refId when it has several queries); they are recorded in the panel's
    `bkColumns` field, which Grafana ignores and the tests check. `min_interval`
    is Grafana's "Min interval" (`interval`): the finest `$__interval` of a panel
    that reads a rollup."""
    defaults: dict[str, Any] = {"custom": custom or {}}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    steps = thresholds or [(None, "green")]
    defaults["thresholds"] = {
        "mode": "absolute",
        "steps": [{"color": colour, "value": value} for value, colour in steps],
    }
    out: dict[str, Any] = {
        "datasource": datasource,
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "targets": targets,
        "title": title,
        "type": kind,
    }
    if transformations:
        out["transformations"] = transformations
    if min_interval:
        out["interval"] = min_interval
    if columns is not None:
        out["bkColumns"] = columns if isinstance(columns, dict) else {"A": columns}
    return out


def per_row(value_field: str) -> dict[str, Any]:
    """reduceOptions for a bar gauge or pie: one bar/slice per result row (not
    one per numeric field reduced to a single value)."""
    return {"reduceOptions": {"values": True, "calcs": [], "fields": f"/^{value_field}$/"}}


def link_override(field: str, title: str, url: str) -> dict[str, Any]:
    """Makes the cells of `field` links (data links) to a drill-down board."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "links", "value": [{"title": title, "url": url}]}],
    }


def colour_cells(field: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background"}}],
    }


def grade_mappings() -> list[dict[str, Any]]:
    return [
        {
            "type": "value",
            "options": {
                grade: {"color": colour, "index": i, "text": grade}
                for i, (grade, colour) in enumerate(GRADE_COLOURS.items())
            },
        },
        {
            "type": "value",
            "options": {
                colour: {"color": colour, "index": 4 + i, "text": colour}
                for i, colour in enumerate(GRADE_COLOURS.values())
            },
        },
    ]


def query_variable(
    name: str, label: str, sql: str, *, multi: bool = True, include_all: bool = True
) -> dict[str, Any]:
    return {
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {},
        "datasource": CLICKHOUSE,
        "definition": dedent_sql(sql),
        "includeAll": include_all,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": dedent_sql(sql),
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def constant_variable(name: str, label: str, value: str) -> dict[str, Any]:
    return {
        "current": {"text": value, "value": value},
        "hide": 0,
        "label": label,
        "name": name,
        "options": [{"selected": True, "text": value, "value": value}],
        "query": value,
        "type": "custom",
    }


def started_bars(
    title: str, table: str, by: str, count_as: str, scope: str, description: str = ""
) -> dict[str, Any]:
    """Stacked bars of the episodes of `table` (violations, camera events) by the
    time they started, one series per value of `by` (class, kind)."""
    return panel(
        "timeseries",
        title,
        [
            sql_target(
                f"""
                SELECT $__timeInterval(started_at) AS time, {by}, count() AS {count_as}
                FROM bk.{table} FINAL
                WHERE $__timeFilter(started_at) AND {scope}
                GROUP BY time, {by}
                ORDER BY time, {by}
                """,
                timeseries=True,
            )
        ],
        columns=["time", by, count_as],
        custom={"drawStyle": "bars", "stacking": {"mode": "normal"}},
        description=description,
    )


def hidden_constant(name: str, label: str, value: str) -> dict[str, Any]:
    """A deployment constant the queries read (Grafana's `constant` type, hidden)."""
    shown = constant_variable(name, label, value)
    return {**shown, "hide": 2, "skipUrlSync": True, "type": "constant"}


SNAPSHOT_BASE = "snapshot_base"
"""Variable holding BK_SNAPSHOT_PUBLIC_URL (empty: links are the stored URIs)."""


def snapshot_base_variable(base: str = "") -> dict[str, Any]:
    return hidden_constant(SNAPSHOT_BASE, "Evidence image base URL", base)


def custom_variable(name: str, label: str, values: list[str], default: str) -> dict[str, Any]:
    return {
        "current": {"text": default, "value": default},
        "label": label,
        "name": name,
        "options": [{"selected": v == default, "text": v, "value": v} for v in values],
        "query": ",".join(values),
        "type": "custom",
    }


def area_variables(city: str) -> list[dict[str, Any]]:
    """City -> district -> station, from the camera registry (bk.cameras).

    A deployment serves one city, so `city` is a constant set at build time;
    districts and stations come from the registry, stations narrowed to the
    selected districts."""
    return [
        constant_variable("city", "City", city),
        query_variable(
            "district",
            "District",
            "SELECT DISTINCT district FROM bk.cameras FINAL WHERE active ORDER BY district",
        ),
        query_variable(
            "station",
            "Station",
            f"""
            SELECT DISTINCT station FROM bk.cameras FINAL
            WHERE active AND {DISTRICT_FILTER}
            ORDER BY station
            """,
        ),
    ]


DRILL_PARAMS = "${district:queryparam}&${station:queryparam}&${__url_time_range}"


def board_link(uid: str, slug: str, params: str = "") -> str:
    query = f"{params}&{DRILL_PARAMS}" if params else DRILL_PARAMS
    return f"/d/{uid}/{slug}?{query}"


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    *,
    time_from: str = "now-24h",
    refresh: str = "1m",
    tags: tuple[str, ...] = ("brightkitchen",),
) -> dict[str, Any]:
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": False,
        "graphTooltip": 1,
        "links": [
            {
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "tags": ["brightkitchen"],
                "title": "BrightKitchen",
                "type": "dashboards",
            }
        ],
        "panels": panels,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(tags),
        "templating": {"list": variables},
        "time": {"from": time_from, "to": "now"},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }
