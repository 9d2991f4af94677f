"""Engine state per camera: violations + camera health, as one camera-app partition holds it.

    python -m bench.memory [--cameras 10000,100000] [--frames 10] [--record]

For each fleet size: a registry entry, one `streaming` status and ``--frames``
frames per camera (1 fps, a detection on every other frame so violation tracks
exist) are fed to a ViolationEngine + CameraHealthEngine pair, exactly as
`PartitionEngines` wires them. Bytes per camera are measured two ways:
the growth of the process's resident set (untraced pass) and tracemalloc
(Python allocations still held after the feed, frames released; a second,
slower pass, only up to ``--trace-max`` cameras). A last row feeds 330 frames per
camera to a smaller fleet: the health engine's baselines after its 300-frame
warm-up. The checkpoint size is the JSON of one camera's state record.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import tracemalloc
from pathlib import Path

import msgspec

from bench.stream_stage import command_line, record
from schemas.records import CameraStatus, Detection, FrameDetections, Quality, RegistryEntry
from stream_apps.engines.camera_health import CameraHealthEngine
from stream_apps.engines.violations import ViolationEngine

T0 = 1_793_577_600.0


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def feed_fleet(cameras: int, frames: int) -> tuple[CameraHealthEngine, ViolationEngine]:
    health = CameraHealthEngine()
    violations = ViolationEngine(suppressed_by=health.suppressing)
    rng = random.Random(7)
    base = [rng.gauss(0, 1) for _ in range(64)]
    norm = sum(x * x for x in base) ** 0.5
    base = [x / norm for x in base]
    for c in range(cameras):
        cam = f"cam-{c:06d}"
        entry = RegistryEntry(
            v=1,
            camera_id=cam,
            kitchen_id=f"k-{c // 3:06d}",
            operator_id=f"op-{c // 6:06d}",
            operator_name=f"Canteen {c // 6}",
            district="Hexi",
            station="Youyi Road",
            opening_hours=[["06:00", "22:00"]],
        )
        health.set_registry(entry)
        violations.set_registry(entry)
        health.feed(CameraStatus(1, cam, T0, "w-1", "streaming", 1.0))
    for i in range(frames):
        ts = T0 + i
        for c in range(cameras):
            cam = f"cam-{c:06d}"
            sig = [x + rng.gauss(0, 0.003) for x in base]
            dets = [Detection("no_hat", 0.8, (0.1, 0.1, 0.2, 0.3))] if i % 2 else []
            frame = FrameDetections(
                v=1, camera_id=cam, frame_ts=ts, seq=i, worker_id="w-1", model="m", width=1280,
                height=720, quality=Quality(0.5, 300.0, sig), detections=dets,
            )  # fmt: skip
            health.feed(frame)
            violations.feed(frame)
    return health, violations


def traced_bytes(cameras: int, frames: int) -> int:
    """Python allocations the engines still hold after the feed (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    engines = feed_fleet(cameras, frames)
    gc.collect()
    traced, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del engines
    gc.collect()
    return traced


def measure(cameras: int, frames: int, trace: bool) -> dict[str, float]:
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    health, violations = feed_fleet(cameras, frames)
    seconds = time.perf_counter() - t
    gc.collect()
    rss1 = rss_bytes()
    sample = [f"cam-{c:06d}" for c in range(0, cameras, max(1, cameras // 200))]
    ckpt = [
        len(
            msgspec.json.encode(
                {
                    "violations": violations.snapshot_camera(cam),
                    "health": health.snapshot_camera(cam),
                }
            )
        )
        for cam in sample
    ]
    del health, violations
    gc.collect()
    result = {
        "traced": traced_bytes(cameras, frames) / cameras if trace else float("nan"),
        "rss": (rss1 - rss0) / cameras,
        "checkpoint": sum(ckpt) / len(ckpt),
        "seconds": seconds,
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", default="10000,100000")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--warm-cameras", type=int, default=2000)
    ap.add_argument(
        "--trace-max", type=int, default=20_000, help="tracemalloc up to this many cameras (slow)"
    )
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    runs = [(int(c), args.frames) for c in args.cameras.split(",")]
    runs.append((args.warm_cameras, 330))
    lines = [
        "| cameras | frames/camera | tracemalloc bytes/camera | RSS growth bytes/camera | "
        "checkpoint record bytes/camera | RSS growth total | feed frames/s (untraced) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cameras, frames in runs:
        r = measure(cameras, frames, trace=cameras <= args.trace_max)
        lines.append(
            f"| {cameras:,} | {frames} | {r['traced']:,.0f} | {r['rss']:,.0f} | "
            f"{r['checkpoint']:,.0f} | {r['rss'] * cameras / 2**20:,.0f} MiB | "
            f"{cameras * frames / r['seconds']:,.0f} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Engine state per camera (violations + camera health)", command_line(), text)


if __name__ == "__main__":
    main()
