"""Camera health end to end through `replay`: every kind is raised once, and the
look-alikes (blips, lights off after closing, IR switch, steam, people crossing)
raise nothing."""

from __future__ import annotations

import pytest

from inference_workers.simulator import FleetConfig, GroundTruth, write_replay
from inference_workers.simulator.scoring import false_alarms_per_camera_day, score_episodes
from tests.e2e.test_replay_cli import query, replay

pytestmark = pytest.mark.e2e
KINDS = {"offline", "frozen", "blurred", "dark", "angle_changed"}
EVENTS_SQL = (
    "SELECT camera_id, kind, toUnixTimestamp64Milli(started_at) / 1000 AS started_at, "
    "toUnixTimestamp64Milli(detected_at) / 1000 AS detected_at, "
    "toUnixTimestamp64Milli(ended_at) / 1000 AS ended_at FROM bk.camera_events FINAL"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("health")
    config = FleetConfig.for_profile("health_stress", cameras=10, duration_s=5400, seed=11)
    feed, truth_path = root / "feed.jsonl", root / "truth.json"
    write_replay(config, feed, truth_path)
    replay(root / "run", feed)
    return config, GroundTruth.load(truth_path), query(root / "run", EVENTS_SQL)


def test_the_scenario_has_every_kind(run):
    _, truth, _ = run
    assert {e["kind"] for e in truth.camera_events} == KINDS


def test_every_camera_event_is_found_once(run):
    config, truth, detected = run
    scores = score_episodes(truth.camera_events, detected, horizon=config.end_ts)
    for kind in KINDS:
        m = scores.per_class[kind]
        assert m.recall == 1.0, (kind, scores.unmatched_truth)
        assert m.precision == 1.0, (kind, scores.false_positive_rows)
        assert m.duplicates == 0, kind


def test_offline_is_decided_within_threshold_plus_ten_seconds(run):
    config, truth, detected = run
    offline = score_episodes(truth.camera_events, detected, horizon=config.end_ts)
    assert max(offline.per_class["offline"].latencies) <= 60 + 10


def test_look_alikes_raise_nothing(run):
    config, truth, detected = run
    alarms = false_alarms_per_camera_day(
        truth.must_not_report,
        detected,
        config.cameras,
        config.duration_s / 3600,
        truth=truth.camera_events,
    )
    assert alarms.total == 0, alarms
