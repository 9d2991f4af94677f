"""`brightkitchen demo`, both profiles, as a user runs it (own working dir, no BK_ env).

The default profile must store what it shows; the city profile must report its
lag every 5 s and a verdict, and refuse a fleet the in-memory broker cannot hold.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_replay_cli import cli, query

pytestmark = pytest.mark.e2e


def test_the_default_demo_stores_the_fleet_it_simulates(tmp_path):
    done = cli(tmp_path, "demo", "--cameras", "8", "--minutes", "0.3", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = query(tmp_path, "SELECT uniqExact(camera_id) AS cams, count() AS n FROM bk.detections")
    assert row["cams"] == 8 and row["n"] > 8 * 60  # 18 s at 10x: ~180 frames per camera


def test_the_city_profile_reports_lag_and_a_verdict(tmp_path):
    done = cli(
        tmp_path, "demo", "--profile", "city", "--cameras", "300", "--minutes", "0.25", timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout + done.stderr  # progress goes to stderr
    assert re.search(r"t=\s+5 s\s+publisher behind\s+[\d.]+ s\s+unprocessed\s+[\d,]+", out)
    verdict = re.search(r"Sustained ([\d,]+) records/s end to end = (\d+)% of the offered", out)
    assert verdict, out[-2000:]
    assert "keeps up" in out and "does not keep up" not in out  # 330 records/s is easy
    [row] = query(tmp_path, "SELECT uniqExact(camera_id) AS cams FROM bk.detections")
    assert row["cams"] == 300


def test_the_city_profile_refuses_more_than_the_broker_can_hold(tmp_path):
    done = cli(tmp_path, "demo", "--profile", "city", "--cameras", "100000", "--minutes", "1")
    assert done.returncode == 2
    assert "in-memory bound" in done.stdout + done.stderr


def test_an_unknown_profile_is_named(tmp_path):
    done = cli(tmp_path, "demo", "--profile", "town")
    assert done.returncode == 2 and "'town'" in done.stdout + done.stderr
