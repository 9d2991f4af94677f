"""`brightkitchen replay` of alerts verified on time, late, never, and rectified
across the 2026 golden week gives exactly the expected SLA breaches, though
after the first morning the camera sends only heartbeats."""

from __future__ import annotations

import pytest

from brightkitchen import sla_scenario
from tests.e2e.test_replay_cli import query, replay

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Frames stop after the third episode: eleven days of heartbeats only after
    that, which move the clock as frames do (DESIGN principle 2)."""
    root = tmp_path_factory.mktemp("sla")
    feed = root / "sla.jsonl"
    sla_scenario.write(feed, frames_for_s=4 * sla_scenario.HOUR)
    replay(root / "run", feed)
    return root / "run"


def test_exactly_the_expected_breaches_are_stored(run):
    rows = query(run, "SELECT cls, kind FROM bk.sla_breaches FINAL")
    got: dict[str, set[str]] = {}
    for r in rows:
        got.setdefault(r["cls"], set()).add(r["kind"])
    assert got == sla_scenario.EXPECTED_BREACHES
    assert len(rows) == sum(len(kinds) for kinds in sla_scenario.EXPECTED_BREACHES.values())


def test_rectification_is_due_on_the_third_working_day_after_the_holiday(run):
    [row] = query(
        run,
        "SELECT due_at FROM bk.sla_breaches FINAL "
        "WHERE cls = 'no_hat' AND kind = 'rectify_overdue'",
    )
    # Raised 30 Sep; 1-7 Oct off; 8, 9 and Saturday 10 Oct (make-up) are working days.
    assert row["due_at"] == "2026-10-10 16:00:00.000"  # 24:00 Beijing time


def test_dispositions_moved_the_alerts(run):
    rows = query(run, "SELECT cls, state FROM bk.alerts FINAL ORDER BY cls")
    assert rows == [
        {"cls": "no_hat", "state": "open"},
        {"cls": "phone_use", "state": "rectified"},
        {"cls": "smoking", "state": "rectified"},
    ]


def test_the_operator_is_graded_from_its_breaches(run):
    [row] = query(
        run,
        "SELECT grade, colour, reason FROM bk.operator_rates FINAL "
        "WHERE window = '30d' ORDER BY as_of DESC LIMIT 1",
    )
    assert row["grade"] == "C" and row["colour"] == "orange"
    assert "escalated" in row["reason"]


def test_the_heartbeats_kept_the_camera_alive_and_nothing_was_refused(run):
    """No frame came for eleven days, yet the breaches above are all there (the
    clock reached the end of the input); the camera was streaming all along."""
    assert query(run, "SELECT kind FROM bk.camera_events FINAL") == []
    assert query(run, "SELECT count() AS n FROM bk.dead_letters") == [{"n": 0}]
