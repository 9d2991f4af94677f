"""The sink's error policy and the writer's partition limit, without a broker or store."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa

from schemas.records import TOPIC_DETECTIONS, TOPIC_REGISTRY, FrameDetections, Quality
from stream_apps.sink.consumer import is_permanent
from stream_apps.sink.store_writer import MAX_PARTITIONS_PER_INSERT, partition_chunks

DAY = 86_400.0


def frame(ts: float) -> FrameDetections:
    return FrameDetections(
        v=1, camera_id="c", frame_ts=ts, seq=0, worker_id="w", model="m", width=1, height=1,
        quality=Quality(brightness=0.5, sharpness=1.0, signature=[0.0] * 64), detections=[],
    )  # fmt: skip


def test_rows_the_store_refuses_are_permanent_and_an_unreachable_store_is_not():
    assert is_permanent(OverflowError("int too big"))
    assert is_permanent(pa.ArrowInvalid("Value too large to fit in C integer type"))
    assert is_permanent(
        RuntimeError("Code: 252. DB::Exception: Too many partitions for single INSERT block")
    )
    assert is_permanent(RuntimeError("Code: 53. DB::Exception: Type mismatch"))
    assert not is_permanent(ConnectionError("store unavailable"))
    assert not is_permanent(TimeoutError("timed out"))
    assert not is_permanent(RuntimeError("Code: 210. DB::NetException: Connection refused"))


def test_a_batch_over_the_partition_limit_is_split_into_inserts_within_it():
    records = [frame(1_793_577_600.0 + i * DAY) for i in range(250)]
    records += [frame(1_793_577_600.0 + 10)] * 50  # more rows of an early day
    chunks = partition_chunks(TOPIC_DETECTIONS, records)
    assert chunks is not None and len(chunks) == 3
    assert sorted(i for c in chunks for i in c.tolist()) == list(range(300))
    for rows in chunks:
        days = {int(records[i].frame_ts // DAY) for i in rows}
        assert len(days) <= MAX_PARTITIONS_PER_INSERT


def test_batches_within_the_limit_and_unpartitioned_tables_are_one_insert():
    same_day = [frame(1_793_577_600.0 + i) for i in range(500)]
    assert partition_chunks(TOPIC_DETECTIONS, same_day) is None
    assert partition_chunks(TOPIC_REGISTRY, same_day) is None


def test_importing_the_camera_host_does_no_work():
    code = (
        "import sys, stream_apps.shells.cameras as m; "
        "assert 'faust' not in sys.modules, 'the camera host imports Faust'; "
        "assert callable(m.build)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
