"""Evidence snapshots as links a browser opens (BK_SNAPSHOT_PUBLIC_URL): the rule,
its ClickHouse twin on the operators board, the board preview and `grafana push`."""

from __future__ import annotations

import string
from urllib.parse import unquote, urlsplit

import clickhouse_connect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brightkitchen.boards import QueryContext, expand_query, render_board, resolve_variables
from brightkitchen.boards.fields import cell_link
from brightkitchen.grafana_push import with_snapshot_base
from clickhouse.migrate import migrate
from grafana.generator import dashboards
from inference_workers.snapshot_links import snapshot_link, snapshot_link_sql
from schemas.records import TOPIC_VIOLATIONS, Evidence, Violation
from stream_apps.sink.store_writer import StoreWriter

BASE = "https://evidence.city.example/s3"
HOSTILE_KEYS = [
    "bk/厨房 1/2026-12-01/1793577600000-7.jpg",
    "a b/c#d?e=f&g/%41%/+plus/~tilde_.-/x.jpg",
    "quote'and\"double\\back/tab\tnew\nline.jpg",
    "emoji 🐀/ünïcödé/ＦＵＬＬＷＩＤＴＨ.jpg",
    "double//slash//",
    "javascript:alert(1)/<script>.jpg",
]


def test_an_s3_uri_becomes_a_path_style_link_under_the_base():
    assert snapshot_link("s3://evidence/bk/cam-1/2026-12-01/1-0.jpg", BASE) == (
        f"{BASE}/evidence/bk/cam-1/2026-12-01/1-0.jpg"
    )


def test_a_base_with_a_trailing_slash_gets_no_second_one():
    assert snapshot_link("s3://b/k.jpg", BASE + "/") == f"{BASE}/b/k.jpg"


@pytest.mark.parametrize(
    ("uri", "base"),
    [
        ("file:///srv/bk-data/snapshots/cam-1/2026-12-01/1-0.jpg", BASE),  # embedded default
        ("s3://evidence/bk/cam-1/1-0.jpg", None),  # no base configured
        ("s3://evidence/bk/cam-1/1-0.jpg", ""),
        ("gs://evidence/k.jpg", BASE),  # a scheme the rule does not know
        ("s3://bucket-only", BASE),  # no key
        ("s3:///no-bucket.jpg", BASE),
        (None, BASE),
    ],
)
def test_other_uris_and_a_missing_base_leave_the_uri_unchanged(uri, base):
    assert snapshot_link(uri, base) == uri


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_percent_encoded_segment_by_segment(key):
    link = snapshot_link(f"s3://evidence/{key}", "https://cdn.example")
    assert all(c in string.ascii_letters + string.digits + "%/:.-_~" for c in link), link
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == (
        "https",
        "cdn.example",
        "",
        "",
    )
    assert unquote(parts.path) == f"/evidence/{key}"


KEY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


@given(bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True), key=KEY_TEXT)
def test_any_key_round_trips_through_the_link(bucket, key):
    link = snapshot_link(f"s3://{bucket}/{key}", "http://minio:9000/")
    parts = urlsplit(link)
    assert link.isascii() and " " not in link
    assert parts.netloc == "minio:9000" and not parts.query and not parts.fragment
    assert unquote(parts.path) == f"/{bucket}/{key}"


# --- the ClickHouse twin and the boards (real embedded store) -----------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"  # one chdb path per process
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    c.command("DROP DATABASE IF EXISTS bk SYNC")
    migrate(c)
    yield c
    c.close()


def sql_links(client, uris: list[str], base: str) -> list[str]:
    expr = snapshot_link_sql("u", "{b:String}")
    rows = client.query(
        f"SELECT {expr} FROM (SELECT arrayJoin({{us:Array(String)}}) AS u)",
        parameters={"us": uris, "b": base},
    ).result_rows
    return [r[0] for r in rows]


def test_the_board_sql_gives_the_links_of_the_python_rule(client):
    uris = [f"s3://evidence/{k}" for k in HOSTILE_KEYS] + [
        "file:///srv/x y.jpg",
        "s3://bucket-only",
        "gs://b/k",
    ]
    for base in (BASE, BASE + "/", ""):
        assert sql_links(client, uris, base) == [snapshot_link(u, base) for u in uris]


@settings(max_examples=15, deadline=None)
@given(keys=st.lists(KEY_TEXT.filter(lambda k: "\x00" not in k), min_size=1, max_size=20))
def test_the_board_sql_agrees_on_generated_keys(client, keys):
    uris = [f"s3://b/{k}" for k in keys]
    assert sql_links(client, uris, BASE) == [snapshot_link(u, BASE) for u in uris]


T0 = 1_793_577_600.0
S3_URI = "s3://evidence/bk/厨房 1/2026-12-01/1793577600000-7.jpg"


@pytest.fixture(scope="module")
def violation(client):
    v = Violation(
        v=1,
        violation_id="v-snap-link",
        camera_id="厨房 1",
        operator_id="op-1",
        cls="rodent",
        severity="critical",
        state="open",
        started_at=T0,
        detected_at=T0 + 2,
        ended_at=None,
        peak_score=0.9,
        frames=3,
        evidence=Evidence(frame_ts=T0 + 1, box=(0.1, 0.1, 0.2, 0.2), snapshot=S3_URI),
    )
    StoreWriter(client).write(TOPIC_VIOLATIONS, [v])
    return v


def violations_panel(board):
    return next(p for p in board["panels"] if p["title"] == "Violations of the selected operators")


@pytest.mark.parametrize("base", [BASE, ""])
def test_the_generated_operators_board_links_the_evidence_image(client, violation, base):
    board = dashboards(snapshot_base=base)["bk-operators"]
    p = violations_panel(board)
    assert "evidence_image" in p["bkColumns"]["A"]
    [link] = p["fieldConfig"]["overrides"][-1]["properties"][0]["value"]
    assert link["url"] == "${__value.raw}"
    ctx = resolve_variables(client, board, QueryContext(T0 - 3600, T0 + 3600))
    q = client.query(expand_query(p["targets"][0]["rawSql"], ctx))
    rows = [dict(zip(q.column_names, r, strict=True)) for r in q.result_rows]
    [row] = [r for r in rows if r["violation_id"] == violation.violation_id]
    assert row["evidence_image"] == snapshot_link(S3_URI, base)
    if base:
        assert row["evidence_image"].startswith(f"{BASE}/evidence/bk/%E5%8E%A8%E6%88%BF%201/")


def test_the_board_preview_links_an_s3_snapshot_under_the_base(client, violation, tmp_path):
    page = render_board(client, "operators", tmp_path / "ops.html", snapshot_base=BASE)
    page = page.read_text(encoding="utf-8")
    href = snapshot_link(S3_URI, BASE)
    assert f'<a href="{href}">{href}</a>' in page
    assert "snapshot_base" not in page  # a hidden constant is not shown as a selection


def test_without_a_base_the_preview_shows_the_s3_uri_as_text(client, violation, tmp_path):
    page = render_board(client, "operators", tmp_path / "ops.html").read_text(encoding="utf-8")
    assert f"<td>{S3_URI}</td>" in page and 'href="s3:' not in page


def test_the_preview_follows_only_http_and_file_links():
    p = violations_panel(dashboards()["bk-operators"])
    assert cell_link(p, "evidence_image", "file:///srv/a.jpg") == "file:///srv/a.jpg"
    assert cell_link(p, "evidence_image", "javascript:alert(1)") is None
    assert cell_link(p, "evidence_image", "s3://b/k") is None
    assert cell_link(p, "violation_id", "https://x.example/") is None  # no link on that column


def test_grafana_push_sets_the_boards_snapshot_base():
    board = with_snapshot_base(dashboards()["bk-operators"], BASE)
    [var] = [v for v in board["templating"]["list"] if v["name"] == "snapshot_base"]
    assert var["type"] == "constant" and var["current"]["value"] == var["query"] == BASE
    assert with_snapshot_base(dashboards()["bk-operators"], None) == dashboards()["bk-operators"]
