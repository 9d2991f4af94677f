"""Every Grafana query runs on a real store filled by a real replay.

A small simulated scenario (one camera goes dark for four minutes) is
replayed once by `brightkitchen replay` in its own working directory; this
module then opens that store (chdb, one path per process: closed when the
module ends) and runs every panel query, template-variable query and alert
rule query of the committed JSON/YAML, expanded as Grafana would
(brightkitchen.boards.expand_query), with the variables at "All" and at one
district and station. Tables the lead has not wired yet (alerts, SLA
breaches, operator rates) get a few rows through StoreWriter, so their
queries return data, not just a valid empty result.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import clickhouse_connect
import pytest
import yaml

from brightkitchen.boards import (
    ALL,
    QueryContext,
    data_time_range,
    expand_query,
    is_clickhouse,
    load_dashboard,
    render_board,
    resolve_variables,
    run_panel,
    run_query,
)
from grafana.generator.common import CAMERA_EVENT_KINDS
from schemas.records import Alert, ClassRate, OperatorRate, SlaBreach
from stream_apps.sink.store_writer import StoreWriter

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
RULES = ROOT / "grafana" / "provisioning" / "alerting" / "rules.yaml"
OFFLINE_CAMERA = "cam-00003"


def _cli(*args: str, cwd: Path) -> None:
    # A free port for the stream worker's web server (metrics), so replays
    # running side by side never share one.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BK_STORE_PATH": str(cwd / "store"), "BK_WEB_PORT": str(port)}
    env.pop("BK_KAFKA_BOOTSTRAP", None)
    env.pop("BK_CLICKHOUSE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _with_outage(feed: Path, camera: str, start_s: float, end_s: float) -> None:
    """Drop every frame and status of `camera` in [start_s, end_s) after the feed's start."""
    lines = feed.read_text(encoding="utf-8").splitlines()
    t0 = min(
        json.loads(x)["value"].get("frame_ts", float("inf"))
        for x in lines
        if '"bk.detections.v1"' in x
    )
    kept = []
    for line in lines:
        rec = json.loads(line)
        v = rec["value"]
        t = v.get("frame_ts", v.get("ts"))
        if v.get("camera_id") == camera and t is not None and start_s <= t - t0 < end_s:
            continue
        kept.append(line)
    feed.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _ops_records(client) -> tuple[list[Alert], list[SlaBreach], list[OperatorRate]]:
    """Alerts, breaches and rates consistent with the replayed violations."""
    cams = {
        r[0]: r[1:]
        for r in client.query(
            "SELECT camera_id, kitchen_id, operator_id, district, station FROM bk.cameras FINAL"
        ).result_rows
    }
    rows = client.query(
        "SELECT violation_id, camera_id, cls, severity, toUnixTimestamp64Milli(started_at),"
        " toUnixTimestamp64Milli(detected_at) FROM bk.violations FINAL ORDER BY started_at"
    ).result_rows
    alerts, breaches = [], []
    for i, (vid, cam, cls, severity, started_ms, detected_ms) in enumerate(rows):
        kitchen, operator, district, station = cams.get(cam, (None, None, None, None))
        created = detected_ms / 1000
        resolved = i % 3 == 1
        alerts.append(
            Alert(
                v=1,
                alert_id=f"test-alert-{i}",
                source="violation",
                cls=cls,
                severity=severity,
                state="false_positive" if resolved else "open",
                kitchen_id=kitchen,
                operator_id=operator,
                district=district,
                station=station,
                camera_ids=[cam],
                members=[vid],
                first_started_at=started_ms / 1000,
                created_at=created,
                group_until=started_ms / 1000 + 600,
                updated_at=created + 60,
                revision=1 if resolved else 0,
                verified_at=created + 60 if resolved else None,
                resolved_at=created + 60 if resolved else None,
                resolution="false_positive" if resolved else None,
                last_actor="inspector-1" if resolved else None,
            )
        )
        if not resolved:
            breaches.append(
                SlaBreach(
                    v=1,
                    breach_id=f"test-breach-{i}",
                    alert_id=f"test-alert-{i}",
                    kind="verify_overdue",
                    due_at=created - 3600,  # inside the previewed range
                    alert_created_at=created,
                    state_at_due="open",
                    source="violation",
                    cls=cls,
                    severity=severity,
                    kitchen_id=kitchen,
                    operator_id=operator,
                    district=district,
                    station=station,
                    calendar_covered=True,
                )
            )
    _, newest = data_time_range(client)
    operators = sorted({(o, d, s) for (_, o, d, s) in cams.values()})
    rates = [
        OperatorRate(
            v=1,
            rate_id=f"test-rate-{op}-{window}-{step}",
            operator_id=op,
            district=district,
            station=station,
            window=window,
            window_s=window_s,
            window_start=newest - 600 * step - window_s,
            as_of=newest - 600 * step,
            cameras=2,
            exposure_h=0.6,
            violations=k % 3,
            raw_rate=(k % 3) / 0.6 * 100,
            rate=1.5 + k,
            prior_rate=1.0,
            prior_source="district",
            prior_strength_h=50.0,
            classes=[
                ClassRate(cls="no_hat", violations=k % 3, raw_rate=None, rate=1.0, prior_rate=0.5)
            ],
            sla_breaches={"verify_overdue": k % 2},
            grade="ABCD"[k % 4],
            colour=("green", "yellow", "orange", "red")[k % 4],
            grade_window="7d",
            reason="test",
        )
        for k, (op, district, station) in enumerate(operators)
        for window, window_s in (("24h", 86400.0), ("7d", 604800.0))
        for step in range(3)
    ]
    return alerts, breaches, rates


def _month_records(writer: StoreWriter) -> None:
    """The regulators' loop tables (issue 18): the hand-built month's rows."""
    from brightkitchen import inspections_scenario
    from schemas.records import LOOP_OUTPUT_TOPICS, TOPIC_RECORDS, decode

    _, outputs = inspections_scenario.run_ops()
    for topic in LOOP_OUTPUT_TOPICS:
        records = [decode(TOPIC_RECORDS[topic], o.value) for o in outputs if o.topic == topic]
        assert records, topic
        writer.write(topic, records)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    work = tmp_path_factory.mktemp("grafana-replay")
    _cli(
        "simulate",
        "--cameras",
        "6",
        "--minutes",
        "15",
        "--seed",
        "7",
        "--out",
        str(work / "feed.jsonl"),
        cwd=work,
    )
    _with_outage(work / "feed.jsonl", OFFLINE_CAMERA, 300, 540)
    _cli("replay", "--input", str(work / "feed.jsonl"), cwd=work)
    client = clickhouse_connect.get_client(dsn=f"chdb://{work / 'store'}")
    writer = StoreWriter(client)
    alerts, breaches, rates = _ops_records(client)
    writer.write("bk.alerts.v1", alerts)
    writer.write("bk.sla-breaches.v1", breaches)
    writer.write("bk.operator-rates.v1", rates)
    _month_records(writer)
    yield client, work
    client.close()


def _panels():
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for p in board["panels"]:
            if is_clickhouse(p):
                for t in p["targets"]:
                    yield pytest.param(
                        board["uid"], p, t, id=f"{board['uid']}:{p['id']}{t['refId']}"
                    )


def _context(client, board, area: str) -> QueryContext:
    t_from, t_to = data_time_range(client)
    ctx = QueryContext(time_from=t_from, time_to=t_to, interval_s=60)
    if area == "one":
        district, station = client.query(
            f"SELECT district, station FROM bk.cameras FINAL WHERE camera_id = '{OFFLINE_CAMERA}'"
        ).result_rows[0]
        ctx.variables = {"district": [district], "station": [station]}
    return resolve_variables(client, board, ctx)


def test_the_replay_gave_the_scenario_its_events(store):
    client, _ = store
    assert client.query("SELECT count() FROM bk.violations FINAL").result_rows[0][0] > 0
    offline = client.query(
        "SELECT count() FROM bk.camera_events FINAL"
        f" WHERE kind = 'offline' AND camera_id = '{OFFLINE_CAMERA}'"
    ).result_rows[0][0]
    assert offline == 1


@pytest.mark.parametrize("area", ["all", "one"])
@pytest.mark.parametrize("uid, panel, target", list(_panels()))
def test_every_panel_query_runs_and_returns_its_columns(store, uid, panel, target, area):
    client, _ = store
    board = load_dashboard(uid)
    ctx = _context(client, board, area)
    sql = expand_query(target["rawSql"], ctx)
    columns, _ = run_query(client, sql)
    assert columns == panel["bkColumns"][target["refId"]], sql


def test_variable_queries_cascade_from_district_to_station(store):
    client, _ = store
    board = load_dashboard("bk-operators")
    every = resolve_variables(client, board, QueryContext(0, 1))
    assert len(every.options["district"]) >= 2
    one = resolve_variables(
        client, board, QueryContext(0, 1, variables={"district": [every.options["district"][0]]})
    )
    assert 0 < len(one.options["station"]) < len(every.options["station"])
    assert set(one.options["operator"]) < set(every.options["operator"])


@pytest.mark.parametrize(
    "uid, title",
    [
        ("bk-city", "Top operators"),
        ("bk-city", "Station KPIs (latest day, 30-day rates)"),
        ("bk-operators", "Inspection plan (riskiest first per station)"),
        ("bk-operators", "Monthly full round per station"),
        ("bk-operators", "Licence and health-certificate warnings"),
        ("bk-sla", "Inspections overdue"),
        ("bk-city", "Violations started"),
        ("bk-cameras", "Longest offline"),
        ("bk-cameras", "Coverage per station"),
        ("bk-operators", "Operators by risk"),
        ("bk-operators", "Rates per class"),
        ("bk-sla", "Open breaches"),
        ("bk-sla", "False positives per class"),
    ],
)
def test_panels_of_the_scenario_show_data(store, uid, title):
    client, _ = store
    board = load_dashboard(uid)
    panel = next(p for p in board["panels"] if p["title"] == title)
    result = run_panel(client, panel, _context(client, board, "all"))
    assert result.error is None and result.rows, result.sql


def test_the_offline_camera_tops_the_longest_offline_list(store):
    client, _ = store
    board = load_dashboard("bk-cameras")
    panel = next(p for p in board["panels"] if p["title"] == "Longest offline")
    result = run_panel(client, panel, _context(client, board, "one"))
    assert [r[0] for r in result.rows] == [OFFLINE_CAMERA]
    assert 200 <= result.rows[0][result.columns.index("offline_s")] <= 300


def _rules():
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            yield pytest.param(rule, id=rule["uid"])


@pytest.mark.parametrize("rule", list(_rules()))
def test_alert_rule_queries_return_labels_and_one_value(store, rule):
    client, _ = store
    query = next(d for d in rule["data"] if d["refId"] == "A")
    _, t_to = data_time_range(client)
    span = query["relativeTimeRange"]["from"] - query["relativeTimeRange"]["to"]
    ctx = QueryContext(time_from=t_to - span, time_to=t_to, interval_s=60)
    sql = expand_query(query["model"]["rawSql"], ctx)
    q = client.query(sql)
    columns, rows = run_query(client, sql)
    assert columns[-1] in ("open_breaches", "coverage_pct", "surge")
    for row in rows:
        assert all(isinstance(v, str) for v in row[:-1]), row
        assert isinstance(row[-1], int | float), row
    assert q is not None


def test_coverage_rule_sees_the_district_of_the_offline_camera(store):
    client, _ = store
    rule = next(r.values[0] for r in _rules() if r.values[0]["uid"] == "bk-district-coverage-low")
    sql = expand_query(rule["data"][0]["model"]["rawSql"], QueryContext(0, 1))
    rows = dict(client.query(sql).result_rows)
    districts = client.query("SELECT DISTINCT district FROM bk.cameras FINAL").result_rows
    assert set(rows) == {d for (d,) in districts}
    assert all(0 <= v <= 100 for v in rows.values())


@pytest.mark.parametrize("name", ["city", "bk-cameras", "operators", "sla", "pipeline"])
def test_every_board_renders_to_static_html(store, name):
    client, work = store
    out = render_board(client, name, work / f"{name}.html")
    page = out.read_text(encoding="utf-8")
    assert 'data-status="error"' not in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://', "")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_city_board_preview_renders_in_headless_chromium(store, tmp_path):
    client, work = store
    out = render_board(client, "city", work / "city-chromium.html")
    board = load_dashboard("city")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    dom = done.stdout
    assert dom.count('class="panel"') == len(board["panels"]), done.stderr[-2000:]
    assert dom.count('data-status="ok"') >= 5
    assert "<svg" in dom and "<polyline" in dom and "<table>" in dom
    assert ALL not in dom


def _section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    return page[start : page.index("</section>", start)]


def test_board_preview_draws_the_panels_like_grafana(store):
    """One bar per camera-event kind, one slice per grade, counts as counts."""
    client, work = store
    cameras = render_board(client, "cameras", work / "sem-cameras.html").read_text("utf-8")
    assert _section(cameras, "Open camera events now").count('<rect class="bar"') == len(
        CAMERA_EVENT_KINDS
    )
    operators = render_board(client, "operators", work / "sem-ops.html").read_text("utf-8")
    pie = next(
        p for p in load_dashboard("operators")["panels"] if p["title"] == "Operators per grade"
    )
    ctx = resolve_variables(client, load_dashboard("operators"), QueryContext(0, 4e9))
    _, grade_rows = run_query(client, expand_query(pie["targets"][0]["rawSql"], ctx))
    assert grade_rows, "the store should hold operator grades"
    assert _section(operators, "Operators per grade").count('<rect class="bar"') == len(grade_rows)
    city = render_board(client, "city", work / "sem-city.html").read_text("utf-8")
    timely = _section(city, "Timely disposal")
    alerts = timely.split('data-field="alerts">')[1].split("</span>")[0]
    pct = timely.split('data-field="timely_pct">')[1].split("</span>")[0]
    assert "%" not in alerts and pct.endswith(" %")
