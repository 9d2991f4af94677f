"""The camera pipeline with CPython's default GC thresholds vs the hosts' policy.

    python -m bench.gc_policy [--cameras 40,100000] [--records 400000] [--record]

For each fleet size, simulates ``--records`` input records (registry first,
then 1 fps frames and status; the whole fleet, ``bench``-seeded) into memory,
then in a fresh interpreter per variant feeds them through
:class:`~stream_apps.pipelines.camera.CameraPipeline` on four partitions in
batches of 2,000, and reports records/s and the seconds spent in collections
(``gc.callbacks``). Variants: ``default`` (700, 10, 10) and ``policy``
(:func:`stream_apps.shells.gc_policy.tune_for_throughput`), alternated
``--repeat`` times; the best run of each is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stream_stage import command_line, record

CHILD = r"""
import gc, json, sys, time
from pathlib import Path
from brightkitchen.replay import read_envelopes
from schemas.records import TOPIC_REGISTRY
from stream_apps.pipelines.camera import CameraPipeline
path, variant = sys.argv[1], sys.argv[2]
recs, offsets = [], {}
for _, env in read_envelopes(Path(path)):
    p = int(env.key.rsplit("-", 1)[-1]) % 4
    o = offsets.get((env.topic, p), 0)
    offsets[(env.topic, p)] = o + 1
    recs.append((env.topic, p, o, env.key.encode(), bytes(env.value)))
recs.sort(key=lambda r: r[0] != TOPIC_REGISTRY)
gc.collect()
if variant == "policy":
    from stream_apps.shells.gc_policy import tune_for_throughput
    tune_for_throughput()
spent, started = [0.0], [0.0]
def timer(phase, info):
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        spent[0] += time.perf_counter() - started[0]
gc.callbacks.append(timer)
pipe = CameraPipeline()
t = time.perf_counter()
for i in range(0, len(recs), 2000):
    touched = set()
    for topic, p, o, k, v in recs[i : i + 2000]:
        pipe.handle(topic, p, o, k, v)
        touched.add(p)
    for p in touched:
        pipe.advance(p)
took = time.perf_counter() - t
print(json.dumps({"records": len(recs), "seconds": took, "gc_seconds": spent[0]}))
"""


def write_feed(cameras: int, records: int, path: Path) -> int:
    """A replay file of about ``records`` records of ``cameras`` cameras at 1 fps."""
    from inference_workers.simulator.config import FleetConfig
    from inference_workers.simulator.feed import write_replay

    seconds = max(10.0, (records - cameras) / cameras / 1.1)
    cfg = FleetConfig(cameras=cameras, duration_s=min(seconds, 7 * 86400.0), seed=11)
    return write_replay(cfg, path)["records"]


def run(path: Path, variant: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), variant],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", default="40,100000")
    ap.add_argument("--records", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bk-gc-") as tmp:
        for cameras in (int(c) for c in args.cameras.split(",")):
            path = Path(tmp) / f"feed-{cameras}.jsonl"
            n = write_feed(cameras, args.records, path)
            best: dict[str, dict] = {}
            for _ in range(args.repeat):
                for variant in ("default", "policy"):
                    r = run(path, variant)
                    if variant not in best or r["seconds"] < best[variant]["seconds"]:
                        best[variant] = r
            d, p = best["default"], best["policy"]
            rows.append(
                f"| {cameras:,} | {n:,} | {d['records'] / d['seconds']:,.0f} | "
                f"{d['gc_seconds'] / d['seconds']:.0%} | {p['records'] / p['seconds']:,.0f} | "
                f"{p['gc_seconds'] / p['seconds']:.0%} | {d['seconds'] / p['seconds']:.2f}x |"
            )
            print(rows[-1], flush=True)
    body = (
        "CameraPipeline in process, 4 partitions, batches of 2,000; best of "
        f"{args.repeat} alternated runs per variant, each in a fresh interpreter.\n\n"
        "| cameras | records | default records/s | default time in GC | policy records/s "
        "| policy time in GC | speed-up |\n|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    print(body)
    if args.record:
        record("Garbage collection at city scale: default thresholds vs the hosts' policy",
               command_line(), body)  # fmt: skip


if __name__ == "__main__":
    main()
