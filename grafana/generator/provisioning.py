"""Grafana provisioning: data sources (read-only ClickHouse user, Prometheus) and the
dashboards provider. Secrets come from the environment at Grafana start-up
(`$__env{...}` / `$__file{...}` are expanded by Grafana, never stored here)."""

from __future__ import annotations

from typing import Any

from grafana.generator.alerting import FOLDER
from grafana.generator.common import CLICKHOUSE, PROMETHEUS


def datasources() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "BrightKitchen ClickHouse",
                "type": CLICKHOUSE["type"],
                "uid": CLICKHOUSE["uid"],
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "host": "$__env{BK_GRAFANA_CLICKHOUSE_HOST}",
                    "port": 8123,
                    "protocol": "http",
                    "secure": False,
                    "username": "$__env{BK_GRAFANA_CLICKHOUSE_USER}",
                    "defaultDatabase": "bk",
                    "dialTimeout": "10",  # plugin 4.5 type-asserts a string
                    "queryTimeout": 60,
                },
                "secureJsonData": {"password": "$__file{/run/secrets/grafana_clickhouse_password}"},
            },
            {
                "name": "BrightKitchen Prometheus",
                "type": PROMETHEUS["type"],
                "uid": PROMETHEUS["uid"],
                "access": "proxy",
                "url": "$__env{BK_GRAFANA_PROMETHEUS_URL}",
                "editable": False,
                "jsonData": {"timeInterval": "15s"},
            },
        ],
    }


def dashboard_provider() -> dict[str, Any]:
    """The boards' folder by title only, like the alert rules' (file provisioning of
    alert rules takes no folder UID; a folderUid here made Grafana create a second
    "BrightKitchen" folder: grafana/grafana#125079). Both resolve to one folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "brightkitchen",
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": "/var/lib/grafana/dashboards/brightkitchen"},
            }
        ],
    }


def files() -> dict[str, tuple[dict[str, Any], str]]:
    return {
        "provisioning/datasources/brightkitchen.yaml": (
            datasources(),
            "Data sources: ClickHouse as the read-only user (infra/clickhouse/grafana_user.sql).",
        ),
        "provisioning/dashboards/brightkitchen.yaml": (
            dashboard_provider(),
            "Dashboards provider: mount grafana/dashboards at options.path.",
        ),
    }
