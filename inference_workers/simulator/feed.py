"""The feed: each camera's records merged in publication order, paced replays, and
the replay file with its ground truth.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from inference_workers.simulator.config import MODEL_NAME, FleetConfig
from inference_workers.simulator.fleet import _np_rng, _rng
from inference_workers.simulator.frames import _CHUNK, _apply_health, _detections_for, _signatures
from inference_workers.simulator.plan import FleetPlan, _CameraPlan, plan_fleet
from schemas.records import (
    SCHEMA_VERSION,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_REGISTRY,
    CameraStatus,
    Detection,
    FrameDetections,
    Quality,
    Record,
    encode,
)

_HeapItem = tuple[float, int, int, str, str, Record]


def _camera_stream(cam: _CameraPlan, config: FleetConfig) -> Iterator[_HeapItem]:
    """One camera's records as (publish_ts, camera index, n, topic, key, record)."""
    rng = _rng(config.seed, "frames", cam.index)
    nrng = _np_rng(config.seed, 2, cam.index)
    fm = _apply_health(cam, config, nrng)
    dets = _detections_for(cam, config, rng)
    det_cfg = config.detector
    n = len(cam.frame_ts)
    ts_list = cam.frame_ts
    emit = fm.emit.tolist()
    frozen = fm.frozen.tolist()
    bright = fm.brightness.tolist()
    sharp = fm.sharpness.tolist()
    hb = max(1, int(round(config.heartbeat_s * config.fps)))
    cid = cam.camera_id
    idx = cam.index
    worker = cam.worker_id
    fps = config.fps
    heap: list[tuple[float, int, str, Record]] = []
    counter = 0
    seq = 0
    streaming = True
    anchor = 0
    prev_quality: Quality | None = None
    empty: list[Detection] = []
    prev_dets: list[Detection] = empty
    p_dup, p_late, max_late = det_cfg.duplicate_rate, det_cfg.late_rate, det_cfg.max_late_s

    def status(ts: float, state: str, detail: str) -> None:
        nonlocal counter
        rec = CameraStatus(
            v=SCHEMA_VERSION, camera_id=cid, ts=ts, worker_id=worker, state=state,
            fps=fps if state == "streaming" else 0.0, detail=detail,
        )  # fmt: skip
        heapq.heappush(heap, (ts, counter, TOPIC_CAMERA_STATUS, rec))
        counter += 1

    for c0 in range(0, n, _CHUNK):
        c1 = min(n, c0 + _CHUNK)
        sigs = _signatures(fm, c0, c1, nrng)
        for i in range(c0, c1):
            ts = ts_list[i]
            if not emit[i]:
                if streaming:
                    status(ts, "disconnected", "rtsp: no data for 5 s, reconnecting")
                    streaming = False
                    anchor = i
                elif (i - anchor) % hb == 0:
                    status(ts, "connecting", "rtsp: connect timeout, retrying")
            else:
                if not streaming:
                    status(ts, "streaming", "reconnected")
                    streaming = True
                    anchor = i
                    seq = 0  # a new stream session
                elif (i - anchor) % hb == 0:
                    status(ts, "streaming", "")
                if frozen[i] and prev_quality is not None:
                    # A stuck encoder: the same picture, so the same detections.
                    quality = prev_quality
                    frame_dets = prev_dets
                else:
                    quality = Quality(
                        brightness=bright[i], sharpness=sharp[i], signature=sigs[i - c0]
                    )
                    prev_quality = quality
                    frame_dets = prev_dets = dets.get(i, empty)
                rec = FrameDetections(
                    v=SCHEMA_VERSION, camera_id=cid, frame_ts=ts, seq=seq, worker_id=worker,
                    model=MODEL_NAME, width=cam.width, height=cam.height, quality=quality,
                    detections=frame_dets,
                )  # fmt: skip
                seq += 1
                r = rng.random()
                pub = ts + rng.uniform(1.0, max_late) if r < p_late else ts
                heapq.heappush(heap, (pub, counter, TOPIC_DETECTIONS, rec))
                counter += 1
                if r >= 1.0 - p_dup:
                    # A replayed copy: the same record again, a little later.
                    heapq.heappush(heap, (ts + rng.uniform(0.2, max_late), counter,
                                          TOPIC_DETECTIONS, rec))  # fmt: skip
                    counter += 1
            while heap and heap[0][0] <= ts:
                pub, k, topic, rec = heapq.heappop(heap)
                yield pub, idx, k, topic, cid, rec
    while heap:
        pub, k, topic, rec = heapq.heappop(heap)
        yield pub, idx, k, topic, cid, rec


def simulate_timed(
    config: FleetConfig, plan: FleetPlan | None = None
) -> Iterator[tuple[float, str, str, Record]]:
    """Like `simulate`, with the publication time (event time plus any delay) first."""
    plan = plan or plan_fleet(config)
    for cam in plan.cameras:
        yield config.start_ts - 1.0, TOPIC_REGISTRY, cam.camera_id, cam.registry
    streams = [_camera_stream(cam, config) for cam in plan.cameras]
    for pub, _idx, _k, topic, key, rec in heapq.merge(*streams):
        yield pub, topic, key, rec


def simulate(config: FleetConfig) -> Iterator[tuple[str, str, Record]]:
    """The fleet's records as (topic, key, record), in publication order.

    Registry records come first; then detections and statuses of all cameras
    merged in event-time order, except the configured share of late and
    duplicated detection records.
    """
    for _pub, topic, key, rec in simulate_timed(config):
        yield topic, key, rec


def iter_realtime(
    config: FleetConfig,
    speed: float = 1.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[str, str, Record]]:
    """`simulate`, paced so that event time advances at ``speed`` x the wall clock.

    The caller publishes what it gets; a slow consumer falls behind rather than
    losing records (no catching up by skipping).
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    wall0: float | None = None
    for pub, topic, key, rec in simulate_timed(config):
        if wall0 is None:
            wall0 = clock()
        due = wall0 + max(0.0, pub - config.start_ts) / speed
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield topic, key, rec


def replay_line(topic: str, key: str, record: Record) -> bytes:
    """One line of the contract's replay format: {"topic", "key", "value"}."""
    return b'{"topic":%s,"key":%s,"value":%s}\n' % (
        msgspec.json.encode(topic),
        msgspec.json.encode(key),
        encode(record),
    )


def write_replay(
    config: FleetConfig, path_jsonl: str | Path, truth_path_json: str | Path | None = None
) -> dict[str, Any]:
    """Write the fleet's records as a replay file, and the ground truth as JSON.

    Returns counts per topic, bytes written and seconds taken.
    """
    t0 = time.perf_counter()
    plan = plan_fleet(config)
    counts: dict[str, int] = {}
    size = 0
    buf: list[bytes] = []
    path = Path(path_jsonl)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for _pub, topic, key, rec in simulate_timed(config, plan):
            line = replay_line(topic, key, rec)
            buf.append(line)
            counts[topic] = counts.get(topic, 0) + 1
            if len(buf) >= 4096:
                chunk = b"".join(buf)
                size += len(chunk)
                fh.write(chunk)
                buf.clear()
        chunk = b"".join(buf)
        size += len(chunk)
        fh.write(chunk)
    truth = plan.truth()
    if truth_path_json is not None:
        tp = Path(truth_path_json)
        tp.parent.mkdir(parents=True, exist_ok=True)
        tp.write_bytes(truth.to_json())
    return {
        "records": sum(counts.values()),
        "per_topic": counts,
        "bytes": size,
        "seconds": time.perf_counter() - t0,
        "violations": len(truth.violations),
        "camera_events": len(truth.camera_events),
        "must_not_report": len(truth.must_not_report),
        "violation_lookalikes": len(truth.violation_lookalikes),
    }
