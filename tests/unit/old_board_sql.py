# ruff: noqa: E501
"""The board and alert-rule SQL as it stood before the current-state tables (0230-0240).

Kept verbatim from the committed grafana/dashboards/*.json and
grafana/provisioning/alerting/rules.yaml of main before issue 20's rewrite (commit
1086ffe; the two raw-detection panels as they stood before bk.detections_minute,
migration 0240), so the tests run it beside the rewritten queries on the same store and
require the same rows (tests/unit/test_current_state.py, test_store_design.py).
"""

from __future__ import annotations

# (board uid, panel title, refId) -> rawSql, macros unexpanded
PANELS: dict[tuple[str, str, str], str] = {
    ("bk-city", "Open violations", "A"): """\
SELECT count() AS open_violations
FROM bk.violations FINAL
WHERE state = 'open' AND started_at <= $__toTime AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
""",
    ("bk-city", "Cameras online / registered", "A"): """\
SELECT
    count() AS registered,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE kind = 'offline' AND state = 'open'
    )) AS online,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE state = 'open'
    )) AS healthy,
    round(100 * online / greatest(registered, 1), 1) AS coverage_pct
FROM bk.cameras FINAL
WHERE active AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)""",
    ("bk-city", "Timely disposal", "A"): """\
SELECT
    count() AS alerts,
    countIf(alert_id NOT IN (
        SELECT alert_id FROM bk.sla_breaches FINAL
        WHERE kind IN ('verify_overdue', 'rectify_overdue')
    )) AS timely,
    round(100 * timely / greatest(alerts, 1), 1) AS timely_pct
FROM bk.alerts FINAL
WHERE $__timeFilter(created_at) AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
""",
    ("bk-city", "Open violations by class and district", "A"): """\
SELECT
    if(c.district = '', '(unregistered)', c.district) AS district,
    v.cls AS cls,
    count() AS open_violations
FROM bk.violations AS v FINAL
LEFT JOIN (SELECT camera_id, district FROM bk.cameras FINAL) AS c
    ON v.camera_id = c.camera_id
WHERE v.state = 'open' AND v.started_at <= $__toTime
    AND $__conditionalAll(v.camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(v.camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
GROUP BY district, cls
ORDER BY district, cls
""",
    ("bk-city", "Coverage by district", "A"): """\
SELECT
    district, count() AS registered,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE kind = 'offline' AND state = 'open'
    )) AS online,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE state = 'open'
    )) AS healthy,
    round(100 * online / greatest(registered, 1), 1) AS coverage_pct
FROM bk.cameras FINAL
WHERE active AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
GROUP BY district ORDER BY coverage_pct, district""",
    ("bk-cameras", "Open camera events now", "A"): """\
SELECT k.kind AS kind, countIf(e.event_id != '') AS open_events
FROM (SELECT arrayJoin(['offline', 'frozen', 'blurred', 'dark', 'angle_changed']) AS kind) AS k
LEFT JOIN (
    SELECT kind, event_id FROM bk.camera_events FINAL
    WHERE state = 'open' AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
) AS e ON e.kind = k.kind
GROUP BY kind
ORDER BY kind
""",
    ("bk-cameras", "Longest offline", "A"): """\
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
FROM bk.camera_events AS e FINAL
LEFT JOIN (
    SELECT camera_id, operator_name, district, station
    FROM bk.cameras FINAL
) AS c ON e.camera_id = c.camera_id
WHERE e.kind = 'offline'
    AND e.started_at <= $__toTime
    AND (e.ended_at IS NULL OR e.ended_at >= $__fromTime)
    AND $__conditionalAll(e.camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(e.camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
ORDER BY isNull(e.ended_at) DESC, offline_s DESC, camera_id, offline_since
LIMIT 20
""",
    ("bk-cameras", "Coverage per station", "A"): """\
SELECT
    district, station, count() AS registered,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE kind = 'offline' AND state = 'open'
    )) AS online,
    countIf(camera_id NOT IN (
        SELECT camera_id FROM bk.camera_events FINAL WHERE state = 'open'
    )) AS healthy,
    round(100 * online / greatest(registered, 1), 1) AS coverage_pct
FROM bk.cameras FINAL
WHERE active AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
GROUP BY district, station ORDER BY coverage_pct, district, station""",
    ("bk-operators", "Operators by risk", "A"): """\
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
    SELECT * FROM bk.operator_rates FINAL
    WHERE `window` = '${window}' AND as_of <= $__toTime
        AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station) AND $__conditionalAll(operator_id IN (${operator:singlequote}), $operator)
    ORDER BY as_of DESC
    LIMIT 1 BY operator_id
) AS r
LEFT JOIN (
    SELECT operator_id, any(operator_name) AS operator_name
    FROM bk.cameras FINAL GROUP BY operator_id
) AS o ON r.operator_id = o.operator_id
ORDER BY r.grade DESC, r.rate DESC
LIMIT 200
""",
    ("bk-operators", "Operators per grade", "A"): """\
SELECT grade, count() AS operators
FROM (
    SELECT * FROM bk.operator_rates FINAL
    WHERE `window` = '${window}' AND as_of <= $__toTime
        AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station) AND $__conditionalAll(operator_id IN (${operator:singlequote}), $operator)
    ORDER BY as_of DESC
    LIMIT 1 BY operator_id
)
GROUP BY grade
ORDER BY grade
""",
    ("bk-operators", "Rates per class", "A"): """\
SELECT
    operator_id,
    c.cls AS cls,
    c.violations AS violations,
    round(c.raw_rate, 2) AS raw_rate_per_100h,
    round(c.rate, 2) AS rate_per_100h,
    round(c.prior_rate, 2) AS prior_per_100h
FROM (
    SELECT * FROM bk.operator_rates FINAL
    WHERE `window` = '${window}' AND as_of <= $__toTime
        AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station) AND $__conditionalAll(operator_id IN (${operator:singlequote}), $operator)
    ORDER BY as_of DESC
    LIMIT 1 BY operator_id
)
ARRAY JOIN classes AS c
ORDER BY rate_per_100h DESC
LIMIT 200
""",
    ("bk-sla", "Open alerts by age", "A"): """\
SELECT
    multiIf(age_h < 24, '1: < 24 h', age_h < 72, '2: 1-3 d',
            age_h < 120, '3: 3-5 d', age_h < 240, '4: 5-10 d',
            '5: > 10 d') AS age_bucket,
    count() AS open_alerts
FROM (
    SELECT dateDiff('second', created_at, now64(3)) / 3600 AS age_h
    FROM bk.alerts FINAL
    WHERE resolved_at IS NULL AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
)
GROUP BY age_bucket
ORDER BY age_bucket
""",
    ("bk-sla", "Open breaches", "A"): """\
SELECT b.breach_id AS breach_id, b.kind AS kind, b.due_at AS due_at,
       round(dateDiff('second', b.due_at, now64(3)) / 3600, 1)
           AS overdue_h,
       b.district AS district, b.station AS station,
       b.operator_id AS operator_id, b.cls AS cls,
       b.severity AS severity, b.alert_id AS alert_id,
       a.state AS alert_state
FROM bk.sla_breaches AS b FINAL
INNER JOIN (
    SELECT alert_id, state FROM bk.alerts FINAL
    WHERE resolved_at IS NULL
) AS a ON b.alert_id = a.alert_id
WHERE b.due_at <= $__toTime
    AND $__conditionalAll(b.district IN (${district:singlequote}),
                          $district)
    AND $__conditionalAll(b.station IN (${station:singlequote}),
                          $station)
ORDER BY b.due_at
LIMIT 200
""",
    ("bk-sla", "Timeliness per station", "A"): """\
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
    )) AS breached,
    round(100 * (alerts - breached) / alerts, 1) AS timely_pct
FROM bk.alerts FINAL
WHERE $__timeFilter(created_at) AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
GROUP BY district, station
ORDER BY timely_pct, district, station
""",
    ("bk-sla", "Alerts raised and resolved", "B"): """\
SELECT $__timeInterval(resolved_at) AS time, count() AS resolved
FROM bk.alerts FINAL
WHERE resolved_at IS NOT NULL AND $__timeFilter(resolved_at)
    AND $__conditionalAll(district IN (${district:singlequote}), $district) AND $__conditionalAll(station IN (${station:singlequote}), $station)
GROUP BY time
ORDER BY time
""",
    # raw-detection panels before bk.detections_minute (0240)
    ("bk-cameras", "Frames analysed per second", "A"): """\
SELECT $__timeInterval(frame_ts) AS time,
       count() / $__interval_s AS frames_per_s
FROM bk.detections
WHERE $__timeFilter(frame_ts) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
GROUP BY time
ORDER BY time
""",
    ("bk-cameras", "Picture quality (median)", "A"): """\
SELECT $__timeInterval(frame_ts) AS time,
       quantile(0.5)(brightness) AS brightness,
       quantile(0.5)(sharpness) AS sharpness
FROM bk.detections
WHERE $__timeFilter(frame_ts) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE district IN (${district:singlequote})), $district) AND $__conditionalAll(camera_id IN (SELECT camera_id FROM bk.cameras FINAL WHERE station IN (${station:singlequote})), $station)
GROUP BY time
ORDER BY time
""",
}

# (rule uid, refId) -> rawSql of the alert rules
RULES: dict[tuple[str, str], str] = {
    ("bk-sla-breaches-open", "A"): """\
SELECT b.kind AS kind, coalesce(b.district, '(unregistered)') AS district,
       count() AS open_breaches
FROM bk.sla_breaches AS b FINAL
WHERE b.alert_id IN (SELECT alert_id FROM bk.alerts FINAL WHERE resolved_at IS NULL)
GROUP BY kind, district""",
    ("bk-district-coverage-low", "A"): """\
SELECT district,
       round(100 * countIf(camera_id NOT IN (
           SELECT camera_id FROM bk.camera_events FINAL
           WHERE kind = 'offline' AND state = 'open'
       )) / count(), 1) AS coverage_pct
FROM bk.cameras FINAL
WHERE active
GROUP BY district""",
}
