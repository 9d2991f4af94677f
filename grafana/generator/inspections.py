"""Panels of the regulators' loop (docs/inspections.md) on the operators, SLA and city boards.

Each board's builder appends ``*operators_panels(lay)`` (etc.) to its panel
list: the panels live here so the boards' own modules change by one line.
"""

from __future__ import annotations

from typing import Any

from grafana.generator.common import AREA_FILTER, Layout, panel, sql_target

PLAN_COLUMNS = [
    "station",
    "risk_rank",
    "operator_id",
    "operator_name",
    "grade",
    "due_per_year",
    "last_inspection_at",
    "next_due_at",
    "overdue_days",
    "inspected_this_month",
    "on_key_monitoring",
    "alerts_30d",
    "grade_reason",
]


def _plan(where: str = "1") -> str:
    return f"""
        SELECT station, risk_rank, operator_id, operator_name,
               ifNull(grade, 'ungraded') AS grade, due_per_year, last_inspection_at,
               next_due_at, overdue_days, inspected_this_month, on_key_monitoring,
               alerts_30d, grade_reason
        FROM bk.inspection_plan FINAL
        WHERE {AREA_FILTER} AND {where}
        ORDER BY station, risk_rank
        LIMIT 500
        """


def operators_panels(lay: Layout) -> list[dict[str, Any]]:
    """Inspection plan, monthly round, key-monitoring list, licences, precision per camera."""
    return [
        lay.place(
            panel(
                "table",
                "Inspection plan (riskiest first per station)",
                [sql_target(_plan())],
                columns=PLAN_COLUMNS,
                description="Inspections due per year from the grade (镇坪: A 1, B 2, C 4, D 12; "
                "key-monitoring at least monthly), last inspection and next on-site due date. "
                "docs/inspections.md.",
            ),
            24,
            9,
        ),
        lay.place(
            panel(
                "table",
                "Monthly full round per station",
                [
                    sql_target(
                        f"""
                        SELECT station, any(month) AS month,
                               max(station_operators) AS operators,
                               max(station_inspected_this_month) AS inspected,
                               round(100 * inspected / greatest(operators, 1), 1) AS done_pct
                        FROM bk.inspection_plan FINAL
                        WHERE {AREA_FILTER}
                        GROUP BY station
                        ORDER BY done_pct, station
                        """
                    )
                ],
                columns=["station", "month", "operators", "inspected", "done_pct"],
                description="河西 §13: each station inspects all its operators (online patrols "
                "count) at least once a month.",
            ),
            8,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Key-monitoring list",
                [
                    sql_target(
                        f"""
                        SELECT station, operator_id, operator_name, state, since, until,
                               events, suspicious, reason
                        FROM bk.key_monitoring FINAL
                        WHERE {AREA_FILTER}
                          AND (state = 'on' OR until >= $__fromTime)
                        ORDER BY state = 'on' DESC, since DESC
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "station",
                    "operator_id",
                    "operator_name",
                    "state",
                    "since",
                    "until",
                    "events",
                    "suspicious",
                    "reason",
                ],
                description="河西 §12: operators whose cameras went offline or turned during "
                "opening hours (3 in 7 days, or 2 right after an alert / before an inspection).",
            ),
            16,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Licence and health-certificate warnings",
                [
                    sql_target(
                        f"""
                        SELECT due_at, station, operator_id, operator_name, kind, number,
                               holder, stage, expires_at, severity
                        FROM bk.licence_alerts FINAL
                        WHERE {AREA_FILTER}
                        ORDER BY due_at DESC
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "due_at",
                    "station",
                    "operator_id",
                    "operator_name",
                    "kind",
                    "number",
                    "holder",
                    "stage",
                    "expires_at",
                    "severity",
                ],
                description="30 / 7 / 0 days before expiry and on expiry; a merchant profile "
                "without a food-business licence 7 working days after registration "
                "(河西 §11, §15).",
            ),
            14,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Precision per camera (inspectors' verdicts)",
                [
                    sql_target(
                        f"""
                        SELECT camera_id,
                               countIf(state IN ('verified', 'rectified')) AS confirmed,
                               countIf(state = 'false_positive') AS false_positive,
                               if(confirmed + false_positive = 0, NULL,
                                  round(confirmed / (confirmed + false_positive), 3)) AS precision
                        FROM bk.alerts FINAL
                        ARRAY JOIN camera_ids AS camera_id
                        WHERE source = 'violation' AND {AREA_FILTER}
                          AND created_at >= $__fromTime AND created_at <= $__toTime
                        GROUP BY camera_id
                        HAVING confirmed + false_positive > 0
                        ORDER BY precision, camera_id
                        LIMIT 200
                        """
                    )
                ],
                columns=["camera_id", "confirmed", "false_positive", "precision"],
                description="Share of judged alerts confirmed true, per camera: a camera whose "
                "alerts are mostly false positives needs its view or thresholds checked.",
            ),
            10,
            8,
        ),
    ]


def sla_panels(lay: Layout) -> list[dict[str, Any]]:
    """Overdue inspections and the 24-hour track."""
    return [
        lay.place(
            panel(
                "table",
                "Inspections overdue",
                [sql_target(_plan("overdue"))],
                columns=PLAN_COLUMNS,
                description="Operators whose next on-site inspection is past due "
                "(inspection_overdue breaches page on-call).",
            ),
            16,
            8,
        ),
        lay.place(
            panel(
                "table",
                "24-hour track breaches",
                [
                    sql_target(
                        f"""
                        SELECT due_at, cls, operator_id, station, alert_id
                        FROM bk.sla_breaches FINAL
                        WHERE kind = 'rectify_24h_overdue' AND {AREA_FILTER}
                          AND due_at >= $__fromTime AND due_at <= $__toTime
                        ORDER BY due_at DESC
                        LIMIT 200
                        """
                    )
                ],
                columns=["due_at", "cls", "operator_id", "station", "alert_id"],
                description="河西 §18: problems that can be fixed at once (hat, mask, bin lid) "
                "must be fixed within 24 h.",
            ),
            8,
            8,
        ),
    ]


KPI_COLUMNS = [
    "level",
    "district",
    "station",
    "day",
    "kitchens",
    "kitchen_coverage_pct",
    "camera_coverage_pct",
    "discovery_per_100_kitchen_days",
    "handling_pct",
    "timely_pct",
    "false_alarm_pct",
]


def city_panels(lay: Layout) -> list[dict[str, Any]]:
    """Station KPIs of the latest day, and the city's timely-disposal rate over time."""
    return [
        lay.place(
            panel(
                "table",
                "Station KPIs (latest day, 30-day rates)",
                [
                    sql_target(
                        """
                        SELECT level, district, station, day, kitchens_registered AS kitchens,
                               round(100 * kitchen_coverage, 1) AS kitchen_coverage_pct,
                               round(100 * camera_coverage, 1) AS camera_coverage_pct,
                               round(discovery_rate, 2) AS discovery_per_100_kitchen_days,
                               round(100 * handling_rate, 1) AS handling_pct,
                               round(100 * timely_rate, 1) AS timely_pct,
                               round(100 * false_alarm_rate, 1) AS false_alarm_pct
                        FROM bk.station_kpis FINAL
                        WHERE day = (SELECT max(day) FROM bk.station_kpis
                                     WHERE day_start <= $__toTime)
                          AND $__conditionalAll(district IN (${district:singlequote}), $district)
                        ORDER BY level = 'city', level = 'district', district, station
                        """
                    )
                ],
                columns=KPI_COLUMNS,
                description="河西 §21 / 临湘: coverage of kitchens and cameras, discovery rate "
                "(confirmed alerts per 100 supervised kitchen-days), handling rate, timely-"
                "disposal rate (only alerts whose deadline has passed), false alarms. "
                "docs/inspections.md.",
            ),
            24,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Timely-disposal rate per day (alerts past their deadline only)",
                [
                    sql_target(
                        """
                        SELECT day_start AS time, 100 * timely_rate AS timely_pct
                        FROM bk.station_kpis FINAL
                        WHERE level = 'city' AND day_start >= $__fromTime
                          AND day_start <= $__toTime AND timely_rate IS NOT NULL
                        ORDER BY time
                        """,
                        timeseries=True,
                    )
                ],
                columns=["time", "timely_pct"],
                unit="percent",
            ),
            24,
            7,
        ),
    ]
