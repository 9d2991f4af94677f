"""The camera stage (batched host) on the embedded broker, against a raw consume+decode loop.

The peers of ../shared/peers (Quix, raw + orjson) and the whole replay on one feed: bench.peers.

    python -m bench.stream_stage [--cameras 200] [--minutes 10] [--partitions 4]
                                 [--profile 15] [--record]

Publishes a simulated fleet (registry, detections, camera status) to a fresh
Tansu broker first, then:

1. a plain confluent-kafka consumer reads every input record and decodes it
   with the msgspec codecs (the floor any Python consumer pays);
2. one camera-app worker (``python -m stream_apps cameras worker``, all
   engines on, checkpoints on) is started and timed from its first progress
   record until its progress covers every record sent (counting, never lag);
3. Faust's own ceiling: ``bench.faust_bare``, the same app settings and
   batching with an agent that only counts the raw records, timed from its
   first batch until it has counted every record sent.

Both rates are records/s of wall time and of the process's own CPU time
(records per CPU-second = per core). ``--profile S`` samples the worker with
py-spy for S seconds while it runs and prints the hottest functions.

This module also holds the harness the other stream benchmarks share
(``Stage``: broker, topics, producer, progress, workers, CPU accounting).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer

from brightkitchen.city import encoded_fleet as fleet
from brightkitchen.embedded import create_topics, free_port, start_broker
from brightkitchen.runtime import ProgressTracker
from schemas.records import (
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_RECORDS,
    TOPIC_REGISTRY,
    decode,
)

RESULTS = Path(__file__).with_name("RESULTS.md")
CAMERA_INPUTS = (TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ----------------------------------------------------------------------------- reporting


def machine() -> str:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, "
        f"Python {platform.python_version()} (shared VM: compare ratios within one run)"
    )


def record(title: str, command: str, body: str) -> None:
    """Append a section to bench/RESULTS.md: title, machine, command, date, body."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with RESULTS.open("a") as f:
        f.write(
            f"\n## {title} ({stamp})\n\n- machine: {machine()}\n- command: `{command}`\n\n"
            f"{body.rstrip()}\n"
        )


def command_line() -> str:
    mod = Path(sys.argv[0]).stem
    return " ".join([f"python -m bench.{mod}", *sys.argv[1:]]).replace(" --record", "")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


# ----------------------------------------------------------------------------- harness


class Stage:
    """A fresh embedded broker with the topics, a producer, progress, and stream workers."""

    def __init__(self, partitions: int = 4, log_dir: Path | None = None) -> None:
        self.partitions = partitions
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bk-bench-"))
        self.broker = start_broker()
        self.bootstrap = self.broker.bootstrap
        create_topics(self.bootstrap, partitions=partitions)
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "partitioner": "murmur2_random",
                "enable.idempotence": True,
                "linger.ms": 20,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 200000,
                "queue.buffering.max.kbytes": 512 * 1024,
            }
        )
        self.sent: dict[tuple[str, int], int] = {}
        self.progress = ProgressTracker({"bootstrap.servers": self.bootstrap})
        self.workers: list[subprocess.Popen] = []
        self.web_ports: dict[int, int] = {}
        self.app_id = f"bk-bench-{uuid.uuid4().hex[:6]}"

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _delivered(self, err, msg) -> None:
        if err is None:
            tp = (msg.topic(), msg.partition())
            if msg.offset() > self.sent.get(tp, -1):
                self.sent[tp] = msg.offset()

    def publish(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                return
            except BufferError:
                self.producer.poll(0.05)

    def publish_all(self, records: list[tuple[float, str, str, bytes]]) -> float:
        """Publish as fast as possible; return the seconds until every record is acknowledged."""
        t = time.perf_counter()
        for i, (_, topic, key, value) in enumerate(records):
            self.publish(topic, key, value)
            if i % 1000 == 0:
                self.producer.poll(0)
        self.flush()
        return time.perf_counter() - t

    def flush(self) -> None:
        left = self.producer.flush(120)
        if left:
            raise RuntimeError(f"{left} records undelivered")

    def spawn(
        self,
        app: str = "cameras",
        extra_env: dict[str, str] | None = None,
        module: str = "stream_apps",
    ):
        """Start a worker: ``python -m stream_apps APP worker``, or ``-m MODULE worker``."""
        n = len(self.workers)
        port = free_port()
        env = {
            **os.environ,
            "BK_KAFKA_BOOTSTRAP": self.bootstrap,
            "BK_PARTITIONS": str(self.partitions),
            "BK_APP_ID": self.app_id,
            "BK_WEB_PORT": str(port),
            "BK_OPS_WEB_PORT": str(free_port()),
            "BK_WEB_BIND": "127.0.0.1",
            **(extra_env or {}),
        }
        log = self.log_dir / f"{app}-{n}.log"
        with log.open("ab") as out:
            args = [app] if module == "stream_apps" else []
            proc = subprocess.Popen(
                [sys.executable, "-m", module, *args, "worker", "-l", "warn"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.workers.append(proc)
        self.web_ports[proc.pid] = port
        return proc

    def records_of(self, proc: subprocess.Popen) -> float | None:
        """Input records a worker has processed, from its /metrics (bk_stream_records_total).

        None when the endpoint does not answer.
        """
        url = f"http://127.0.0.1:{self.web_ports[proc.pid]}/metrics"
        try:
            text = urllib.request.urlopen(url, timeout=10).read().decode()
        except OSError:
            return None
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("bk_stream_records_total{")
        )

    def processed(self, app: str = "cameras") -> tuple[int, int]:
        """(records processed, records sent) over the app's input topics."""
        done = total = 0
        with self.progress.changed:
            got = dict(self.progress.processed)
        for (topic, part), last in self.sent.items():
            if topic not in CAMERA_INPUTS:
                continue
            total += last + 1
            done += min(last, got.get((app, topic, part), -1)) + 1
        return done, total

    def check_alive(self) -> None:
        for w in self.workers:
            if w.poll() is not None:
                raise RuntimeError(f"a worker exited with {w.returncode}; logs in {self.log_dir}")

    def wait_processed(self, timeout_s: float = 600.0, on_tick=None) -> dict[str, float]:
        """Block until every sent input is processed; time it from the first progress.

        Returns t_first/t_end (monotonic), records done at t_first, CPU seconds
        of the workers and the broker over [t_first, t_end].
        """
        deadline = time.monotonic() + timeout_s
        t_first = None
        first_done = 0
        cpu0: dict[int, float] = {}
        while True:
            self.check_alive()
            done, total = self.processed()
            now = time.monotonic()
            if t_first is None and done > 0:
                t_first, first_done = now, done
                cpu0 = self._cpu()
            if on_tick is not None:
                on_tick(done, total)
            if done >= total and t_first is not None:
                cpu1 = self._cpu()
                return {
                    "t_first": t_first,
                    "t_end": now,
                    "first_done": first_done,
                    "total": total,
                    "seconds": now - t_first,
                    "rate": (total - first_done) / max(now - t_first, 1e-9),
                    "cpu": {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1},
                }
            if now > deadline:
                raise RuntimeError(f"timed out: {done}/{total} processed")
            with self.progress.changed:
                self.progress.changed.wait(timeout=0.05)

    def _cpu(self) -> dict[int, float]:
        pids = [w.pid for w in self.workers] + [self.broker.process.pid]
        return {pid: cpu_seconds(pid) for pid in pids}

    def close(self) -> None:
        self.producer.flush(10)
        self.producer = None  # destroyed before its broker goes away
        for w in self.workers:
            if w.poll() is None:
                w.terminate()
        for w in self.workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        self.progress.close()
        self.broker.stop()


def raw_consume(bootstrap: str, total: int, topics=CAMERA_INPUTS) -> dict[str, float]:
    """Read ``total`` records with confluent-kafka and decode each with msgspec."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bk-raw-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 32 << 20,
        }
    )
    consumer.subscribe(list(topics))
    types = {t: TOPIC_RECORDS[t] for t in topics}
    n = 0
    t0 = c0 = None
    try:
        while n < total:
            msgs = consumer.consume(num_messages=10_000, timeout=1.0)
            if msgs and t0 is None:
                t0, c0 = time.perf_counter(), time.process_time()
            for msg in msgs:
                if msg.error():
                    continue
                decode(types[msg.topic()], msg.value())
                n += 1
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    finally:
        consumer.close()
    return {"records": n, "seconds": wall, "rate": n / wall, "cpu_rate": n / max(cpu, 1e-9)}


def faust_bare(stage: Stage, total: int, extra_env: dict[str, str]) -> dict[str, float]:
    """Run bench.faust_bare on the stage's topics until it has counted ``total`` records."""
    out = stage.log_dir / f"faust-bare-{uuid.uuid4().hex[:6]}.json"
    env = {
        **extra_env,
        "BK_APP_ID": f"bk-bench-bare-{uuid.uuid4().hex[:6]}",
        "BK_BENCH_TOTAL": str(total),
        "BK_BENCH_OUT": str(out),
    }
    proc = stage.spawn("bare", env, module="bench.faust_bare")
    deadline = time.monotonic() + 600
    while not out.exists():
        stage.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("bench.faust_bare did not count every record in 600 s")
        time.sleep(0.1)  # polls for the result file; the worker signals nothing else
    proc.terminate()
    res = json.loads(out.read_text())
    return {"rate": res["records"] / res["wall"], "cpu_rate": res["records"] / res["cpu"]}


# ----------------------------------------------------------------------------- profiling


def py_spy(pid: int, seconds: float, out_dir: Path) -> subprocess.Popen | None:
    """Start py-spy sampling ``pid`` (collapsed stacks); None when py-spy is missing."""
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    out = out_dir / f"py-spy-{pid}.txt"
    return subprocess.Popen(
        [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def hot_spots(collapsed: Path, top: int = 12) -> str:
    """Where a py-spy profile's samples go: by package of the leaf frame, then by function."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    pkg: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        own[frames[-1]] += n
        pkg[_package(stack.split(";")[-1])] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} CPU-active samples. Self time by package:", ""]
    lines += [f"- {name}: {n / total:.0%}" for name, n in pkg.most_common(8)]
    lines += ["", "| function (self time) | self | inclusive |", "|---|---|---|"]
    for name, n in own.most_common(top):
        lines.append(f"| `{name}` | {n / total:.1%} | {incl[name] / total:.1%} |")
    lines += ["", "| project function | inclusive |", "|---|---|"]
    project = ("stream_apps/", "engines/", "agents/", "schemas/")
    ours = [(k, v) for k, v in incl.items() if any(p in k for p in project)]
    ours = [kv for kv in ours if "__main__" not in kv[0] and "faust/" not in kv[0]]
    for name, n in sorted(ours, key=lambda kv: -kv[1])[:top]:
        lines.append(f"| `{name}` | {n / total:.1%} |")
    return "\n".join(lines)


def _name(frame: str) -> str:
    """'func (path/to/file.py:123)' -> 'func (to/file.py)': aggregated by function."""
    func, _, loc = frame.partition(" (")
    path = loc.rstrip(")").rpartition(":")[0] or loc.rstrip(")")
    return f"{func} ({'/'.join(Path(path).parts[-2:])})"


def _package(frame: str) -> str:
    loc = frame.partition(" (")[2]
    for name in ("stream_apps", "schemas", "aiokafka", "faust", "mode", "asyncio", "kafka"):
        if f"/{name}/" in loc or loc.startswith(f"{name}/"):
            return name
    if "site-packages/" in loc:
        return loc.split("site-packages/", 1)[1].split("/", 1)[0]
    return "stdlib/other: " + Path(loc.rpartition(":")[0]).name


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=10.0, help="event time simulated")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--profile", type=float, default=0.0, help="py-spy the worker for S seconds")
    ap.add_argument("--env", action="append", default=[], help="K=V for the worker (variants)")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    extra_env = dict(kv.split("=", 1) for kv in args.env)

    records = fleet(args.cameras, args.minutes * 60)
    counts = collections.Counter(t for _, t, _, _ in records)
    with Stage(args.partitions) as stage:
        pub_s = stage.publish_all(records)
        raw = raw_consume(stage.bootstrap, len(records))
        worker = stage.spawn("cameras", extra_env)
        spy = None
        if args.profile:
            # Start sampling once the worker is processing, not while it imports.
            while stage.processed()[0] == 0:
                stage.check_alive()
                time.sleep(0.05)
            spy = py_spy(worker.pid, args.profile, stage.log_dir)
        res = stage.wait_processed()
        worker_cpu = res["cpu"][worker.pid]
        broker_cpu = res["cpu"][stage.broker.process.pid]
        profile = ""
        if spy is not None:
            spy.wait(timeout=args.profile + 60)
            out = stage.log_dir / f"py-spy-{worker.pid}.txt"
            profile = hot_spots(out) if out.exists() else "(py-spy produced nothing)"
        bare = faust_bare(stage, len(records), extra_env)

    faust_rate = res["rate"]
    faust_cpu_rate = (res["total"] - res["first_done"]) / max(worker_cpu, 1e-9)
    lines = [
        f"{len(records):,} records ({args.cameras} cameras x {args.minutes:g} min: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        + f"), {args.partitions} partitions; published in {pub_s:.1f} s "
        f"({len(records) / pub_s:,.0f} records/s)",
        "",
        "| stage | records/s (wall) | records per CPU-second of the consumer |",
        "|---|---|---|",
        f"| raw confluent-kafka consume + msgspec decode (1 thread) | {raw['rate']:,.0f} | "
        f"{raw['cpu_rate']:,.0f} |",
        f"| camera worker (batched host), all engines + checkpoints | {faust_rate:,.0f} | "
        f"{faust_cpu_rate:,.0f} |",
        f"| Faust agent counting raw records, same batching (1 process) | {bare['rate']:,.0f} | "
        f"{bare['cpu_rate']:,.0f} |",
        "",
        f"Camera stage / bare Faust: {faust_rate / bare['rate']:.0%} (wall), "
        f"{faust_cpu_rate / bare['cpu_rate']:.0%} (per CPU-second).",
        f"Ratio raw / Faust: {raw['rate'] / faust_rate:.1f}x (wall), "
        f"{raw['cpu_rate'] / faust_cpu_rate:.1f}x (per CPU-second). "
        f"Worker timed over {res['seconds']:.1f} s from its first progress record; "
        f"CPU in that window: worker {worker_cpu:.1f} s "
        f"({worker_cpu / res['seconds']:.0%} of a core), "
        f"Tansu broker {broker_cpu:.1f} s ({broker_cpu / res['seconds']:.0%} of a core).",
    ]
    if profile:
        lines += ["", f"py-spy of the worker ({args.profile:g} s at 200 Hz):", "", profile]
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Camera stage (batched host) vs raw consume, embedded broker", command_line(), text)


if __name__ == "__main__":
    main()
