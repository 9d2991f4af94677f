"""The worker's snapshotter keeps at most one evidence JPEG per camera per
min_interval_s of frame time; the violation engine then prefers frames that
have an image as the episode's evidence."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

pytest.importorskip("av")

from inference_workers.snapshots import Snapshotter  # noqa: E402
from schemas.records import Detection, FrameDetections  # noqa: E402
from stream_apps.engines.violations import ViolationEngine  # noqa: E402

T0 = 1_793_577_600.0
IMAGE = np.full((32, 32, 3), 90, np.uint8)


class MemoryStore:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = fail

    def put(self, key: str, data: bytes) -> str:
        if self.fail:
            raise OSError("store down")
        self.objects[key] = data
        return f"s3://evidence/{key}"

    def get(self, uri: str) -> bytes:
        return self.objects[uri.removeprefix("s3://evidence/")]

    def purge(self, older_than: float) -> int:
        return 0


def frame(t: float, camera: str = "cam-1", cls: str = "rodent", score: float = 0.9):
    return FrameDetections(
        v=1,
        camera_id=camera,
        frame_ts=T0 + t,
        seq=int(t * 10),
        worker_id="w",
        model="m",
        width=32,
        height=32,
        detections=[Detection(cls=cls, score=score, box=(0.2, 0.2, 0.6, 0.6))] if cls else [],
    )


def stored_times(snap: Snapshotter, frames) -> list[float]:
    return [f.frame_ts - T0 for f in frames if snap(IMAGE, f).snapshot]


def test_one_image_per_camera_per_interval_and_the_rest_skipped():
    snap = Snapshotter(MemoryStore(), min_interval_s=5.0)
    times = stored_times(snap, [frame(t) for t in range(12)])  # 1 fps, every frame a rodent
    assert times == [0, 5, 10]
    assert (snap.stored, snap.skipped, snap.failed) == (3, 9, 0)


def test_cameras_are_limited_independently():
    snap = Snapshotter(MemoryStore(), min_interval_s=5.0)
    frames = [frame(t, camera=c) for t in (0, 1, 2) for c in ("cam-a", "cam-b")]
    assert [f.camera_id for f in frames if snap(IMAGE, f).snapshot] == ["cam-a", "cam-b"]


def test_frames_without_a_violation_are_neither_stored_nor_counted_as_skipped():
    snap = Snapshotter(MemoryStore(), min_interval_s=5.0)
    assert stored_times(snap, [frame(0), frame(1, cls=None), frame(2, cls="person")]) == [0]
    assert snap.skipped == 0


def test_a_skipped_frame_keeps_its_detections_and_a_null_snapshot():
    snap = Snapshotter(MemoryStore(), min_interval_s=5.0)
    snap(IMAGE, frame(0))
    second = frame(1)
    out = snap(IMAGE, second)
    assert out.snapshot is None and out == second


def test_a_failed_store_does_not_start_the_interval():
    store = MemoryStore(fail=True)
    snap = Snapshotter(store, min_interval_s=5.0)
    assert snap(IMAGE, frame(0)).snapshot is None and snap.failed == 1
    store.fail = False
    assert snap(IMAGE, frame(1)).snapshot is not None


def test_a_clock_that_goes_back_starts_a_new_interval():
    snap = Snapshotter(MemoryStore(), min_interval_s=5.0)
    assert stored_times(snap, [frame(100), frame(102), frame(3)]) == [100, 3]


def test_zero_keeps_every_violation_frame():
    snap = Snapshotter(MemoryStore(), min_interval_s=0)
    assert stored_times(snap, [frame(t / 2) for t in range(6)]) == [0, 0.5, 1, 1.5, 2, 2.5]


def test_a_negative_interval_is_refused():
    with pytest.raises(ValueError, match="min_interval_s"):
        Snapshotter(MemoryStore(), min_interval_s=-1)


def test_the_setting_reaches_the_worker_snapshotter(monkeypatch, tmp_path):
    from brightkitchen.cli_workers import snapshot_store
    from brightkitchen.settings import Settings

    monkeypatch.setenv("BK_SNAPSHOT_MIN_INTERVAL_S", "12.5")
    monkeypatch.setenv("BK_SNAPSHOT_STORE", str(tmp_path))
    assert snapshot_store(Settings()).min_interval_s == 12.5


# --- evidence in the violation engine when images are rate-limited -----------


def episode(scores: list[float], snapshots: list[str | None]) -> list:
    """One no_gloves episode (opens on its 2nd hit), one frame a second."""
    engine = ViolationEngine()
    out = []
    for t, (score, uri) in enumerate(zip(scores, snapshots, strict=True)):
        f = msgspec.structs.replace(frame(t, cls="no_gloves", score=score), snapshot=uri)
        out += engine.feed(f)
    out += engine.advance(T0 + 400)
    return out


def test_the_open_evidence_is_the_best_frame_that_has_an_image():
    # The first frame was imaged; the higher-scoring second one fell inside the interval.
    [opened, closed] = episode([0.7, 0.95, 0.8], ["s3://evidence/a.jpg", None, None])
    assert opened.state == "open" and opened.peak_score == 0.95
    assert opened.evidence.snapshot == "s3://evidence/a.jpg"
    assert opened.evidence.frame_ts == T0  # the imaged frame's own time
    assert closed.evidence == opened.evidence


def test_a_later_peak_with_an_image_becomes_the_evidence():
    [opened, closed] = episode(
        [0.7, 0.8, 0.6, 0.9], ["s3://evidence/a.jpg", None, None, "s3://evidence/d.jpg"]
    )
    assert opened.evidence.snapshot == "s3://evidence/a.jpg"
    assert closed.evidence.snapshot == "s3://evidence/d.jpg" and closed.peak_score == 0.9
    assert closed.evidence.frame_ts == T0 + 3


def test_without_any_image_the_evidence_is_the_peak_frame():
    [opened, closed] = episode([0.7, 0.95, 0.8], [None, None, None])
    assert opened.evidence.frame_ts == T0 + 1 and opened.evidence.snapshot is None
    assert closed.evidence.frame_ts == T0 + 1
