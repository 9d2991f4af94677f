"""`brightkitchen grafana push`: publish the committed boards and alerting through Grafana's API.

Where Grafana reads ``grafana/provisioning/`` from disk nothing needs
pushing; this is for a Grafana that is already running (a managed one, or one
whose provisioning folder the team does not control). It sends exactly what
the files hold, through the maintained ``grafana-client`` package:

- every ``grafana/dashboards/*.json`` into the folder ``BrightKitchen``
  (overwriting the previous version), with the boards' hidden
  ``snapshot_base`` constant set to ``BK_SNAPSHOT_PUBLIC_URL`` when it is set;
- every alert rule of ``provisioning/alerting/rules.yaml`` (updated by uid,
  created when new; a new group gets Grafana's default 1 m interval, the
  files' interval), every contact point, and the notification policy tree.

File provisioning interpolates ``$__env{NAME}``; the API does not, so those
are filled in from this process's environment (a missing one is an error that
names it, rather than a webhook posting to an empty URL).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import grafana

GRAFANA_DIR = Path(grafana.__file__).resolve().parent
"""grafana/ of the source checkout, or the installed package data (pip install .)."""
FOLDER_UID = "brightkitchen"
FOLDER_TITLE = "BrightKitchen"
_ENV = re.compile(r"\$__env\{(\w+)\}")


class PushError(RuntimeError):
    """The push could not be done; the message names what is missing."""


@dataclass
class PushReport:
    dashboards: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    contact_points: list[str] = field(default_factory=list)
    policy: bool = False


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            if m.group(1) not in env:
                raise PushError(f"environment variable {m.group(1)} is not set")
            return env[m.group(1)]

        return _ENV.sub(sub, value)
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    return value


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise PushError(f"{path} is missing: run `python -m grafana.generator`")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _upsert(update: Callable, create: Callable, uid: str, body: dict) -> None:
    """Update the object with ``uid``; create it when Grafana does not know it (404)."""
    try:
        update(uid, body)
    except Exception as exc:
        if "404" not in str(exc) and "not found" not in str(exc).lower():
            raise
        create(body)


def with_snapshot_base(board: dict[str, Any], base: str | None) -> dict[str, Any]:
    """``board`` with its ``snapshot_base`` constant set to ``base`` (if it has one)."""
    if not base:
        return board
    for var in board.get("templating", {}).get("list", []):
        if var.get("name") == "snapshot_base" and var.get("type") == "constant":
            var["query"] = base
            var["current"] = {"text": base, "value": base}
            var["options"] = [{"selected": True, "text": base, "value": base}]
    return board


def push(
    api: Any,
    grafana_dir: Path = GRAFANA_DIR,
    env: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda s: None,
    snapshot_base: str | None = None,
) -> PushReport:
    """Push boards, rules, contact points and policies with a ``GrafanaApi``.
    ``snapshot_base`` is BK_SNAPSHOT_PUBLIC_URL (evidence image links)."""
    env = dict(os.environ) if env is None else env
    report = PushReport()
    try:
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        progress(f"created folder {FOLDER_TITLE}")
    except Exception as exc:  # already there: Grafana answers 409/412
        if "409" not in str(exc) and "412" not in str(exc) and "exists" not in str(exc):
            raise
    for path in sorted((grafana_dir / "dashboards").glob("*.json")):
        board = with_snapshot_base(json.loads(path.read_text(encoding="utf-8")), snapshot_base)
        board.pop("id", None)
        api.dashboard.update_dashboard(
            {"dashboard": board, "folderUid": FOLDER_UID, "overwrite": True}
        )
        report.dashboards.append(board["uid"])
        progress(f"dashboard {board['uid']}")
    alerting = grafana_dir / "provisioning" / "alerting"
    rules = _interpolate(_load_yaml(alerting / "rules.yaml"), env)
    for group in rules.get("groups", []):
        for rule in group["rules"]:
            body = {**rule, "folderUID": FOLDER_UID, "ruleGroup": group["name"]}
            body["orgID"] = group.get("orgId", 1)
            _upsert(
                api.alertingprovisioning.update_alertrule,
                api.alertingprovisioning.create_alertrule,
                rule["uid"],
                body,
            )
            report.rules.append(rule["uid"])
            progress(f"alert rule {rule['uid']}")
    points = _interpolate(_load_yaml(alerting / "contact-points.yaml"), env)
    for point in points.get("contactPoints", []):
        for receiver in point["receivers"]:
            body = {**receiver, "name": point["name"]}
            _upsert(
                api.alertingprovisioning.update_contactpoint,
                api.alertingprovisioning.create_contactpoint,
                receiver["uid"],
                body,
            )
            report.contact_points.append(receiver["uid"])
            progress(f"contact point {receiver['uid']}")
    policies = _interpolate(_load_yaml(alerting / "policies.yaml"), env).get("policies", [])
    if policies:
        tree = {k: v for k, v in policies[0].items() if k != "orgId"}
        api.alertingprovisioning.set_notification_policy_tree(tree)
        report.policy = True
        progress("notification policy tree")
    return report
