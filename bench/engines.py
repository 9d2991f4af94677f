"""Engines alone: frames/s on one core, decoded records in memory.

    python -m bench.engines [--cameras 1000] [--seconds 600]

Feeds simulator-like frames (1 fps per camera, ~3 % of frames with a
detection, episodes with flicker) through the violation engine, and through
the camera-health engine too when it is present, timing only the feed loop.
"""

from __future__ import annotations

import argparse
import random
import time

from schemas.records import Detection, FrameDetections, Quality
from stream_apps.engines.violations import ViolationEngine

T0 = 1_793_577_600.0


def make_frames(cameras: int, seconds: int, seed: int = 1) -> list[FrameDetections]:
    rng = random.Random(seed)
    sig = [rng.gauss(0, 0.125) for _ in range(64)]
    quality = Quality(brightness=0.5, sharpness=150.0, signature=sig)
    episodes = {c: (rng.uniform(0, seconds), rng.uniform(20, 200)) for c in range(cameras)}
    frames = []
    for t in range(seconds):
        for c in range(cameras):
            start, dur = episodes[c]
            dets = []
            if start <= t < start + dur and rng.random() < 0.7:
                dets.append(Detection(cls="no_hat", score=0.8, box=(0.1, 0.1, 0.3, 0.5)))
            elif rng.random() < 0.005:
                dets.append(Detection(cls="phone_use", score=0.55, box=(0.4, 0.4, 0.5, 0.5)))
            frames.append(
                FrameDetections(
                    v=1,
                    camera_id=f"cam-{c:05d}",
                    frame_ts=T0 + t + c / cameras,
                    seq=t,
                    worker_id="w",
                    model="bench",
                    width=640,
                    height=480,
                    quality=quality,
                    detections=dets,
                )
            )
    return frames


def time_feed(engines, frames) -> float:
    t = time.perf_counter()
    for engine in engines:
        feed = engine.feed
        for f in frames:
            feed(f)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=300)
    args = ap.parse_args()
    frames = make_frames(args.cameras, args.seconds)
    n = len(frames)
    print(f"{n} frames, {args.cameras} cameras")
    elapsed = time_feed([ViolationEngine()], frames)
    print(f"violations alone:        {n / elapsed:>10,.0f} frames/s")
    try:
        from stream_apps.engines.camera_health import CameraHealthEngine
    except ImportError:
        return
    elapsed = time_feed([CameraHealthEngine()], frames)
    print(f"camera health alone:     {n / elapsed:>10,.0f} frames/s")
    violations, health = ViolationEngine(), CameraHealthEngine()
    violations_supp = ViolationEngine(suppressed_by=health.suppressing)
    t = time.perf_counter()
    for f in frames:
        health.feed(f)
        violations_supp.feed(f)
    elapsed = time.perf_counter() - t
    del violations
    print(f"both engines, one core:  {n / elapsed:>10,.0f} frames/s")


if __name__ == "__main__":
    main()
