"""Inference worker stages alone and end to end: frames/s, with a batch-size sweep.

    python -m bench.inference [--device cpu|cuda|all] [--batches 1,4,8,16] [--model PATH]
                              [--compile off,compile,cuda-graph]

Stages, each on synthetic 1280x720 H.264 (25 fps, 1 s GOP) made on the spot:
- decode: one CameraSource at 25 fps (every frame decoded and converted to RGB)
  and at 1 fps (key frames only): media frames covered per second of work;
- preprocess: frames to the device, quality measures and letterbox, per batch;
- model: forward + YOLO decode + NMS (nudenet's 320n YOLOv8n ONNX by default,
  which is the size class of a kitchen detector; ``--model yolov8n-arch`` is
  YOLOv8n's architecture at 640 px with random weights, bench/yolov8n.py, for
  the PyTorch backend and its ``--compile`` modes);
- end to end: `run_worker` on 4 file cameras sampled at 5 fps, publisher
  replaced by a no-op, so decode, batching, model and record encoding all run.
Needs the `inference` extra; CUDA rows appear where torch sees a GPU.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench import yolov8n


def _timeit(fn, min_time: float = 1.0, min_runs: int = 3) -> float:
    """Seconds per call (median of runs after one warm-up)."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return float(np.median(times))


def bench_decode(clip: Path) -> list[tuple[str, str, float]]:
    from inference_workers.ingest import CameraConfig, CameraSource, IngestParams

    rows = []
    for fps, label in ((25.0, "decode every frame (25 fps)"), (1.0, "decode sampled 1 fps")):
        n = 0

        def run(fps=fps):
            nonlocal n
            frames: list = []
            src = CameraSource(
                CameraConfig("b", str(clip), fps),
                frames.append,
                params=IngestParams(realtime_files=False, stop_at_eof=True, max_side=1280),
            )
            src.run(threading.Event())
            n = src.stats.packets  # media frames covered

        dt = _timeit(run, min_time=2.0)
        rows.append(("cpu", label, n / dt))
    return rows


def bench_preprocess(device: str, batches: list[int]) -> list[tuple[str, str, float]]:
    import torch

    from inference_workers.batching import Batcher
    from inference_workers.quality import quality_torch

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(max(batches))]
    batcher = Batcher(640, device)
    rows = []
    for b in batches:

        def run(b=b):
            dev = batcher.device_frames(frames[:b])
            if device == "cuda":
                quality_torch(torch.stack(dev)).rows()
            else:  # as the worker does on a CPU: frame by frame
                for d in dev:
                    quality_torch(d[None]).rows()
            batch, _ = batcher.letterbox(dev, b)
            if device == "cuda":
                torch.cuda.synchronize()

        rows.append((device, f"preprocess 720p->640 + quality, batch {b}", b / _timeit(run)))
    return rows


def bench_model(
    model: Path, device: str, batches: list[int], compile: str = "off"
) -> list[tuple[str, str, float]]:
    import torch

    from inference_workers.backends import load_detector

    if str(model) == yolov8n.NAME:
        from inference_workers.backends.pytorch import TorchDetector

        labels = [f"class{i}" for i in range(80)]
        det = TorchDetector(
            yolov8n.build(),
            labels=labels,
            input_size=640,
            device=device,
            compile=compile,
            name=yolov8n.NAME,
        )
    else:
        det = load_detector(model, device=device, compile=compile)
    mode = "" if compile == "off" else f" ({compile})"
    rows = []
    for b in batches:
        x = torch.rand(b, 3, det.input_size, det.input_size, device=det.device)

        def run(x=x):
            det.infer_raw(x)
            if det.device.type == "cuda":
                torch.cuda.synchronize()

        stage = f"model {det.name}{mode} {det.input_size}px, batch {b}"
        rows.append((device, stage, b / _timeit(run)))
    return rows


class _NullPublisher:
    def detections(self, rec):
        from schemas.records import encode

        encode(rec)

    def status(self, rec):
        pass

    def poll(self, timeout=0):
        pass

    def close(self, timeout=0):
        return 0


def bench_end_to_end(
    model: Path, clip: Path, device: str, batches: list[int]
) -> list[tuple[str, str, float]]:
    from prometheus_client import CollectorRegistry

    from inference_workers.ingest import CameraConfig, IngestParams
    from inference_workers.publisher import WorkerMetrics
    from inference_workers.worker import run_worker

    rows = []
    metrics = WorkerMetrics(CollectorRegistry())
    cams = [CameraConfig(f"c{i}", str(clip), 5.0) for i in range(4)]
    for b in batches:
        t = time.perf_counter()
        stats = run_worker(
            None,
            "unused:9092",
            model=model,
            device=device,
            batch_size=b,
            cameras=cams,
            ingest_params=IngestParams(realtime_files=False, stop_at_eof=True, max_side=1280),
            queue_size=10_000,  # measure throughput, not the drop policy
            publisher=_NullPublisher(),
            metrics=metrics,
            stop_event=threading.Event(),
        )
        dt = time.perf_counter() - t
        rows.append((device, f"end to end, 4 cameras @5 fps, batch {b}", stats.frames_out / dt))
    return rows


def default_model() -> Path:
    import nudenet

    return Path(nudenet.__file__).parent / "320n.onnx"


def main() -> None:
    import torch

    from inference_workers.synthetic_video import write_h264

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"model file, or {yolov8n.NAME} (YOLOv8n architecture, random weights, 640 px; "
        "model stage only); default: nudenet's YOLOv8n ONNX (320 px)",
    )
    ap.add_argument("--seconds", type=float, default=8.0, help="length of the synthetic clip")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    ap.add_argument(
        "--compile",
        default="off",
        help="PyTorch models: compile modes to compare on the model stage, e.g. "
        "off,compile,cuda-graph (cuda-graph runs on CUDA only)",
    )
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    model = args.model or default_model()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, devices {devices}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_h264(
            Path(tmp) / "clip.mp4", seconds=args.seconds, fps=25, gop=25, width=1280, height=720
        )
        rows = bench_decode(clip)
        for dev in devices:
            rows += bench_preprocess(dev, batches)
            for mode in args.compile.split(","):
                if mode == "cuda-graph" and dev != "cuda":
                    continue
                rows += bench_model(model, dev, batches, mode)
            if str(model) != yolov8n.NAME:  # the worker loads model files only
                rows += bench_end_to_end(model, clip, dev, batches)
    width = max(len(r[1]) for r in rows)
    print(f"{'device':<6}  {'stage':<{width}}  {'frames/s':>9}")
    for dev, stage, fps in rows:
        print(f"{dev:<6}  {stage:<{width}}  {fps:>9.1f}")
    if args.record:
        from bench.stream_stage import command_line, record

        gpu = torch.cuda.get_device_name() if "cuda" in devices else "none"
        text = "\n".join(
            [
                f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, GPU: {gpu}; "
                "1280x720 synthetic H.264 clip.",
                "",
                "| device | stage | frames/s |",
                "|---|---|---|",
                *[f"| {dev} | {stage} | {fps:,.1f} |" for dev, stage, fps in rows],
            ]
        )
        record(f"Inference worker stages ({', '.join(devices)})", command_line(), text)


if __name__ == "__main__":
    main()
