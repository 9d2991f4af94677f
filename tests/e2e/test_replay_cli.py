"""`brightkitchen replay` and `query` end to end: real Tansu, real chdb, real Faust worker.

Each replay runs the CLI in its own working directory, so each has its own
embedded broker and store, exactly as a user runs it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC
CAMERAS = [f"cam-{i}" for i in range(6)]
SIG = [0.125] * 32 + [-0.125] * 32


def registry(camera: str) -> dict:
    return {
        "topic": "bk.registry.v1",
        "key": camera,
        "value": {
            "v": 1,
            "camera_id": camera,
            "kitchen_id": "k-1",
            "operator_id": "op-1",
            "operator_name": "Canteen One",
            "district": "Hexi",
            "station": "Youyi Road",
            "opening_hours": [["06:00", "22:00"]],
            "timezone": "Asia/Shanghai",
            "active": True,
        },
    }


def frame(camera: str, t: int, classes: list[str]) -> dict:
    # A live picture: sensor noise on every quality value (an unchanging one is "frozen").
    noise = random.Random(f"{camera}/{t}")
    signature = [x + noise.gauss(0, 0.003) for x in SIG]
    x = 0.1 + 0.02 * (t % 7)
    return {
        "topic": "bk.detections.v1",
        "key": camera,
        "value": {
            "v": 1,
            "camera_id": camera,
            "frame_ts": T0 + t,
            "seq": t,
            "worker_id": "w-1",
            "model": "test-yolo",
            "width": 640,
            "height": 480,
            "quality": {
                "brightness": 0.5 + noise.gauss(0, 0.01),
                "sharpness": 120.0 + noise.gauss(0, 5),
                "signature": signature,
            },
            # People and rodents move: the box travels 2 % of the frame a second (a box
            # that never moves is a stationary look-alike to the violation engine).
            "detections": [
                {"cls": c, "score": 0.8, "box": [x, 0.1, x + 0.2, 0.4]} for c in classes
            ],
        },
    }


# (camera, class, start, end): true episodes, with flicker applied below.
EPISODES = [
    ("cam-0", "no_hat", 100, 260),
    ("cam-1", "rodent", 300, 306),
    ("cam-2", "smoking", 200, 320),
    ("cam-2", "smoking", 500, 600),
    ("cam-4", "no_mask", 50, 400),
]


def scenario(seconds: int = 720, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    lines = [registry(c) for c in CAMERAS]
    for t in range(seconds):
        for cam in CAMERAS:
            classes = [
                cls
                for (c, cls, start, end) in EPISODES
                if c == cam and start <= t < end and (cls == "rodent" or rng.random() < 0.75)
            ]
            lines.append(frame(cam, t, classes))
    return lines


def write(path: Path, lines: list[dict], extra: list[bytes] = ()) -> Path:
    with path.open("wb") as f:
        for i, line in enumerate(lines):
            f.write(json.dumps(line).encode() + b"\n")
            if i == len(lines) // 2:
                for raw in extra:
                    f.write(raw + b"\n")
    return path


def cli(workdir: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    return subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def replay(workdir: Path, input_file: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    done = cli(workdir, "replay", "--input", str(input_file))
    assert done.returncode == 0, done.stderr[-3000:]


def query(workdir: Path, sql: str) -> list[dict]:
    done = cli(workdir, "query", sql)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


VIOLATIONS_SQL = (
    "SELECT violation_id, camera_id, operator_id, cls, severity, state, started_at, "
    "detected_at, ended_at, peak_score, frames FROM bk.violations FINAL "
    "ORDER BY camera_id, started_at"
)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("baseline")
    bad = [
        b'{"topic": "bk.detections.v1", "key": "cam-3", "value": {"v": 1, "camera_id": "cam-3"}}',
        b'{"topic": "bk.detections.v1", "key": "cam-3", "value": "not an object"}',
    ]
    input_file = write(root / "feed.jsonl", scenario(), extra=bad)
    replay(root / "run", input_file)
    return root, query(root / "run", VIOLATIONS_SQL)


def test_each_true_episode_is_stored_once_and_closed(baseline):
    _, rows = baseline
    got = [(r["camera_id"], r["cls"], r["state"]) for r in rows]
    assert got == [
        ("cam-0", "no_hat", "closed"),
        ("cam-1", "rodent", "closed"),
        ("cam-2", "smoking", "closed"),
        ("cam-2", "smoking", "closed"),
        ("cam-4", "no_mask", "closed"),
    ]
    assert {r["operator_id"] for r in rows} == {"op-1"}
    assert rows[1]["severity"] == "critical"


def test_episode_times_are_on_event_time(baseline):
    _, rows = baseline
    no_hat = rows[0]
    assert no_hat["started_at"].startswith("2026-11-02 00:01:")  # t=100..105 s
    assert no_hat["ended_at"] >= "2026-11-02 00:04:1"  # last presence near t=259
    assert no_hat["detected_at"] > no_hat["started_at"]


def test_malformed_records_go_to_the_dlq_and_the_stream_keeps_going(baseline):
    root, rows = baseline
    letters = query(
        root / "run", "SELECT reason, source_topic, partition, offset FROM bk.dead_letters"
    )
    assert len(letters) == 2
    assert all(r["source_topic"] == "bk.detections.v1" for r in letters)
    assert any("camera_id" not in r["reason"] and "missing" in r["reason"] for r in letters)
    # Episodes after the bad records (cam-2's second one starts at t=500) were still found.
    assert sum(r["cls"] == "smoking" for r in rows) == 2


def test_raw_detections_are_stored(baseline):
    root, _ = baseline
    [row] = query(root / "run", "SELECT count() AS n FROM bk.detections FINAL")
    assert row["n"] == 720 * len(CAMERAS)


def test_replaying_the_same_input_again_gives_identical_results(baseline, tmp_path):
    root, rows = baseline
    replay(tmp_path / "again", root / "feed.jsonl")
    assert query(tmp_path / "again", VIOLATIONS_SQL) == rows


def test_late_and_duplicate_records_do_not_change_the_answer(baseline, tmp_path):
    _, rows = baseline
    rng = random.Random(2)
    lines = scenario()
    head, frames = lines[: len(CAMERAS)], lines[len(CAMERAS) :]
    # Up to 4.9 s late, and about 3 % of the frames twice.
    frames.sort(key=lambda r: r["value"]["frame_ts"] + rng.uniform(0, 4.9))
    noisy = []
    for r in frames:
        noisy.append(r)
        if rng.random() < 0.03:
            noisy.append(r)
    replay(tmp_path / "noisy", write(tmp_path / "noisy.jsonl", head + noisy))
    assert query(tmp_path / "noisy", VIOLATIONS_SQL) == rows


def test_a_bad_input_file_is_refused_with_the_line_number(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"topic": "bk.registry.v1", "key": "c", "value": {}}\nnot json\n')
    done = cli(tmp_path, "replay", "--input", str(bad))
    assert done.returncode == 2
    assert "bad.jsonl:2" in done.stderr
