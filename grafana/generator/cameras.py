"""Camera health: which cameras are offline, frozen, blurred, dark or turned, and since when."""

from __future__ import annotations

from typing import Any

from grafana.generator.city import coverage_sql
from grafana.generator.common import (
    CAMERA_EVENT_KINDS,
    DETECTIONS_MINUTE_SCOPE,
    Layout,
    area_variables,
    camera_scope,
    dashboard,
    link_override,
    panel,
    per_row,
    sql_target,
    started_bars,
)

UID = "bk-cameras"
KINDS = ", ".join(f"'{k}'" for k in CAMERA_EVENT_KINDS)


def build(city: str) -> dict[str, Any]:
    lay = Layout()
    scope = camera_scope()
    panels = [
        lay.place(
            panel(
                "bargauge",
                "Open camera events now",
                [
                    sql_target(
                        f"""
                        SELECT k.kind AS kind, countIf(e.event_id != '') AS open_events
                        FROM (SELECT arrayJoin([{KINDS}]) AS kind) AS k
                        LEFT JOIN (
                            SELECT kind, event_id FROM bk.camera_events_open FINAL
                            WHERE {scope}
                        ) AS e ON e.kind = k.kind
                        GROUP BY kind
                        ORDER BY kind
                        """
                    )
                ],
                columns=["kind", "open_events"],
                description="Cameras with an open health event, by kind (every kind shown).",
                options={
                    "displayMode": "basic",
                    "orientation": "horizontal",
                    **per_row("open_events"),
                },
                thresholds=[(None, "green"), (1, "orange"), (5, "red")],
            ),
            8,
            8,
        ),
        lay.place(
            started_bars("Camera events started", "camera_events", "kind", "events", scope),
            16,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Frames analysed per second",
                [
                    sql_target(
                        f"""
                        SELECT $__timeInterval(minute) AS time,
                               sum(frames) / $__interval_s AS frames_per_s
                        FROM bk.detections_minute
                        WHERE {DETECTIONS_MINUTE_SCOPE} AND $__timeFilter(minute)
                        GROUP BY time
                        ORDER BY time
                        """,
                        timeseries=True,
                    )
                ],
                columns=["time", "frames_per_s"],
                description="Raw frames stored (7-day retention), per minute: a drop is a "
                "worker or network problem before the stream apps.",
                unit="fps",
                min_interval="1m",
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "timeseries",
                "Picture quality (median)",
                [
                    sql_target(
                        f"""
                        SELECT $__timeInterval(minute) AS time,
                               quantileMerge(0.5)(brightness) AS brightness,
                               quantileMerge(0.5)(sharpness) AS sharpness
                        FROM bk.detections_minute
                        WHERE {DETECTIONS_MINUTE_SCOPE} AND $__timeFilter(minute)
                        GROUP BY time
                        ORDER BY time
                        """,
                        timeseries=True,
                    )
                ],
                columns=["time", "brightness", "sharpness"],
                min_interval="1m",
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "sharpness"},
                        "properties": [{"id": "custom.axisPlacement", "value": "right"}],
                    }
                ],
            ),
            12,
            8,
        ),
        lay.place(
            panel(
                "table",
                "Longest offline",
                [
                    sql_target(
                        f"""
                        SELECT
                            e.camera_id AS camera_id,
                            c.operator_name AS operator_name,
                            c.district AS district,
                            c.station AS station,
                            e.started_at AS offline_since,
                            e.ended_at AS back_at,
                            dateDiff('second', e.started_at,
                                     coalesce(e.ended_at, now64(3))) AS offline_s,
                            e.operator_id AS operator_id
                        FROM (
                            SELECT camera_id, started_at, ended_at, operator_id
                            FROM bk.camera_events FINAL
                            WHERE kind = 'offline'
                                AND started_at >= $__fromTime - INTERVAL 7 DAY
                                AND started_at <= $__toTime
                                AND (ended_at IS NULL OR ended_at >= $__fromTime)
                                AND {scope}
                            UNION ALL
                            SELECT camera_id, started_at,
                                   CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS ended_at,
                                   operator_id
                            FROM bk.camera_events_open FINAL
                            WHERE kind = 'offline' AND started_at < $__fromTime - INTERVAL 7 DAY
                                AND {scope}
                            UNION ALL
                            SELECT camera_id, started_at, ended_at, operator_id
                            FROM bk.camera_events_long FINAL
                            WHERE kind = 'offline' AND started_at < $__fromTime - INTERVAL 7 DAY
                                AND ended_at >= $__fromTime AND {scope}
                        ) AS e
                        LEFT JOIN (
                            SELECT camera_id, operator_name, district, station
                            FROM bk.cameras FINAL
                        ) AS c ON e.camera_id = c.camera_id
                        ORDER BY isNull(e.ended_at) DESC, offline_s DESC, camera_id, offline_since
                        LIMIT 20
                        """
                    )
                ],
                columns=[
                    "camera_id",
                    "operator_name",
                    "district",
                    "station",
                    "offline_since",
                    "back_at",
                    "offline_s",
                    "operator_id",
                ],
                description="Offline episodes overlapping the range; still-offline first. "
                "Those that started more than 7 days before the range come from the open and "
                "the long-event tables (bk.camera_events_open, bk.camera_events_long).",
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "offline_s"},
                        "properties": [{"id": "unit", "value": "s"}],
                    },
                    link_override(
                        "operator_id",
                        "Operator risk",
                        "/d/bk-operators/operator-risk?var-operator=${__value.raw}"
                        "&${__url_time_range}",
                    ),
                ],
            ),
            24,
            9,
        ),
        lay.place(
            panel(
                "table",
                "Coverage per station",
                [sql_target(coverage_sql(("district", "station")))],
                columns=["district", "station", "registered", "online", "healthy", "coverage_pct"],
                description="Registered = active in the registry; online = no open offline "
                "event; healthy = no open event of any kind. Click a station for its "
                "operators.",
                overrides=[
                    link_override(
                        "station",
                        "Operators of the station",
                        "/d/bk-operators/operator-risk?var-station=${__value.raw}"
                        "&${__url_time_range}",
                    ),
                    {
                        "matcher": {"id": "byName", "options": "coverage_pct"},
                        "properties": [
                            {"id": "unit", "value": "percent"},
                            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                            {
                                "id": "thresholds",
                                "value": {
                                    "mode": "absolute",
                                    "steps": [
                                        {"color": "red", "value": None},
                                        {"color": "orange", "value": 90},
                                        {"color": "green", "value": 98},
                                    ],
                                },
                            },
                        ],
                    },
                ],
            ),
            24,
            9,
        ),
    ]
    return dashboard(
        UID,
        "BrightKitchen / Camera health",
        f"Camera health events and coverage across {city}, by district and station.",
        panels,
        area_variables(city),
    )
