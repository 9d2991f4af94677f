"""The inference worker: ingest -> batch -> detect -> quality -> publish.

```
CameraSource threads ──SampledFrame──▶ FrameQueue (bounded, drops oldest)
                                            │ get_batch(batch_size, linger)
                                            ▼
   InferencePipeline.process: frames to device once (uint8)
                                 ├─ quality (batched per frame size)
                                 └─ letterbox ▶ detector ▶ unmap ▶ class map
                                            │ FrameDetections
                                            ▼
                                  Publisher ▶ bk.detections.v1   (status: bk.camera-status.v1)
```

`InferencePipeline` has no Kafka in it, so tests and benchmarks drive it
directly; `run_worker` wires it to the cameras file, the producer and metrics.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference_workers.batching import Batcher, FrameQueue
from inference_workers.classmap import ClassMap
from inference_workers.ingest import (
    CameraConfig,
    Ingest,
    IngestParams,
    SampledFrame,
    load_cameras,
)
from schemas.records import SCHEMA_VERSION, CameraStatus, FrameDetections, Quality

log = logging.getLogger(__name__)


class InferencePipeline:
    """Turns a list of sampled frames (any cameras, any sizes) into `FrameDetections`.

    One call = one batch: every frame is copied to the device once, its quality is
    measured there (frames of the same size in one kernel), and the letterboxed
    batch (on a GPU always `batch_size` rows, so the model sees one shape) goes
    through the detector. Boxes are mapped back to each frame and normalised.
    """

    def __init__(
        self,
        detector,
        *,
        worker_id: str,
        class_map: ClassMap | None = None,
        batch_size: int = 8,
    ) -> None:
        self.detector = detector
        self.worker_id = worker_id
        self.class_map = (class_map or ClassMap.default()).for_model(detector.labels)
        self.batch_size = batch_size
        self.batcher = Batcher(detector.input_size, detector.device)
        # On a GPU every batch is padded to batch_size rows: one input shape keeps cuDNN
        # autotuning, CUDA graphs and TensorRT profiles valid. On a CPU padding rows
        # would only cost time, so batches are as large as the frames waiting, unless
        # the model is compiled for one shape (every other size would recompile).
        fixed = detector.device.type == "cuda" or getattr(detector, "compile", "off") != "off"
        self.pad_to = batch_size if fixed else None

    def process(self, frames: list[SampledFrame]) -> list[FrameDetections]:
        import torch

        from inference_workers.backends.base import to_labeled
        from inference_workers.quality import quality_torch

        if not frames:
            return []
        out: list[FrameDetections] = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            with torch.inference_mode():
                dev = self.batcher.device_frames([f.image for f in chunk])
                quality: list[Any] = [None] * len(chunk)
                by_shape: dict[tuple[int, ...], list[int]] = {}
                for i, t in enumerate(dev):
                    by_shape.setdefault(tuple(t.shape), []).append(i)
                for same in by_shape.values():
                    # A GPU measures all frames of a size in one kernel; a CPU does
                    # better frame by frame (a stacked batch of 720p floats spills caches).
                    step = len(same) if self.pad_to else 1
                    for k in range(0, len(same), step):
                        idx = same[k : k + step]
                        rows = quality_torch(torch.stack([dev[i] for i in idx])).rows()
                        for i, row in zip(idx, rows, strict=True):
                            quality[i] = row
                batch, boxes = self.batcher.letterbox(dev, self.pad_to)
                raw = self.detector.infer_raw(batch)
            for i, f in enumerate(chunk):
                dets = to_labeled(boxes[i].unmap(raw[i]), self.detector.labels, 1.0, 1.0)
                b, s, g = quality[i]
                out.append(
                    FrameDetections(
                        v=SCHEMA_VERSION,
                        camera_id=f.camera_id,
                        frame_ts=f.frame_ts,
                        seq=f.seq,
                        worker_id=self.worker_id,
                        model=self.detector.name[:128],
                        width=f.width,
                        height=f.height,
                        quality=Quality(brightness=b, sharpness=s, signature=g),
                        detections=self.class_map.apply(dets)[:1000],
                    )
                )
        return out


@dataclass
class WorkerStats:
    """What a worker did, returned by `run_worker` when it stops."""

    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    batches: int = 0
    delivery_errors: int = 0
    undelivered: int = 0
    states: Counter = field(default_factory=Counter)


def load_class_map(spec: ClassMap | Mapping | str | Path | None) -> ClassMap:
    """A ClassMap from itself, a dict, or a YAML/JSON file; None = `ClassMap.default()`."""
    if spec is None:
        return ClassMap.default()
    if isinstance(spec, ClassMap):
        return spec
    if isinstance(spec, Mapping):
        return ClassMap.from_dict(spec)
    import json

    p = Path(spec)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return ClassMap.from_dict(yaml.safe_load(text))
    return ClassMap.from_dict(json.loads(text))


def run_worker(
    cameras_file: str | Path,
    bootstrap: str,
    *,
    model: str | Path,
    worker_id: str | None = None,
    device: str | None = None,
    batch_size: int = 8,
    compile: str = "off",
    max_wait_s: float = 0.05,
    queue_size: int | None = None,
    class_map: ClassMap | Mapping | str | Path | None = None,
    min_score: float = 0.25,
    iou_threshold: float = 0.45,
    ingest_params: IngestParams | None = None,
    producer_config: Mapping[str, Any] | None = None,
    metrics_port: int | None = None,
    metrics_addr: str = "127.0.0.1",
    snapshots: Any = None,
    stop_event: threading.Event | None = None,
    cameras: list[CameraConfig] | None = None,
    publisher=None,
    metrics=None,
) -> WorkerStats:
    """Run an inference worker until stopped; return what it did.

    Reads the cameras file (YAML or JSON list of `{camera_id, url, fps}`, see
    docs/inference.md), loads `model` (.onnx via ONNX Runtime, .pt TorchScript via
    PyTorch, .engine via TensorRT), decodes and samples every camera, runs batches
    of up to `batch_size` frames (waiting at most `max_wait_s` for a batch to fill),
    and publishes one `bk.detections.v1` record per frame and `bk.camera-status.v1`
    on every state change and every `ingest_params.heartbeat_s` to the Kafka
    cluster at `bootstrap`.

    Stops when `stop_event` is set, on SIGINT/SIGTERM (when called from the main
    thread without a `stop_event`), or when every source has ended (only with
    `ingest_params.stop_at_eof` on file sources). On stop it flushes the producer.
    `metrics_port` starts a Prometheus endpoint on `metrics_addr`. `snapshots`
    (an `inference_workers.snapshots.Snapshotter`) stores a JPEG of each frame with
    a violation-class detection (at most one per camera per its `min_interval_s`)
    and sets the record's `snapshot`. `cameras` overrides the file
    (pass `cameras_file=None`); `publisher` replaces the Kafka producer and
    `metrics` the process-wide `WorkerMetrics` (tests).
    """
    from inference_workers.backends import load_detector
    from inference_workers.backends.base import DecodeParams
    from inference_workers.publisher import Publisher, default_metrics

    cams = cameras if cameras is not None else load_cameras(cameras_file)
    if not cams:
        raise ValueError("no cameras to run")
    worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
    params = ingest_params or IngestParams()
    metrics = metrics or default_metrics()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_addr)
    detector = load_detector(
        model,
        device=device,
        decode=DecodeParams(min_score=min_score, iou_threshold=iou_threshold),
        compile=compile,
    )
    pipeline = InferencePipeline(
        detector, worker_id=worker_id, class_map=load_class_map(class_map), batch_size=batch_size
    )
    pub = publisher or Publisher(
        bootstrap, client_id=worker_id, producer_config=producer_config, metrics=metrics
    )
    stats = WorkerStats()
    queue: FrameQueue[SampledFrame] = FrameQueue(
        queue_size or max(4 * batch_size, 2 * len(cams)), key=lambda f: f.camera_id
    )
    states: dict[str, str] = {}
    states_lock = threading.Lock()

    def on_frame(frame: SampledFrame) -> None:
        metrics.frames_in.inc()
        if queue.put(frame) is not None:
            metrics.frames_dropped.inc()

    def on_status(camera_id: str, state: str, fps: float, detail: str) -> None:
        with states_lock:
            states[camera_id] = state
            counts = Counter(states.values())
        for s in ("streaming", "connecting", "disconnected", "decode_error"):
            metrics.cameras.labels(s).set(counts.get(s, 0))
        pub.status(
            CameraStatus(
                v=SCHEMA_VERSION,
                camera_id=camera_id,
                ts=time.time(),
                worker_id=worker_id,
                state=state,
                fps=fps,
                detail=detail,
            )
        )

    stop = stop_event or threading.Event()
    restore = _install_signal_handlers(stop) if stop_event is None else None
    ingest = Ingest(cams, on_frame, on_status, params)
    log.info(
        "worker %s: %d cameras, model %s on %s",
        worker_id,
        len(cams),
        detector.name,
        detector.device,
    )
    ingest.start()
    try:
        while not stop.is_set():
            frames = queue.get_batch(batch_size, timeout=0.25, linger=max_wait_s)
            metrics.queue_depth.set(len(queue))
            if not frames:
                pub.poll(0)
                if not ingest.sources_alive() and len(queue) == 0:
                    break
                continue
            t0 = time.perf_counter()
            records = pipeline.process(frames)
            if snapshots is not None:
                before = _snapshot_outcomes(snapshots)
                records = [snapshots(f.image, r) for f, r in zip(frames, records, strict=True)]
                after = _snapshot_outcomes(snapshots)
                for outcome, n in after.items():
                    if n > before[outcome]:
                        metrics.snapshots.labels(outcome).inc(n - before[outcome])
            metrics.inference_seconds.observe(time.perf_counter() - t0)
            metrics.batch_size.observe(len(frames))
            stats.batches += 1
            for rec in records:
                pub.detections(rec)
            metrics.frames_out.inc(len(records))
            stats.frames_out += len(records)
            pub.poll(0)
    finally:
        ingest.stop()
        stats.undelivered = pub.close()
        detector.close()
        if restore:
            restore()
    stats.frames_in = queue.put_count
    stats.frames_dropped = queue.dropped
    stats.delivery_errors = getattr(pub, "delivery_errors", 0)
    stats.states = Counter(states.values())
    return stats


def _snapshot_outcomes(snapshots: Any) -> dict[str, int]:
    return {k: getattr(snapshots, k, 0) for k in ("stored", "skipped", "failed")}


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None] | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, lambda *_: stop.set())

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
