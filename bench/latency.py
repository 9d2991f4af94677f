"""Frame-to-row latency of violations through the whole pipeline, at fractions of its max rate.

    python -m bench.latency [--cameras 1000] [--phase-s 20] [--fractions 0.25,0.5,0.9] [--record]

One embedded pipeline (Tansu, camera + ops Faust workers, sink thread into
chdb; `PipelineRuntime`, as `replay` runs it) and one simulated fleet with
violation rates boosted (``--boost``) so that a short run has enough episodes:

1. max rate: a slice of the feed is published as fast as possible and timed
   until every record is processed and stored (records/s end to end);
2. for each fraction f, the next slice is published at a fixed f x max
   records/s, paced on the wall clock, and the publication time of every frame
   is noted. The sink's ``observe`` hook notes when each `open` violation's
   row is in the store. Per violation:

   - **pipeline latency**: from publishing the frame that released the
     decision (the first frame of that camera whose time is >= detected_at +
     lateness_s: the reorder buffer holds each frame until then) to the row;
   - **frame-to-row**: from publishing the deciding frame (``detected_at``) to
     the row; it includes the lateness_s (5 s of event time) the contract asks
     every frame to wait, which is lateness_s x cameras x fps / rate of wall
     time here (the feed's event time runs faster than real time).

Each phase waits for the pipeline to drain before the next starts.
"""

from __future__ import annotations

import argparse
import bisect
import os
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from confluent_kafka import Consumer

from bench.stream_stage import command_line, fleet, pct, record
from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import Settings
from schemas.records import TOPIC_DETECTIONS, TOPIC_REGISTRY, TOPIC_VIOLATIONS, Violation, decode

LATENESS_S = 5.0
STORE = Path(tempfile.mkdtemp(prefix="bk-latency-store-"))


class Observer:
    """Sink hook: wall time at which each `open` violation's row was inserted."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, float]] = []  # (stored at, camera, detected_at)
        self.lock = threading.Lock()

    def __call__(self, topic: str, records: list) -> None:
        if topic != TOPIC_VIOLATIONS:
            return
        now = time.time()
        with self.lock:
            self.rows += [(now, r.camera_id, r.detected_at) for r in records if r.state == "open"]


class TopicWatcher:
    """When each `open` violation appears on bk.violations.v1 (before the sink stores it)."""

    def __init__(self, bootstrap: str) -> None:
        self.seen: dict[tuple[str, float], float] = {}
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bk-latency-{time.time_ns()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                # Tansu completes a group join after ~session.timeout / 2: keep it short.
                "session.timeout.ms": 6000,
            }
        )
        self._consumer.subscribe([TOPIC_VIOLATIONS])
        self.ready = threading.Event()  # set once partitions are assigned
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.ready.is_set() and self._consumer.assignment():
                self.ready.set()
            for msg in self._consumer.consume(num_messages=1000, timeout=0.05):
                if msg.error() or msg.value() is None:
                    continue
                v = decode(Violation, msg.value())
                if v.state == "open":
                    self.seen.setdefault((v.camera_id, v.detected_at), time.time())
        self._consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Published:
    """Publication wall time of every frame, and each camera's running newest frame time."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, float], float] = {}
        self.runmax: dict[str, list[float]] = defaultdict(list)
        self.walls: dict[str, list[float]] = defaultdict(list)

    def note(self, camera: str, ts: float, wall: float) -> None:
        self.first.setdefault((camera, ts), wall)
        rm = self.runmax[camera]
        rm.append(max(ts, rm[-1]) if rm else ts)
        self.walls[camera].append(wall)

    def releasing(self, camera: str, detected_at: float) -> float | None:
        """Publication time of the frame that moved the camera's clock past the decision."""
        rm = self.runmax.get(camera)
        if not rm:
            return None
        i = bisect.bisect_left(rm, detected_at + LATENESS_S)
        return self.walls[camera][i] if i < len(rm) else None


def run(args, records, env: dict[str, str]) -> tuple[float, list[tuple]]:
    """One pipeline with ``env`` set: max rate, then the paced phases; rows per phase."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # read by Settings here and by the workers it spawns
    try:
        return _run(args, records)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(args, records) -> tuple[float, list[tuple]]:
    fractions = [float(f) for f in args.fractions.split(",")]
    registry = [r for r in records if r[1] == TOPIC_REGISTRY]
    feed = [r for r in records if r[1] != TOPIC_REGISTRY]
    workdir = Path(tempfile.mkdtemp(prefix="bk-latency-"))
    # chdb opens one store path per process: every variant of this run shares it.
    settings = Settings(store_path=STORE, partitions=args.partitions)
    observer = Observer()
    published = Published()
    phases: list[tuple[str, float, float, float, int]] = []  # name, rate, t0, t1, records
    with PipelineRuntime(settings, observe=observer, log_dir=workdir) as rt:
        watcher = TopicWatcher(rt.bootstrap)
        for _, topic, key, value in registry:
            rt.publish(topic, key, value)
        rt.flush()
        if not watcher.ready.wait(timeout=60):
            raise RuntimeError("the bk.violations.v1 watcher got no partitions in 60 s")
        rt.wait_until(rt.unprocessed, "the registry")

        def publish(chunk, rate: float | None) -> tuple[float, float]:
            t0 = time.time()
            for i, (_, topic, key, value) in enumerate(chunk):
                if rate is not None:
                    wait = t0 + i / rate - time.time()
                    if wait > 0:
                        time.sleep(wait)
                if topic == TOPIC_DETECTIONS:
                    ts = float(value.split(b'"frame_ts":', 1)[1].split(b",", 1)[0])
                    published.note(key, ts, time.time())
                rt.publish(topic, key, value)
            return t0, time.time()

        pos = args.max_records
        t0, _ = publish(feed[:pos], None)
        rt.wait_processed_and_stored()
        t1 = time.time()
        max_rate = args.max_rate or pos / (t1 - t0)
        print(f"max end-to-end rate: {pos / (t1 - t0):,.0f} records/s", flush=True)
        for f in fractions:
            rate = f * max_rate
            n = min(int(rate * args.phase_s), len(feed) - pos)
            if n <= 0:
                print(f"feed exhausted before the {f:.0%} phase; raise --seconds")
                break
            t0, t1 = publish(feed[pos : pos + n], rate)
            pos += n
            rt.wait_processed_and_stored()
            drained = time.time()
            phases.append((f"{f:.0%} of max", rate, t0, t1, n))
            print(
                f"{f:.0%}: {n:,} records at {rate:,.0f}/s published in {t1 - t0:.1f} s "
                f"(target {n / rate:.1f} s), drained {drained - t1:.1f} s after",
                flush=True,
            )
        watcher.close()

    rows = []
    events_per_s = args.cameras * 1.1  # frames + heartbeats per event second
    for name, rate, t0, t1, _n in phases:
        pipe, topic_lat, frame = [], [], []
        for stored_at, camera, detected_at in observer.rows:
            rel = published.releasing(camera, detected_at)
            if rel is None or not t0 <= rel <= t1:
                continue
            pipe.append(stored_at - rel)
            on_topic = watcher.seen.get((camera, detected_at))
            if on_topic is not None:
                topic_lat.append(on_topic - rel)
            first = published.first.get((camera, detected_at))
            if first is not None:
                frame.append(stored_at - first)
        rows.append(
            (name, rate, len(pipe), pipe, topic_lat, frame, LATENESS_S * events_per_s / rate)
        )
    return max_rate, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=420.0, help="event time generated")
    ap.add_argument("--boost", type=float, default=30.0, help="violation rate multiplier")
    ap.add_argument("--max-records", type=int, default=60_000, help="slice timed at full speed")
    ap.add_argument("--max-rate", type=float, default=0.0, help="use this max instead (records/s)")
    ap.add_argument("--phase-s", type=float, default=20.0, help="wall seconds per paced phase")
    ap.add_argument("--fractions", default="0.25,0.5,0.9")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="K=V,K=V settings for a second pipeline run after the default one (same feed)",
    )
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()

    records = fleet(args.cameras, args.seconds, violation_boost=args.boost)
    variants = [{}] + [dict(kv.split("=", 1) for kv in v.split(",")) for v in args.variant]
    lines = [
        f"{args.cameras} cameras at 1 fps (violation rates x{args.boost:g}), "
        f"{args.partitions} partitions, full pipeline (camera + ops workers, sink into chdb in "
        "the publishing process, as `replay` runs). Latency is measured from publishing the "
        "frame that released the decision; *on topic* = the `open` record readable on "
        "bk.violations.v1, *stored* = the sink's insert of its row returned.",
        "",
        "| settings | phase | rate records/s | violations | on topic p50 / p99 s | "
        "stored p50 / p99 s | frame-to-row p50 / p99 s (incl. lateness) | lateness wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for env in variants:
        max_rate, rows = run(args, records, env)
        label = ", ".join(f"{k}={v}" for k, v in env.items()) or "defaults"
        lines.append(f"| {label} | max | {max_rate:,.0f} | | | | | |")
        for name, rate, n, pipe, on_topic, frame, lateness in rows:
            lines.append(
                f"| {label} | {name} | {rate:,.0f} | {n} | "
                f"{pct(on_topic, 50):.2f} / {pct(on_topic, 99):.2f} | "
                f"{pct(pipe, 50):.2f} / {pct(pipe, 99):.2f} | "
                f"{pct(frame, 50):.2f} / {pct(frame, 99):.2f} | {lateness:.1f} |"
            )
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Violation latency, frame to stored row", command_line(), text)


if __name__ == "__main__":
    main()
