"""Episode scoring against ground truth, on hand-built cases."""

from __future__ import annotations

import pytest

from inference_workers.simulator.scoring import (
    false_alarms_per_camera_day,
    merge_truth,
    percentile,
    score_episodes,
)
from schemas.records import Evidence, Violation

T = 1_793_577_600.0


def truth(start, end, cls="no_hat", camera="cam-1"):
    return {
        "camera_id": camera,
        "cls": cls,
        "start": T + start,
        "end": None if end is None else T + end,
    }


def det(started, ended, detected=None, cls="no_hat", camera="cam-1"):
    return {
        "camera_id": camera,
        "cls": cls,
        "started_at": T + started,
        "detected_at": T + (started + 5 if detected is None else detected),
        "ended_at": None if ended is None else T + ended,
    }


def test_a_perfect_detection_scores_one_with_its_latency():
    s = score_episodes([truth(100, 400)], [det(102, 398, detected=110)])
    m = s.per_class["no_hat"]
    assert (m.precision, m.recall, m.duplicates, m.false_positives) == (1.0, 1.0, 0, 0)
    assert m.latency_p50 == pytest.approx(10.0)
    assert m.start_err_p50 == pytest.approx(2.0) and m.end_err_p50 == pytest.approx(2.0)
    assert s.overall.recall == 1.0


def test_a_missed_episode_lowers_recall_only():
    s = score_episodes([truth(100, 400), truth(1000, 1200)], [det(100, 400)])
    m = s.per_class["no_hat"]
    assert m.recall == 0.5 and m.precision == 1.0
    assert s.unmatched_truth[0]["start"] == T + 1000


def test_a_second_episode_for_one_truth_is_a_duplicate_not_a_false_positive():
    s = score_episodes([truth(100, 400)], [det(100, 200), det(300, 400)])
    m = s.per_class["no_hat"]
    assert (m.duplicates, m.false_positives, m.precision, m.recall) == (1, 0, 1.0, 1.0)
    assert m.duplicates_per_episode == 1.0
    assert m.end_err_p50 == pytest.approx(0.0)  # the last duplicate's end counts


def test_a_detection_far_from_any_truth_is_a_false_positive():
    s = score_episodes([truth(100, 400)], [det(100, 400), det(2000, 2050)])
    m = s.per_class["no_hat"]
    assert m.false_positives == 1 and m.precision == 0.5 and m.recall == 1.0


def test_a_detection_of_another_class_or_camera_does_not_match():
    s = score_episodes(
        [truth(100, 400)], [det(100, 400, cls="no_mask"), det(100, 400, camera="c2")]
    )
    assert s.per_class["no_hat"].recall == 0.0
    assert s.overall.false_positives == 2


def test_truth_episodes_closer_than_the_merge_gap_are_one():
    s = score_episodes([truth(100, 200), truth(230, 400)], [det(100, 400)], merge_gap_s=60)
    m = s.per_class["no_hat"]
    assert (m.truth, m.recall, m.duplicates) == (1, 1.0, 0)
    assert merge_truth([(0, 10), (80, 90)], 60) == [(0, 10), (80, 90)]
    assert merge_truth([(0, 10), (30, None), (100, 120)], 60) == [(0, None)]


def test_an_episode_open_at_the_end_matches_without_an_end_error():
    s = score_episodes([truth(100, 7000)], [det(110, None)], horizon=T + 7200)
    m = s.per_class["no_hat"]
    assert m.recall == 1.0 and m.open_at_end == 1 and m.end_err_p50 is None


def test_a_truth_that_lasts_matches_a_later_close():
    events = [{"camera_id": "cam-1", "kind": "angle_changed", "start": T + 100, "end": None}]
    found = [{"camera_id": "cam-1", "kind": "angle_changed", "started_at": T + 130,
              "detected_at": T + 400, "ended_at": T + 900}]  # fmt: skip
    m = score_episodes(events, found).per_class["angle_changed"]
    assert m.recall == 1.0 and m.latency_p50 == pytest.approx(300.0)


def test_tolerance_lets_a_slightly_late_detection_match():
    assert score_episodes([truth(100, 110)], [det(130, 150)], tolerance_s=30).overall.recall == 1
    assert score_episodes([truth(100, 110)], [det(130, 150)], tolerance_s=5).overall.recall == 0


def test_records_from_the_wire_can_be_scored_directly():
    v = Violation(
        v=1, violation_id="x", camera_id="cam-1", operator_id=None, cls="rodent",
        severity="critical", state="closed", started_at=T + 10, detected_at=T + 12,
        ended_at=T + 20, peak_score=0.9, frames=3,
        evidence=Evidence(frame_ts=T + 10, box=(0, 0, 1, 1)),
    )  # fmt: skip
    s = score_episodes([truth(10, 20, cls="rodent")], [v])
    assert s.per_class["rodent"].latency_p50 == pytest.approx(2.0)


def test_false_alarms_count_events_on_look_alikes_per_camera_day():
    mnr = [
        {"camera_id": "cam-1", "kind": "offline", "start": T + 100, "end": T + 130},
        {"camera_id": "cam-2", "kind": "dark", "start": T + 0, "end": T + 3600},
    ]
    real = [{"camera_id": "cam-2", "kind": "dark", "start": T + 3000, "end": T + 3500}]
    found = [
        {"camera_id": "cam-1", "kind": "offline", "started_at": T + 100, "ended_at": T + 131},
        {"camera_id": "cam-1", "kind": "offline", "started_at": T + 5000, "ended_at": T + 5100},
        {"camera_id": "cam-2", "kind": "dark", "started_at": T + 3010, "ended_at": T + 3490},
        {"camera_id": "cam-2", "kind": "blurred", "started_at": T + 10, "ended_at": None},
    ]
    fa = false_alarms_per_camera_day(mnr, found, cameras=4, hours=12, truth=real)
    assert fa.camera_days == 2.0
    assert fa.counts == {"dark": 0, "offline": 1}
    assert fa.total == 1 and fa.total_per_camera_day == 0.5


def test_percentiles_interpolate():
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
