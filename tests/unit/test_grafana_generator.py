"""The committed Grafana JSON/YAML is exactly what grafana/generator generates, and is coherent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from grafana.generator import dashboards, drift, generated_files

ROOT = Path(__file__).resolve().parents[2]
BUSINESS = ("bk-city", "bk-cameras", "bk-operators", "bk-sla")


def test_committed_files_match_the_generator():
    assert drift() == [], "run `python -m grafana.generator` and commit the result"


def test_every_generated_file_parses():
    for rel, text in generated_files().items():
        doc = json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)
        assert doc, rel


def test_business_boards_filter_by_city_district_and_station():
    boards = dashboards()
    for uid in BUSINESS:
        names = [v["name"] for v in boards[uid]["templating"]["list"]]
        assert names[:3] == ["city", "district", "station"], uid
        station = boards[uid]["templating"]["list"][2]
        assert "bk.cameras" in station["query"] and "$district" in station["query"]


def test_every_clickhouse_query_declares_the_columns_its_panel_reads():
    for uid, board in dashboards().items():
        for panel in board["panels"]:
            if panel["datasource"]["type"] != "grafana-clickhouse-datasource":
                continue
            refs = {t["refId"] for t in panel["targets"]}
            assert set(panel["bkColumns"]) == refs, (uid, panel["title"])


def test_panel_ids_and_grid_positions_are_unique_per_board():
    for uid, board in dashboards().items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), uid
        cells = set()
        for p in board["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, (uid, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, (uid, p["title"])
                    cells.add((x, y))


def test_drill_down_links_point_at_boards_that_exist():
    boards = dashboards()
    links = re.findall(r'"/d/([\w-]+)/', json.dumps(boards))
    assert links, "the business boards link to their drill-downs"
    assert set(links) <= set(boards)


def test_the_datasource_carries_no_secret():
    text = (ROOT / "grafana/provisioning/datasources/brightkitchen.yaml").read_text()
    ds = yaml.safe_load(text)["datasources"][0]
    assert ds["secureJsonData"]["password"].startswith("$__file{")
    assert ds["jsonData"]["username"].startswith("$__env{")


def test_alerting_has_rules_contact_points_and_a_policy():
    alerting = ROOT / "grafana/provisioning/alerting"
    rules = yaml.safe_load((alerting / "rules.yaml").read_text())["groups"][0]["rules"]
    assert {r["title"] for r in rules} == {
        "SLA breaches open",
        "District camera coverage below threshold",
        "Violation surge",
    }
    points = yaml.safe_load((alerting / "contact-points.yaml").read_text())["contactPoints"]
    types = {r["type"] for p in points for r in p["receivers"]}
    assert types == {"dingding", "wecom"}  # no on-call: paging is Alertmanager's
    policy = yaml.safe_load((alerting / "policies.yaml").read_text())["policies"][0]
    names = {p["name"] for p in points}
    assert policy["receiver"] in names
    assert {r["receiver"] for r in policy["routes"]} <= names
    assert policy["group_by"] and policy["repeat_interval"]


def _board(uid: str) -> dict:
    return json.loads((ROOT / f"grafana/dashboards/{uid}.json").read_text(encoding="utf-8"))


def _panel(uid: str, title: str) -> dict:
    return next(p for p in _board(uid)["panels"] if p["title"] == title)


def test_known_grafana_defects_stay_fixed():
    ds = yaml.safe_load((ROOT / "grafana/provisioning/datasources/brightkitchen.yaml").read_text())[
        "datasources"
    ]
    ch = next(d for d in ds if d["type"] == "grafana-clickhouse-datasource")
    assert isinstance(ch["jsonData"]["dialTimeout"], str)  # plugin 4.5 type-asserts a string
    for uid, title, field in (
        ("bk-cameras", "Open camera events now", "open_events"),
        ("bk-operators", "Operators per grade", "operators"),
    ):
        reduce = _panel(uid, title)["options"]["reduceOptions"]
        assert reduce["values"] is True and reduce["fields"] == f"/^{field}$/", title
    timely = _panel("bk-city", "Timely disposal")["fieldConfig"]
    assert timely["defaults"].get("unit") != "percent"  # counts are counts
    [pct] = [o for o in timely["overrides"] if o["matcher"]["options"] == "timely_pct"]
    assert {"id": "unit", "value": "percent"} in pct["properties"]
    matrix = _panel("bk-city", "Open violations by class and district")["transformations"]
    assert matrix[0]["id"] == "groupingToMatrix"
    rules = yaml.safe_load((ROOT / "grafana/provisioning/alerting/rules.yaml").read_text())
    links = set()
    for rule in rules["groups"][0]["rules"]:
        assert "dashboardUId" not in rule["annotations"] and "panelId" not in rule["annotations"]
        ids = {p["id"] for p in _board(rule["dashboardUid"])["panels"]}
        assert rule["panelId"] in ids, rule["uid"]
        links.add((rule["dashboardUid"], rule["panelId"]))
    assert len(links) == len(rules["groups"][0]["rules"])  # each rule its own panel


def test_every_board_and_rule_round_trips_through_the_grafana_foundation_sdk():
    sdk = pytest.importorskip("grafana_foundation_sdk")
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.alerting import Rule
    from grafana_foundation_sdk.models.dashboard import Dashboard

    assert sdk
    for path in sorted((ROOT / "grafana/dashboards").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        typed = json.loads(JSONEncoder().encode(Dashboard.from_json(raw)))
        assert typed["uid"] == raw["uid"] and typed["title"] == raw["title"]
        assert len(typed["panels"]) == len(raw["panels"]), path.name
        for before, after in zip(raw["panels"], typed["panels"], strict=True):
            assert (after["type"], after["title"]) == (before["type"], before["title"])
            assert after.get("options", {}) == before.get("options", {}), before["title"]
            assert after.get("transformations", []) == before.get("transformations", [])
            for t0, t1 in zip(before["targets"], after["targets"], strict=True):
                assert t1.get("rawSql", t1.get("expr")) == t0.get("rawSql", t0.get("expr"))
    rules = yaml.safe_load((ROOT / "grafana/provisioning/alerting/rules.yaml").read_text())
    for rule in rules["groups"][0]["rules"]:
        typed = json.loads(JSONEncoder().encode(Rule.from_json(rule)))
        assert typed["uid"] == rule["uid"] and typed["condition"] == rule["condition"]


def test_boards_and_rules_share_one_folder_by_title():
    """File provisioning of alert rules takes a folder title, never a UID; a
    dashboards provider with a folderUid made Grafana create the folder twice
    (grafana/grafana#125079)."""
    import yaml

    root = Path(__file__).resolve().parents[2] / "grafana" / "provisioning"
    [provider] = yaml.safe_load((root / "dashboards" / "brightkitchen.yaml").read_text())[
        "providers"
    ]
    rules = yaml.safe_load((root / "alerting" / "rules.yaml").read_text())
    assert "folderUid" not in provider
    assert {g["folder"] for g in rules["groups"]} == {provider["folder"]}
