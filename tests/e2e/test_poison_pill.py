"""The poison-pill feed: one camera sending 150 frames one day apart, plus a normal
feed. `brightkitchen replay` exits 0, every normal frame is stored, and each of the
poison camera's frames is either stored or dead-lettered with a reason, never both
(the camera app dead-letters frames far ahead of its partition's clock, and the
sink never stores a dead-lettered frame as if valid)."""

from __future__ import annotations

import pytest

from tests.e2e.test_replay_cli import CAMERAS, frame, query, registry, replay, scenario, write

pytestmark = pytest.mark.e2e
DAY = 86_400


def test_the_poison_pill_feed_replays_to_exit_0_with_normal_rows_stored(tmp_path):
    normal = scenario(seconds=300)
    poison = [registry("cam-poison")] + [frame("cam-poison", i * DAY, []) for i in range(150)]
    # Interleave: the poison frames arrive among the normal ones.
    lines = normal[: len(CAMERAS)] + poison[:1]
    rest, bad = normal[len(CAMERAS) :], poison[1:]
    step = len(rest) // len(bad)
    for i, line in enumerate(rest):
        lines.append(line)
        if i % step == 0 and bad:
            lines.append(bad.pop(0))
    lines += bad
    feed = write(tmp_path / "feed.jsonl", lines)
    replay(tmp_path / "run", feed)
    stored = query(
        tmp_path / "run",
        "SELECT camera_id, count() AS n FROM bk.detections FINAL GROUP BY camera_id "
        "ORDER BY camera_id",
    )
    counts = {r["camera_id"]: int(r["n"]) for r in stored}
    for camera in CAMERAS:
        assert counts[camera] == 300, counts
    letters = query(
        tmp_path / "run",
        "SELECT `offset`, reason FROM bk.dead_letters FINAL "
        "WHERE source_topic = 'bk.detections.v1' AND key = 'cam-poison'",
    )
    assert all(r["reason"] for r in letters)
    assert counts.get("cam-poison", 0) + len(letters) == 150, (counts, len(letters))
    assert len(letters) >= 100  # a day ahead of the clock: dead-lettered, not stored
    quarantined = query(tmp_path / "run", "SELECT count() AS n FROM bk.quarantine")
    assert int(quarantined[0]["n"]) == 0  # nothing the store refused
