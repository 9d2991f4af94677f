"""SLA and dispositions: open alerts by age, breaches, yellow cards, timeliness, false positives."""

from __future__ import annotations

from typing import Any

from grafana.generator import inspections
from grafana.generator.common import (
    AREA_FILTER,
    Layout,
    area_variables,
    board_link,
    dashboard,
    link_override,
    panel,
    sql_target,
)

UID = "bk-sla"


def build(city: str) -> dict[str, Any]:
    lay = Layout()
    operator_link = link_override(
        "operator_id",
        "Operator risk",
        board_link("bk-operators", "operator-risk", "var-operator=${__value.raw}"),
    )
    panels = [
        lay.place(
            panel(
                "barchart",
                "Open alerts by age",
                [
                    sql_target(
                        f"""
                        SELECT
                            multiIf(age_h < 24, '1: < 24 h', age_h < 72, '2: 1-3 d',
                                    age_h < 120, '3: 3-5 d', age_h < 240, '4: 5-10 d',
                                    '5: > 10 d') AS age_bucket,
                            count() AS open_alerts
                        FROM (
                            SELECT dateDiff('second', created_at, now64(3)) / 3600 AS age_h
                            FROM bk.alerts_open FINAL
                            WHERE {AREA_FILTER}
                        )
                        GROUP BY age_bucket
                        ORDER BY age_bucket
                        """
                    )
                ],
                columns=["age_bucket", "open_alerts"],
                description="Unresolved alerts by time since they were raised: 24 h to "
                "verify, 5 d to a yellow card, 10 d to escalation.",
                options={"xField": "age_bucket"},
            ),
            8,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "SLA breaches by kind",
                [
                    sql_target(
                        f"""
                        SELECT $__timeInterval(due_at) AS time, kind, count() AS breaches
                        FROM bk.sla_breaches FINAL
                        WHERE $__timeFilter(due_at) AND {AREA_FILTER}
                        GROUP BY time, kind
                        ORDER BY time
                        """,
                        timeseries=True,
                    )
                ],
                columns=["time", "kind", "breaches"],
                custom={"drawStyle": "bars", "stacking": {"mode": "normal"}},
            ),
            10,
            8,
        ),
        lay.place(
            panel(
                "stat",
                "Yellow cards and escalations",
                [
                    sql_target(
                        f"""
                        SELECT countIf(kind = 'yellow_card') AS yellow_cards,
                               countIf(kind = 'escalated') AS escalations
                        FROM bk.sla_breaches FINAL
                        WHERE $__timeFilter(due_at) AND {AREA_FILTER}
                        """
                    )
                ],
                columns=["yellow_cards", "escalations"],
                thresholds=[(None, "green"), (1, "orange")],
            ),
            6,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Open breaches",
                [
                    sql_target(
                        """
                        SELECT b.breach_id AS breach_id, b.kind AS kind, b.due_at AS due_at,
                               round(dateDiff('second', b.due_at, now64(3)) / 3600, 1)
                                   AS overdue_h,
                               b.district AS district, b.station AS station,
                               b.operator_id AS operator_id, b.cls AS cls,
                               b.severity AS severity, b.alert_id AS alert_id,
                               a.state AS alert_state
                        FROM bk.sla_breaches_open AS b FINAL
                        INNER JOIN (
                            SELECT alert_id, state FROM bk.alerts_open FINAL
                        ) AS a ON b.alert_id = a.alert_id
                        WHERE b.due_at <= $__toTime
                            AND $__conditionalAll(b.district IN (${district:singlequote}),
                                                  $district)
                            AND $__conditionalAll(b.station IN (${station:singlequote}),
                                                  $station)
                        ORDER BY b.due_at
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "breach_id",
                    "kind",
                    "due_at",
                    "overdue_h",
                    "district",
                    "station",
                    "operator_id",
                    "cls",
                    "severity",
                    "alert_id",
                    "alert_state",
                ],
                description="Missed deadlines of alerts that are still unresolved.",
                overrides=[operator_link],
            ),
            24,
            9,
        ),
        lay.place(
            panel(
                "table",
                "Timeliness per station",
                [
                    sql_target(
                        f"""
                        SELECT
                            coalesce(district, '(unregistered)') AS district,
                            coalesce(station, '(unregistered)') AS station,
                            count() AS alerts,
                            countIf(verified_at IS NOT NULL
                                    AND verified_at <= created_at + INTERVAL 24 HOUR)
                                AS verified_24h,
                            round(100 * verified_24h / alerts, 1) AS verified_24h_pct,
                            countIf(resolved_at IS NOT NULL) AS resolved,
                            countIf(alert_id IN (
                                SELECT alert_id FROM bk.sla_breaches FINAL
                                WHERE due_at >= $__fromTime
                            )) AS breached,
                            round(100 * (alerts - breached) / alerts, 1) AS timely_pct
                        FROM bk.alerts FINAL
                        WHERE $__timeFilter(created_at) AND {AREA_FILTER}
                        GROUP BY district, station
                        ORDER BY timely_pct, district, station
                        """
                    )
                ],
                columns=[
                    "district",
                    "station",
                    "alerts",
                    "verified_24h",
                    "verified_24h_pct",
                    "resolved",
                    "breached",
                    "timely_pct",
                ],
                description="Alerts raised in the range: verified within 24 h, resolved, "
                "with any SLA breach. Click a station for its operators.",
                overrides=[
                    link_override(
                        "station",
                        "Operators of the station",
                        "/d/bk-operators/operator-risk?var-station=${__value.raw}"
                        "&${__url_time_range}",
                    )
                ],
            ),
            14,
            9,
        ),
        lay.place(
            panel(
                "table",
                "False positives per class",
                [
                    sql_target(
                        f"""
                        SELECT cls,
                               count() AS alerts,
                               countIf(resolved_at IS NOT NULL) AS resolved,
                               countIf(resolution = 'false_positive') AS false_positives,
                               round(100 * false_positives / greatest(resolved, 1), 1)
                                   AS false_positive_pct
                        FROM bk.alerts FINAL
                        WHERE source = 'violation' AND $__timeFilter(created_at)
                            AND {AREA_FILTER}
                        GROUP BY cls
                        ORDER BY false_positive_pct DESC, cls
                        """
                    )
                ],
                columns=["cls", "alerts", "resolved", "false_positives", "false_positive_pct"],
                description="Share of the resolved violation alerts that inspectors marked "
                "false_positive: a model or threshold to retune.",
            ),
            10,
            9,
        ),
        lay.place(
            panel(
                "timeseries",
                "Alerts raised and resolved",
                [
                    sql_target(
                        f"""
                        SELECT $__timeInterval(created_at) AS time, count() AS raised
                        FROM bk.alerts FINAL
                        WHERE $__timeFilter(created_at) AND {AREA_FILTER}
                        GROUP BY time
                        ORDER BY time
                        """,
                        timeseries=True,
                    ),
                    sql_target(
                        f"""
                        SELECT $__timeInterval(resolved_at) AS time, count() AS resolved
                        FROM bk.alerts FINAL
                        WHERE resolved_at IS NOT NULL AND $__timeFilter(resolved_at)
                            AND {AREA_FILTER}
                            AND (toDateTime(created_at), alert_id) IN (
                                SELECT toDateTime(created_at), alert_id
                                FROM bk.alerts_resolutions
                                WHERE $__timeFilter(resolved_at) AND {AREA_FILTER}
                            )
                        GROUP BY time
                        ORDER BY time
                        """,
                        timeseries=True,
                        ref="B",
                    ),
                ],
                columns={"A": ["time", "raised"], "B": ["time", "resolved"]},
            ),
            24,
            8,
        ),
        *inspections.sla_panels(lay),  # grafana/generator/inspections.py
    ]
    return dashboard(
        UID,
        "BrightKitchen / SLA and dispositions",
        f"Alert handling against the regulators' deadlines in {city}.",
        panels,
        area_variables(city),
    )
