"""City overview: what is open now, where, and whether the city is covered."""

from __future__ import annotations

from typing import Any

from grafana.generator import inspections
from grafana.generator.common import (
    AREA_FILTER,
    Layout,
    area_variables,
    board_link,
    camera_scope,
    dashboard,
    link_override,
    panel,
    sql_target,
    started_bars,
)

UID = "bk-city"

# Online = active in the registry and no open `offline` event; healthy = no
# open camera event of any kind (the cameras whose violations count). The open
# events are bk.camera_events_open (0233), the current state of bk.camera_events.
COVERAGE_SQL = """
SELECT
    {group_cols}count() AS registered,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events_open FINAL WHERE kind = 'offline'
    )) AS online,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events_open FINAL
    )) AS healthy,
    round(100 * online / greatest(registered, 1), 1) AS coverage_pct
FROM bk.cameras FINAL
WHERE active AND {area}
{group_by}
"""


def coverage_sql(group: tuple[str, ...] = ()) -> str:
    return COVERAGE_SQL.format(
        group_cols="".join(f"{g}, " for g in group),
        area=AREA_FILTER,
        group_by=f"GROUP BY {', '.join(group)} ORDER BY coverage_pct, {', '.join(group)}"
        if group
        else "",
    )


def build(city: str) -> dict[str, Any]:
    lay = Layout()
    scope = camera_scope()
    panels = [
        lay.place(
            panel(
                "stat",
                "Open violations",
                [
                    sql_target(
                        f"""
                        SELECT count() AS open_violations
                        FROM bk.violations_open FINAL
                        WHERE started_at <= $__toTime AND {scope}
                        """
                    )
                ],
                description="Violation episodes still in progress in the selected area.",
                columns=["open_violations"],
                thresholds=[(None, "green"), (1, "orange"), (10, "red")],
            ),
            6,
            4,
        ),
        lay.place(
            panel(
                "stat",
                "Cameras online / registered",
                [sql_target(coverage_sql())],
                description="Active registry cameras without an open offline event.",
                columns=["registered", "online", "healthy", "coverage_pct"],
                options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": ""}},
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "coverage_pct"},
                        "properties": [{"id": "unit", "value": "percent"}],
                    }
                ],
            ),
            10,
            4,
        ),
        lay.place(
            panel(
                "stat",
                "Timely disposal",
                [
                    sql_target(
                        f"""
                        SELECT
                            count() AS alerts,
                            countIf(alert_id NOT IN (
                                SELECT alert_id FROM bk.sla_breaches FINAL
                                WHERE kind IN ('verify_overdue', 'rectify_overdue')
                                    AND due_at >= $__fromTime
                            )) AS timely,
                            round(100 * timely / greatest(alerts, 1), 1) AS timely_pct
                        FROM bk.alerts FINAL
                        WHERE $__timeFilter(created_at) AND {AREA_FILTER}
                        """
                    )
                ],
                description="Share of the alerts raised in the range that were verified "
                "within 24 h and rectified within 3 working days (no such breach).",
                columns=["alerts", "timely", "timely_pct"],
                # counts stay counts; only the share is a percentage with thresholds
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "timely_pct"},
                        "properties": [
                            {"id": "unit", "value": "percent"},
                            {
                                "id": "thresholds",
                                "value": {
                                    "mode": "absolute",
                                    "steps": [
                                        {"color": "red", "value": None},
                                        {"color": "orange", "value": 80},
                                        {"color": "green", "value": 95},
                                    ],
                                },
                            },
                        ],
                    }
                ],
            ),
            8,
            4,
        ),
        lay.place(
            panel(
                "barchart",
                "Open violations by class and district",
                [
                    sql_target(
                        f"""
                        SELECT
                            if(c.district = '', '(unregistered)', c.district) AS district,
                            v.cls AS cls,
                            count() AS open_violations
                        FROM bk.violations_open AS v FINAL
                        LEFT JOIN (SELECT camera_id, district FROM bk.cameras FINAL) AS c
                            ON v.camera_id = c.camera_id
                        WHERE v.started_at <= $__toTime
                            AND {camera_scope("v.camera_id")}
                        GROUP BY district, cls
                        ORDER BY district, cls
                        """
                    )
                ],
                columns=["district", "cls", "open_violations"],
                # long rows -> one row per district, one column per class (stackable)
                transformations=[
                    {
                        "id": "groupingToMatrix",
                        "options": {
                            "rowField": "district",
                            "columnField": "cls",
                            "valueField": "open_violations",
                            "emptyValue": "zero",
                        },
                    }
                ],
                options={"stacking": "normal", "xField": "district"},
                custom={"stacking": {"mode": "normal"}},
                description="One bar per district, stacked by violation class.",
            ),
            12,
            8,
        ),
        lay.place(
            started_bars(
                "Violations started",
                "violations",
                "cls",
                "violations",
                scope,
                description="Violation episodes by the time they started, per class.",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Top operators",
                [
                    sql_target(
                        f"""
                        SELECT
                            v.operator_id AS operator_id,
                            any(c.operator_name) AS operator_name,
                            any(c.district) AS district,
                            any(c.station) AS station,
                            count() AS violations,
                            countIf(v.severity = 'critical') AS critical,
                            countIf(v.state = 'open') AS open_now
                        FROM bk.violations AS v FINAL
                        LEFT JOIN (
                            SELECT camera_id, operator_name, district, station
                            FROM bk.cameras FINAL
                        ) AS c ON v.camera_id = c.camera_id
                        WHERE $__timeFilter(v.started_at) AND v.operator_id IS NOT NULL
                            AND {camera_scope("v.camera_id")}
                        GROUP BY operator_id
                        ORDER BY violations DESC, operator_id
                        LIMIT 20
                        """
                    )
                ],
                columns=[
                    "operator_id",
                    "operator_name",
                    "district",
                    "station",
                    "violations",
                    "critical",
                    "open_now",
                ],
                description="Operators with the most violations started in the range; "
                "click an operator for its risk page.",
                overrides=[
                    link_override(
                        "operator_id",
                        "Operator risk",
                        board_link("bk-operators", "operator-risk", "var-operator=${__value.raw}"),
                    )
                ],
            ),
            12,
            9,
        ),
        lay.place(
            panel(
                "table",
                "Coverage by district",
                [sql_target(coverage_sql(("district",)))],
                columns=["district", "registered", "online", "healthy", "coverage_pct"],
                description="Click a district for its camera health.",
                overrides=[
                    link_override(
                        "district",
                        "Camera health",
                        "/d/bk-cameras/camera-health?var-district=${__value.raw}"
                        "&${__url_time_range}",
                    )
                ],
            ),
            12,
            9,
        ),
        *inspections.city_panels(lay),  # grafana/generator/inspections.py
    ]
    return dashboard(
        UID,
        "BrightKitchen / City overview",
        f"Open violations, coverage and disposal timeliness across {city}.",
        panels,
        area_variables(city),
    )
