"""Our camera stage and whole replay against the peers of ../shared/peers, one feed, one run.

    python -m bench.peers FEED.jsonl [--quix-python VENV/bin/python] [--record]

Runs, one after the other on this machine, for the same replay feed (e.g.
``brightkitchen simulate --out FEED.jsonl``, 40 cameras x 2 h):

1. the peers (``../shared/peers/run.sh FEED``: their own Tansu broker; only the
   feed's detection records): raw confluent-kafka consume (+ orjson / msgspec
   decode) and the Quix Streams k-of-n debouncer with RocksDB state;
2. our camera stage (``python -m stream_apps cameras``, the batched host, all
   engines and checkpoints on) on a fresh Tansu broker with every input record
   of the feed, timed from its first progress record until its progress covers
   every record sent (bench.stream_stage's harness);
3. our whole ``brightkitchen replay --input FEED`` (broker, camera + ops apps,
   sink, embedded store), wall time of the command end to end.

Ratios are what to read: the machine is shared, absolute rates move between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stream_stage import Stage, command_line, record
from brightkitchen.replay import read_envelopes

PEERS = Path(__file__).resolve().parents[1] / ".." / "shared" / "peers"


def load_feed(path: Path) -> list[tuple[float, str, str, bytes]]:
    """The feed's records in file order, registry first (as replay publishes them)."""
    records = [(0.0, e.topic, e.key, bytes(e.value)) for _, e in read_envelopes(path)]
    return sorted(records, key=lambda r: r[1] != "bk.registry.v1")


def run_peers(feed: Path, quix_python: str | None, work: Path) -> dict:
    env = {**os.environ, "PY": sys.executable, "W": str(work)}
    if quix_python:
        env["QPY"] = quix_python
    done = subprocess.run(
        ["bash", str(PEERS / "run.sh"), str(feed)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"peers failed: {done.stderr[-2000:]}")
    raw = json.loads((work / "raw_consume.json").read_text())
    quix = json.loads((work / "quix.json").read_text())
    return {
        "raw": {k: v["records_per_s"] for k, v in raw["passes"].items()},
        "quix": quix["records_per_s"],
        "quix_episodes": quix.get("violations"),
        "detections": raw["topic_records"],
        "table": done.stdout.strip().splitlines()[-6:],
    }


def our_stage(records: list, partitions: int) -> dict:
    with Stage(partitions) as stage:
        stage.publish_all(records)
        worker = stage.spawn("cameras")
        res = stage.wait_processed()
        cpu = res["cpu"][worker.pid]
    done = res["total"] - res["first_done"]
    return {"rate": res["rate"], "cpu_rate": done / max(cpu, 1e-9), "seconds": res["seconds"]}


def our_replay(feed: Path, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BK_")}
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "brightkitchen.cli", "replay", "--input", str(feed)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"replay failed: {done.stderr[-2000:]}")
    m = re.search(r"done: ([\d,]+) records in ([\d.]+) s", done.stdout + done.stderr)
    records = int(m.group(1).replace(",", "")) if m else 0
    inner = float(m.group(2)) if m else wall
    return {"records": records, "wall": wall, "rate": records / wall, "inner_rate": records / inner}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("feed", type=Path)
    ap.add_argument(
        "--quix-python", help="python of a venv with quixstreams (else run.sh makes one)"
    )
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bk-bench-peers-"))
    load = os.getloadavg()
    peers = None if args.skip_peers else run_peers(args.feed, args.quix_python, work / "peers")
    records = load_feed(args.feed)
    stage = our_stage(records, args.partitions)
    (work / "replay").mkdir()
    whole = our_replay(args.feed, work / "replay")
    lines = [
        f"Feed {args.feed.name}: {len(records):,} records; load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (machine shared with other sessions).",
        "",
        "| stage | records/s | vs Quix | vs raw+orjson |",
        "|---|---|---|---|",
    ]
    quix = peers["quix"] if peers else None
    raw = peers["raw"].get("orjson") if peers else None

    def row(name: str, rate: float) -> str:
        vq = f"{rate / quix:.2f}x" if quix else "-"
        vr = f"{rate / raw:.2f}x" if raw else "-"
        return f"| {name} | {rate:,.0f} | {vq} | {vr} |"

    if peers:
        for k, v in peers["raw"].items():
            lines.append(row(f"peer: raw confluent-kafka consume + {k} (detections only)", v))
        lines.append(row("peer: Quix Streams k-of-n debouncer, RocksDB (detections only)", quix))
    lines.append(
        row(
            f"ours: camera stage, batched host, all inputs, {args.partitions} partitions",
            stage["rate"],
        )
    )
    lines.append(row("ours: whole `brightkitchen replay` (wall of the command)", whole["rate"]))
    lines += [
        "",
        f"Camera stage: {stage['cpu_rate']:,.0f} records per CPU-second of the worker, timed over "
        f"{stage['seconds']:.1f} s. Whole replay: {whole['records']:,} records in "
        f"{whole['wall']:.1f} s of wall time ({whole['inner_rate']:,.0f}/s as replay reports it, "
        "from its first publish).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        record(
            "Camera stage and whole replay vs the peers, one feed, one run", command_line(), text
        )


if __name__ == "__main__":
    main()
