"""Soak: a steady feed through the embedded pipeline, with memory and lag sampled.

    python -m bench.soak [--minutes 30] [--cameras 100] [--speed 2] [--record] [--json FILE]

The simulator publishes ``cameras x speed`` records per second of wall time
(plus status heartbeats); every ``--sample-s`` the RSS of each stream worker
and of this process (which runs the sink) is read from /proc, and the lag is
what was sent minus what the stream apps have processed. Reports the RSS
slope after a warm-up (flat memory = bounded state) and the largest lag.
Tansu keeps every record in memory, so keep ``minutes x cameras x speed``
within a few hundred thousand records per GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import load
from inference_workers.simulator import FleetConfig, iter_realtime
from schemas.records import TOPIC_REGISTRY, encode

RESULTS = Path(__file__).with_name("RESULTS.md")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mm = sum(m for _, m in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    cov = sum((t - mt) * (m - mm) for t, m in samples)
    return 60 * cov / var if var else 0.0


def soak(minutes: float, cameras: int, speed: float, sample_s: float) -> dict:
    config = FleetConfig(cameras=cameras, duration_s=minutes * 60 * speed, seed=3)
    samples: dict[str, list[tuple[float, float]]] = {}
    max_lag = 0
    with PipelineRuntime(load()) as rt:
        started = time.monotonic()
        next_sample = started
        registry_done = False
        for topic, key, record in iter_realtime(config, speed):
            if topic != TOPIC_REGISTRY and not registry_done:
                rt.flush()
                rt.wait_until(rt.unprocessed, "the registry")
                registry_done = True
            rt.publish(topic, key, encode(record))
            now = time.monotonic()
            if now >= next_sample:
                rt.check_alive()
                rt.producer.poll(0)
                lag = sum(rt.unprocessed().values())
                max_lag = max(max_lag, lag)
                pids = {name: w.pid for name, w in rt.workers.items()}
                pids["sink+driver"] = os.getpid()
                for name, pid in pids.items():
                    samples.setdefault(name, []).append((now - started, rss_mb(pid)))
                print(
                    f"{now - started:6.0f} s  sent {rt.sent_count:>9,}  lag {lag:>7,}  "
                    + "  ".join(f"{n} {s[-1][1]:.0f} MB" for n, s in samples.items()),
                    flush=True,
                )
                next_sample = now + sample_s
        rt.wait_processed_and_stored()
        elapsed = time.monotonic() - started
        sent = rt.sent_count
    warm = [s for s in samples.values() if s]
    report = {
        "minutes": minutes,
        "cameras": cameras,
        "speed": speed,
        "records": sent,
        "records_per_s": sent / elapsed,
        "max_lag_records": max_lag,
        "rss_mb": {
            name: {
                "start": s[0][1],
                "end": s[-1][1],
                # Slope after the first third: baselines and buffers fill first.
                "slope_mb_per_min": slope_mb_per_min(s[len(s) // 3 :]),
            }
            for name, s in samples.items()
        },
    }
    assert warm, "no samples taken"
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--speed", type=float, default=2.0, help="event time per wall time")
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    report = soak(args.minutes, args.cameras, args.speed, args.sample_s)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report))
    if args.record:
        cmd = (
            f"python -m bench.soak --minutes {args.minutes:g} --cameras {args.cameras} "
            f"--speed {args.speed:g}"
        )
        rows = "\n".join(
            f"| {name} | {r['start']:.0f} | {r['end']:.0f} | {r['slope_mb_per_min']:+.2f} |"
            for name, r in report["rss_mb"].items()
        )
        with RESULTS.open("a") as f:
            f.write(
                f"\n## Soak — {dt.date.today()}\n\n"
                f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}. Command: `{cmd}`.\n\n"
                f"{report['records']:,} records at {report['records_per_s']:,.0f}/s; "
                f"largest lag {report['max_lag_records']:,} records.\n\n"
                "| process | RSS start MB | RSS end MB | slope after warm-up MB/min |\n"
                "|---|---|---|---|\n" + rows + "\n"
            )


if __name__ == "__main__":
    main()
