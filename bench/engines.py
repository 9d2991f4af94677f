"""Engines alone: frames/s on one core, decoded records in memory.

    python -m bench.engines [--cameras 40] [--hours 2] [--record]

Frames come from the simulator (1 fps per camera, flickering episodes, false
positives, health scenarios, a little disorder and duplication), decoded up
front; only the feed loops are timed. Reports the violation engine alone, the
camera-health engine alone and both fed together as the stream app does
(violations asking health whether the camera is suppressed).

The rate engine (ops app) never sees frames: its input is the registry and
what the camera engines emit (violations, camera events) with the watermark
advancing once per second of event time. Its row says how fast it works
through the same fleet, as frames of that fleet per second, and its own
input records per second beside.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

from inference_workers.simulator import FleetConfig, simulate
from schemas.records import TOPIC_DETECTIONS, TOPIC_REGISTRY, FrameDetections
from stream_apps.engines.camera_health import CameraHealthEngine
from stream_apps.engines.rates import RateEngine
from stream_apps.engines.violations import ViolationEngine

RESULTS = Path(__file__).with_name("RESULTS.md")


def frames(cameras: int, hours: float, seed: int = 7) -> list[FrameDetections]:
    config = FleetConfig(cameras=cameras, duration_s=hours * 3600, seed=seed)
    return [rec for topic, _, rec in simulate(config) if topic == TOPIC_DETECTIONS]


def ops_inputs(cameras: int, hours: float, seed: int = 7) -> list:
    """The rate engine's input for the fleet: registry entries, then the camera
    engines' outputs in order, with a float (advance to this watermark) per second."""
    config = FleetConfig(cameras=cameras, duration_s=hours * 3600, seed=seed)
    health = CameraHealthEngine()
    violations = ViolationEngine(suppressed_by=health.suppressing)
    inputs: list = []
    second = float("-inf")
    for topic, _, rec in simulate(config):
        if topic == TOPIC_REGISTRY:
            inputs.append(rec)
            continue
        inputs += health.feed(rec)
        if topic == TOPIC_DETECTIONS:
            inputs += violations.feed(rec)
            if rec.frame_ts >= second + 1:
                second = float(int(rec.frame_ts))
                inputs += health.advance(second) + violations.advance(second)
                inputs.append(second)
    return inputs


def time_rates(inputs: list) -> float:
    engine = RateEngine()
    feed, advance = engine.feed, engine.advance
    t = time.perf_counter()
    for item in inputs:
        if type(item) is float:
            advance(item)
        else:
            feed(item)
    return time.perf_counter() - t


def best_of(fn, repeat: int = 3) -> float:
    return min(fn() for _ in range(repeat))


def time_violations(data) -> float:
    engine = ViolationEngine()
    feed = engine.feed
    t = time.perf_counter()
    for f in data:
        feed(f)
    return time.perf_counter() - t


def time_health(data) -> float:
    engine = CameraHealthEngine()
    feed = engine.feed
    t = time.perf_counter()
    for f in data:
        feed(f)
    return time.perf_counter() - t


def time_both(data) -> float:
    health = CameraHealthEngine()
    violations = ViolationEngine(suppressed_by=health.suppressing)
    hfeed, vfeed = health.feed, violations.feed
    t = time.perf_counter()
    for f in data:
        hfeed(f)
        vfeed(f)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    data = frames(args.cameras, args.hours)
    n = len(data)
    rows = [
        ("violation engine alone", n / best_of(lambda: time_violations(data))),
        ("camera-health engine alone", n / best_of(lambda: time_health(data))),
        ("both engines, as the stream app feeds them", n / best_of(lambda: time_both(data))),
    ]
    inputs = ops_inputs(args.cameras, args.hours)
    records = sum(1 for i in inputs if type(i) is not float)
    rates_s = best_of(lambda: time_rates(inputs))
    rows.append(
        (
            f"rate engine (ops app) over the same fleet: {records:,} input records "
            f"({records / rates_s:,.0f} records/s) and {len(inputs) - records:,} clock ticks",
            n / rates_s,
        )
    )
    lines = [f"{n:,} simulated frames ({args.cameras} cameras x {args.hours:g} h), best of 3:"]
    lines += [f"| {name} | {rate:,.0f} frames/s |" for name, rate in rows]
    print("\n".join(lines))
    if args.record:
        cmd = f"python -m bench.engines --cameras {args.cameras} --hours {args.hours:g}"
        with RESULTS.open("a") as f:
            f.write(
                f"\n## Engines alone, one core — {dt.date.today()}\n\n"
                f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}. Command: `{cmd}`.\n\n"
                f"{lines[0]}\n\n| engine | throughput |\n|---|---|\n" + "\n".join(lines[1:]) + "\n"
            )


if __name__ == "__main__":
    main()
