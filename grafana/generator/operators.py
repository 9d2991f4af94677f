"""Operator risk: violation rates per 100 supervised camera-hours, grades, history."""

from __future__ import annotations

from typing import Any

from grafana.generator import inspections
from grafana.generator.common import (
    AREA_FILTER,
    DISTRICT_FILTER,
    SNAPSHOT_BASE,
    STATION_FILTER,
    Layout,
    area_variables,
    camera_scope,
    colour_cells,
    custom_variable,
    dashboard,
    grade_mappings,
    link_override,
    panel,
    per_row,
    query_variable,
    snapshot_base_variable,
    sql_target,
)
from inference_workers.snapshot_links import snapshot_link_sql

UID = "bk-operators"
OPERATOR_FILTER = "$__conditionalAll(operator_id IN (${operator:singlequote}), $operator)"

# The current figure per operator: its newest row of the chosen window at or
# before the end of the range. bk.operator_rates_latest (0238) holds the newest
# row per operator, window and place; where that is after the end of the range
# (a range in the past) the operator's rows are read from bk.operator_rates.
RATE_COLUMNS = (
    "operator_id, district, station, grade, colour, rate, raw_rate, violations, "
    "exposure_h, cameras, as_of, reason, classes"
)
LATEST = f"""
SELECT {RATE_COLUMNS}
FROM (
    SELECT {RATE_COLUMNS}
    FROM bk.operator_rates_latest FINAL
    WHERE `window` = '${{window}}' AND as_of <= $__toTime
        AND {AREA_FILTER} AND {OPERATOR_FILTER}
    UNION ALL
    SELECT {RATE_COLUMNS}
    FROM bk.operator_rates FINAL
    WHERE `window` = '${{window}}' AND as_of <= $__toTime
        AND {AREA_FILTER} AND {OPERATOR_FILTER}
        AND (operator_id, district, station) IN (
            SELECT operator_id, district, station FROM bk.operator_rates_latest FINAL
            WHERE `window` = '${{window}}' AND as_of > $__toTime
        )
)
ORDER BY as_of DESC
LIMIT 1 BY operator_id
"""


def _indent(sql: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in sql.strip().splitlines())


# The evidence image as a browser opens it: s3://bucket/key under the
# deployment's snapshot base (BK_SNAPSHOT_PUBLIC_URL), else the stored URI.
EVIDENCE_IMAGE = snapshot_link_sql("evidence_snapshot", f"${{{SNAPSHOT_BASE}:singlequote}}")


def build(city: str, snapshot_base: str = "") -> dict[str, Any]:
    lay = Layout()
    latest = _indent(LATEST, 28)
    variables = [
        *area_variables(city),
        query_variable(
            "operator",
            "Operator",
            f"""
            SELECT DISTINCT operator_id FROM bk.cameras FINAL
            WHERE active AND {DISTRICT_FILTER} AND {STATION_FILTER}
            ORDER BY operator_id
            """,
        ),
        custom_variable("window", "Window", ["1h", "24h", "7d", "30d"], "7d"),
        snapshot_base_variable(snapshot_base),
    ]
    self_link = "/d/bk-operators/operator-risk?var-operator=${__value.raw}&var-window=${window}"
    panels = [
        lay.place(
            panel(
                "table",
                "Operators by risk",
                [
                    sql_target(
                        f"""
                        SELECT
                            r.operator_id AS operator_id,
                            o.operator_name AS operator_name,
                            r.district AS district,
                            r.station AS station,
                            r.grade AS grade,
                            r.colour AS colour,
                            round(r.rate, 2) AS rate_per_100h,
                            round(r.raw_rate, 2) AS raw_rate_per_100h,
                            r.violations AS violations,
                            round(r.exposure_h, 1) AS camera_hours,
                            r.cameras AS cameras,
                            r.as_of AS as_of,
                            r.reason AS reason
                        FROM (
{latest}
                        ) AS r
                        LEFT JOIN (
                            SELECT operator_id, any(operator_name) AS operator_name
                            FROM bk.cameras FINAL GROUP BY operator_id
                        ) AS o ON r.operator_id = o.operator_id
                        ORDER BY r.grade DESC, r.rate DESC
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "operator_id",
                    "operator_name",
                    "district",
                    "station",
                    "grade",
                    "colour",
                    "rate_per_100h",
                    "raw_rate_per_100h",
                    "violations",
                    "camera_hours",
                    "cameras",
                    "as_of",
                    "reason",
                ],
                description="Shrunk rate (what grades use) next to the raw rate and the raw "
                "counts it comes from: violations and supervised camera-hours. Click an "
                "operator to drill down.",
                mappings=grade_mappings(),
                overrides=[
                    colour_cells("grade"),
                    colour_cells("colour"),
                    link_override("operator_id", "Drill down", self_link),
                ],
            ),
            24,
            10,
        ),
        lay.place(
            panel(
                "piechart",
                "Operators per grade",
                [
                    sql_target(
                        f"""
                        SELECT grade, count() AS operators
                        FROM (
{latest}
                        )
                        GROUP BY grade
                        ORDER BY grade
                        """
                    )
                ],
                columns=["grade", "operators"],
                options={**per_row("operators"), "displayLabels": ["name", "value"]},
                mappings=grade_mappings(),
            ),
            8,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Rate history (per 100 camera-hours)",
                [
                    sql_target(
                        f"""
                        SELECT as_of AS time, operator_id, rate
                        FROM bk.operator_rates FINAL
                        WHERE `window` = '${{window}}' AND $__timeFilter(as_of)
                            AND {AREA_FILTER} AND {OPERATOR_FILTER}
                        ORDER BY time
                        """,
                        timeseries=True,
                    )
                ],
                columns=["time", "operator_id", "rate"],
                description="Select operators above to compare; shrunk rate of the window.",
            ),
            16,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Rates per class",
                [
                    sql_target(
                        f"""
                        SELECT
                            operator_id,
                            c.cls AS cls,
                            c.violations AS violations,
                            round(c.raw_rate, 2) AS raw_rate_per_100h,
                            round(c.rate, 2) AS rate_per_100h,
                            round(c.prior_rate, 2) AS prior_per_100h
                        FROM (
{latest}
                        )
                        ARRAY JOIN classes AS c
                        ORDER BY rate_per_100h DESC
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "operator_id",
                    "cls",
                    "violations",
                    "raw_rate_per_100h",
                    "rate_per_100h",
                    "prior_per_100h",
                ],
                overrides=[link_override("operator_id", "Drill down", self_link)],
            ),
            12,
            9,
        ),
        lay.place(
            panel(
                "table",
                "Violations of the selected operators",
                [
                    sql_target(
                        f"""
                        SELECT violation_id, operator_id, camera_id, cls, severity, state,
                               started_at, ended_at, frames, round(peak_score, 2) AS peak_score,
                               {EVIDENCE_IMAGE} AS evidence_image
                        FROM bk.violations FINAL
                        WHERE $__timeFilter(started_at) AND {OPERATOR_FILTER}
                            AND {camera_scope()}
                        ORDER BY started_at DESC, violation_id
                        LIMIT 200
                        """
                    )
                ],
                columns=[
                    "violation_id",
                    "operator_id",
                    "camera_id",
                    "cls",
                    "severity",
                    "state",
                    "started_at",
                    "ended_at",
                    "frames",
                    "peak_score",
                    "evidence_image",
                ],
                description="evidence_image opens the peak frame's JPEG: the stored "
                "s3://bucket/key under the deployment's BK_SNAPSHOT_PUBLIC_URL, or the "
                "stored URI (file://… on the embedded default) when none is set.",
                overrides=[link_override("evidence_image", "Evidence image", "${__value.raw}")],
            ),
            12,
            9,
        ),
        *inspections.operators_panels(lay),  # grafana/generator/inspections.py
    ]
    return dashboard(
        UID,
        "BrightKitchen / Operator risk",
        "Violations per 100 supervised camera-hours, risk grade A-D and its four "
        f"colours, per operator in {city}.",
        panels,
        variables,
    )
