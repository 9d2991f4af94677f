"""The committed Grafana JSON/YAML is exactly what grafana/generator generates, and is coherent."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    assert types == {"webhook", "dingding", "wecom"}
    policy = yaml.safe_load((alerting / "policies.yaml").read_text())["policies"][0]
    names = {p["name"] for p in points}
    assert policy["receiver"] in names
    assert {r["receiver"] for r in policy["routes"]} <= names
    assert policy["group_by"] and policy["repeat_interval"]
