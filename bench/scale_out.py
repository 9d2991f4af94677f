"""Two camera-app workers in one consumer group against one, on the same input.

    python -m bench.scale_out [--cameras 200] [--minutes 10] [--partitions 4] [--record]

For each worker count (1, then 2) a fresh embedded broker gets the same
simulated feed: the workers are started and the registry is published and
waited for (so every partition is assigned and the group is stable), then the
rest of the feed is published as fast as possible and timed until the
workers' progress covers every record. Per worker: records processed (its
``bk_stream_records_total``) and CPU; the broker's CPU share is reported
because on a 2-core machine it competes with the workers.
"""

from __future__ import annotations

import argparse

from bench.stream_stage import Stage, command_line, fleet, record
from schemas.records import TOPIC_REGISTRY


def run(records, partitions: int, workers: int) -> dict:
    registry = [r for r in records if r[1] == TOPIC_REGISTRY]
    feed = [r for r in records if r[1] != TOPIC_REGISTRY]
    with Stage(partitions) as stage:
        procs = [stage.spawn("cameras") for _ in range(workers)]
        stage.publish_all(registry)
        stage.wait_processed(timeout_s=180)
        before = {p.pid: stage.records_of(p) for p in procs}
        stage.publish_all(feed)
        res = stage.wait_processed()
        after = {p.pid: stage.records_of(p) for p in procs}
        seconds = res["seconds"]
        rate = (res["total"] - res["first_done"]) / seconds
        if None in before.values() or None in after.values():
            # /metrics unavailable: the assignment is balanced (partitions / workers each).
            per_worker = [f"~{rate / workers:,.0f}" for _ in procs]
        else:
            per_worker = [f"{(after[p.pid] - before[p.pid]) / seconds:,.0f}" for p in procs]
        return {
            "rate": rate,
            "seconds": seconds,
            "per_worker": per_worker,
            "worker_cpu": [res["cpu"][p.pid] / seconds for p in procs],
            "broker_cpu": res["cpu"][stage.broker.process.pid] / seconds,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    records = fleet(args.cameras, args.minutes * 60)
    lines = [
        f"{len(records):,} records ({args.cameras} cameras x {args.minutes:g} min), "
        f"{args.partitions} partitions, one consumer group; timed from the first progress "
        "record after the registry until every record is processed.",
        "",
        "| workers | combined records/s | records/s per worker | worker CPU (cores) | "
        "broker CPU (cores) |",
        "|---|---|---|---|---|",
    ]
    results = {}
    for n in (1, 2):
        r = results[n] = run(records, args.partitions, n)
        lines.append(
            f"| {n} | {r['rate']:,.0f} | "
            + " + ".join(r["per_worker"])
            + " | "
            + " + ".join(f"{x:.2f}" for x in r["worker_cpu"])
            + f" | {r['broker_cpu']:.2f} |"
        )
        print(lines[-1], flush=True)
    if any(x.startswith("~") for r in results.values() for x in r["per_worker"]):
        lines += [
            "",
            "~: the workers' /metrics did not answer, so per-worker records/s is the combined "
            "rate split evenly (the assignment gives each worker the same number of partitions).",
        ]
    lines += [
        "",
        f"Scaling 1 -> 2 workers: {results[2]['rate'] / results[1]['rate']:.2f}x on "
        f"this {__import__('os').cpu_count()}-core machine (publisher, broker, progress "
        "reader and both workers share the cores).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Scale-out: camera-app workers in one consumer group", command_line(), text)


if __name__ == "__main__":
    main()
