"""Grafana unified alerting: rules on ClickHouse queries, contact points, policy.

Board notifications only: these rules go to the inspectors' chat groups
(DingTalk, WeCom). Paging on-call has one path, Prometheus -> Alertmanager
(infra/prometheus/rules/alerts.yml), so a breach never pages twice.

Each rule's query returns label columns (strings) and one number per row, so
one rule fires one alert instance per district (or kind); the threshold
expression pages when that number crosses the limit.
"""

from __future__ import annotations

from typing import Any

from grafana.generator.common import CLICKHOUSE, dedent_sql, sql_target

FOLDER = "BrightKitchen"
PANELS = {
    # the panel each rule's notification links to (Grafana reads these rule fields)
    "bk-sla-breaches-open": ("bk-sla", 4),  # Open breaches
    "bk-district-coverage-low": ("bk-city", 7),  # Coverage by district
    "bk-violation-surge": ("bk-city", 5),  # Violations started
}
COVERAGE_MIN_PCT = 90

# (uid, title, sql, threshold type, threshold, for, severity, summary)
RULES: list[tuple[str, str, str, str, float, str, str, str]] = [
    (
        "bk-sla-breaches-open",
        "SLA breaches open",
        """
        SELECT b.kind AS kind, coalesce(b.district, '(unregistered)') AS district,
               count() AS open_breaches
        FROM bk.sla_breaches_open AS b FINAL
        WHERE b.alert_id IN (SELECT alert_id FROM bk.alerts_open FINAL)
        GROUP BY kind, district
        """,
        "gt",
        0,
        "0s",
        "critical",
        "{{ $values.B }} alert(s) in {{ $labels.district }} missed their {{ $labels.kind }} "
        "deadline and are still unresolved.",
    ),
    (
        "bk-district-coverage-low",
        "District camera coverage below threshold",
        """
        SELECT district,
               round(100 * countIf(camera_id NOT IN (
                   SELECT camera_id FROM bk.camera_events_open FINAL
                   WHERE kind = 'offline'
               )) / count(), 1) AS coverage_pct
        FROM bk.cameras FINAL
        WHERE active
        GROUP BY district
        """,
        "lt",
        COVERAGE_MIN_PCT,
        "15m",
        "warning",
        "Only {{ $values.B }} % of the cameras of {{ $labels.district }} are online "
        f"(threshold {COVERAGE_MIN_PCT} %).",
    ),
    (
        "bk-violation-surge",
        "Violation surge",
        """
        SELECT if(c.district = '', '(unregistered)', c.district) AS district,
               countIf(v.started_at >= $__toTime - INTERVAL 15 MINUTE) AS recent,
               countIf(v.started_at < $__toTime - INTERVAL 15 MINUTE) / (7 * 24 * 4) AS usual,
               recent / greatest(3 * usual, 5) AS surge
        FROM bk.violations AS v FINAL
        LEFT JOIN (SELECT camera_id, district FROM bk.cameras FINAL) AS c
            ON v.camera_id = c.camera_id
        WHERE v.started_at >= $__toTime - INTERVAL 7 DAY AND v.started_at <= $__toTime
        GROUP BY district
        """,
        "gt",
        1,
        "0s",
        "warning",
        "{{ $labels.district }}: violations in the last 15 min are over 3x the usual "
        "15-min count of the past week (and at least 5).",
    ),
]

# The column of each rule's query that the threshold reads (others are labels
# or intermediate figures, dropped by the SELECT below the rule's query).
VALUE_COLUMN = {
    "bk-sla-breaches-open": ("open_breaches", ["kind", "district"]),
    "bk-district-coverage-low": ("coverage_pct", ["district"]),
    "bk-violation-surge": ("surge", ["district"]),
}


def rule_sql(uid: str, sql: str) -> str:
    """Only label columns and the value column, so each row is one alert instance."""
    value, labels = VALUE_COLUMN[uid]
    if uid != "bk-violation-surge":
        return dedent_sql(sql)
    inner = "\n".join("    " + line for line in dedent_sql(sql).splitlines())
    return f"SELECT {', '.join(labels)}, {value}\nFROM (\n{inner}\n)"


def rule(uid: str, title: str, sql: str, op: str, threshold: float, for_: str, severity: str,
         summary: str) -> dict[str, Any]:  # fmt: skip
    query = sql_target(rule_sql(uid, sql))
    query.pop("datasource")
    return {
        "uid": uid,
        "title": title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 3600, "to": 0},
                "datasourceUid": CLICKHOUSE["uid"],
                "model": {**query, "intervalMs": 60000, "maxDataPoints": 43200},
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "settings": {"mode": "dropNN"},
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": {"type": op, "params": [threshold]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": for_,
        "annotations": {"summary": summary},
        "dashboardUid": PANELS[uid][0],
        "panelId": PANELS[uid][1],
        "labels": {"severity": severity, "team": "food-safety", "service": "brightkitchen"},
        "isPaused": False,
    }


def rules() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "brightkitchen",
                "folder": FOLDER,
                "interval": "1m",
                "rules": [rule(*r) for r in RULES],
            }
        ],
    }


def contact_points() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": "inspectors-dingtalk",
                "receivers": [
                    {
                        "uid": "bk-dingtalk",
                        "type": "dingding",
                        "settings": {
                            "url": "$__env{BK_DINGTALK_WEBHOOK_URL}",
                            "msgType": "markdown",
                            "title": '{{ template "default.title" . }}',
                            "message": '{{ template "default.message" . }}',
                        },
                        "disableResolveMessage": False,
                    }
                ],
            },
            {
                "orgId": 1,
                "name": "inspectors-wecom",
                "receivers": [
                    {
                        "uid": "bk-wecom",
                        "type": "wecom",
                        "settings": {
                            "url": "$__env{BK_WECOM_WEBHOOK_URL}",
                            "msgtype": "markdown",
                            "message": '{{ template "default.message" . }}',
                        },
                        "disableResolveMessage": False,
                    }
                ],
            },
        ],
    }


def policies() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "policies": [
            {
                "orgId": 1,
                "receiver": "inspectors-dingtalk",
                "group_by": ["grafana_folder", "alertname", "district"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {
                        "receiver": "inspectors-dingtalk",
                        "object_matchers": [["team", "=", "food-safety"]],
                        "continue": True,
                    },
                    {
                        "receiver": "inspectors-wecom",
                        "object_matchers": [["team", "=", "food-safety"]],
                    },
                ],
            }
        ],
    }


def files() -> dict[str, tuple[dict[str, Any], str]]:
    return {
        "provisioning/alerting/rules.yaml": (rules(), "Alert rules on ClickHouse queries."),
        "provisioning/alerting/contact-points.yaml": (
            contact_points(),
            "Contact points: the inspectors' DingTalk and WeCom group robots (no paging here).",
        ),
        "provisioning/alerting/policies.yaml": (policies(), "Notification policy tree."),
    }
