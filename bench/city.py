"""The `city` profile: 10,000 cameras at 1 fps, real-time pace, through the whole pipeline.

    python -m bench.city [--cameras 10000] [--seconds 60] [--partitions 4] [--record]

The simulated fleet (frames at 1 fps and a status heartbeat every 10 s per
camera: ~1.1 x cameras records/s) is generated up front, then published on
the wall clock at its own event-time pace into one embedded pipeline (Tansu,
one camera worker, one ops worker, the sink into chdb: `PipelineRuntime`).
Every 5 s it prints how far the publisher is behind its schedule and how many
records the stream apps and the sink have still to reach (counted from the
offsets sent and the progress reported, never from consumer lag); at the end
it waits for the pipeline to drain and reports whether this machine keeps up.

Bounded on purpose: the embedded broker keeps every record in memory (~400 B
plus the ~1.4 KB value each), so keep cameras x seconds x 1.1 under ~1M.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from bench.stream_stage import command_line, fleet, record
from brightkitchen.runtime import PipelineError, PipelineRuntime
from brightkitchen.settings import Settings
from schemas.records import TOPIC_REGISTRY


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="event (= wall) time published")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()

    g0 = time.perf_counter()
    records = fleet(args.cameras, args.seconds)
    gen_s = time.perf_counter() - g0
    registry = [r for r in records if r[1] == TOPIC_REGISTRY]
    feed = [r for r in records if r[1] != TOPIC_REGISTRY]
    if len(feed) > 1_200_000:
        raise SystemExit(f"{len(feed):,} records: too many for the in-memory broker")
    start_ts = feed[0][0]
    print(f"generated {len(records):,} records in {gen_s:.0f} s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="bk-city-"))
    settings = Settings(store_path=workdir / "store", partitions=args.partitions)
    samples: list[tuple[float, float, int, int]] = []  # wall, publisher behind, unproc, unstored
    behind = [0.0]
    done = threading.Event()
    with PipelineRuntime(settings, log_dir=workdir) as rt:
        for _, topic, key, value in registry:
            rt.publish(topic, key, value)
        rt.flush()
        rt.wait_until(rt.unprocessed, "the registry")

        def monitor() -> None:
            t0 = time.monotonic()
            while not done.wait(5.0):
                unproc = sum(rt.unprocessed().values())
                unstored = sum(rt.unstored().values())
                samples.append((time.monotonic() - t0, behind[0], unproc, unstored))
                print(
                    f"t={samples[-1][0]:5.0f} s  publisher behind {behind[0]:5.1f} s  "
                    f"unprocessed {unproc:8,}  unstored {unstored:8,}",
                    flush=True,
                )

        watcher = threading.Thread(target=monitor, daemon=True)
        wall0 = time.monotonic()
        watcher.start()
        for i, (pub, topic, key, value) in enumerate(feed):
            due = wall0 + (pub - start_ts)
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            elif i % 1000 == 0:
                behind[0] = now - due
            rt.publish(topic, key, value)
        rt.flush()
        published_s = time.monotonic() - wall0
        at_end = (sum(rt.unprocessed().values()), sum(rt.unstored().values()))
        failure = ""
        try:
            rt.wait_until(rt.unprocessed, "the stream apps", stall_timeout_s=args.drain_timeout)
            processed_s = time.monotonic() - wall0
            rt.wait_until(rt.unstored, "the sink", stall_timeout_s=args.drain_timeout)
            stored_s = time.monotonic() - wall0
        except PipelineError as exc:
            # Record what was seen: a stall at city scale is a finding, not a crash of the bench.
            processed_s = stored_s = float("inf")
            log = workdir / "stream-cameras.log"
            errors = [ln for ln in log.read_text(errors="replace").splitlines() if "ERROR" in ln]
            failure = f"{exc}; first worker error: {errors[0][:300] if errors else 'none'}"
        done.set()
        watcher.join()

    offered = len(feed) / args.seconds
    if failure and samples:  # records processed by the last sample before the stall
        sustained = (len(feed) - samples[-1][2]) / samples[-1][0]
    else:
        sustained = len(feed) / processed_s
    keeps_up = processed_s < args.seconds * 1.1 and stored_s < args.seconds * 1.1 + 5
    lines = [
        f"{args.cameras:,} cameras at 1 fps for {args.seconds:g} s of event time: "
        f"{len(feed):,} records ({offered:,.0f} records/s offered), {args.partitions} "
        "partitions, one camera worker, one ops worker, one sink (chdb).",
        "",
        "| wall s | publisher behind schedule s | unprocessed records | unstored records |",
        "|---|---|---|---|",
        *[f"| {t:.0f} | {b:.1f} | {u:,} | {s:,} |" for t, b, u, s in samples],
        "",
        f"Published in {published_s:.0f} s (schedule {args.seconds:g} s); at the end of "
        f"publishing {at_end[0]:,} records were unprocessed and {at_end[1]:,} unstored; "
        f"all processed after {processed_s:.0f} s, all stored after {stored_s:.0f} s. "
        f"Sustained {sustained:,.0f} records/s end to end = {sustained / offered:.0%} of "
        f"the offered load: **{'keeps up' if keeps_up else 'does not keep up'}** on this "
        f"machine; processing lag grows by about {max(0.0, offered - sustained):,.0f} "
        f"records ({max(0.0, offered - sustained) / offered:.2f} s of event time) per second.",
    ]
    if failure:
        lines += ["", f"**The pipeline stalled**: {failure}"]
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("City profile: 10k cameras at 1 fps, real-time pace", command_line(), text)


if __name__ == "__main__":
    main()
