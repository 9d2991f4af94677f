"""End-to-end detection quality: simulated fleet in, stored episodes scored against truth.

    python -m bench.quality [--cameras 40] [--hours 2] [--seed 7] [--record]
    python -m bench.quality --skip-replay     # score what the store already holds

1. Writes a replay file and its ground truth with `inference_workers.simulator`.
2. Runs ``brightkitchen replay --input FILE`` (the whole pipeline, embedded default).
3. Reads ``bk.violations FINAL`` and ``bk.camera_events FINAL`` back with
   ``brightkitchen query`` (JSON lines) and scores them with `inference_workers.simulator.scoring`.
4. Prints a table; ``--record`` appends a dated section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inference_workers.simulator import PROFILES, FleetConfig, GroundTruth, write_replay
from inference_workers.simulator.scoring import (
    EpisodeScores,
    FalseAlarms,
    false_alarms_per_camera_day,
    score_episodes,
)

RESULTS = Path(__file__).with_name("RESULTS.md")

VIOLATIONS_SQL = (
    "SELECT violation_id, camera_id, cls, state, started_at, detected_at, ended_at, "
    "peak_score, frames FROM bk.violations FINAL FORMAT JSONEachRow"
)
EVENTS_SQL = (
    "SELECT event_id, camera_id, kind, state, started_at, detected_at, ended_at, detail "
    "FROM bk.camera_events FINAL FORMAT JSONEachRow"
)


def bk_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    exe = shutil.which("brightkitchen")
    return [exe] if exe else [sys.executable, "-m", "brightkitchen.cli"]


def parse_time(value: Any) -> float | None:
    """A store time as Unix seconds: numbers pass, 'YYYY-MM-DD hh:mm:ss.fff' is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        # DateTime64(3) may come back as epoch milliseconds.
        return float(value) / 1000.0 if value > 1e11 else float(value)
    text = str(value).strip()
    try:
        return parse_time(float(text))
    except ValueError:
        pass
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def query_rows(cmd: list[str], sql: str) -> list[dict[str, Any]]:
    proc = subprocess.run([*cmd, "query", sql], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"brightkitchen query failed ({proc.returncode}):\n{proc.stderr}")
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        for col in ("started_at", "detected_at", "ended_at"):
            if col in row:
                row[col] = parse_time(row[col])
        rows.append(row)
    return rows


def in_run(rows: list[dict[str, Any]], truth: GroundTruth) -> list[dict[str, Any]]:
    """Rows of this scenario's cameras and time span (the store may hold other runs)."""
    cams = set(truth.meta["cameras"])
    lo, hi = truth.meta["start_ts"] - 60, truth.meta["end_ts"] + 60
    return [
        r
        for r in rows
        if r.get("camera_id") in cams and r.get("started_at") and lo <= r["started_at"] <= hi
    ]


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(scores: EpisodeScores, label: str) -> list[str]:
    head = (
        f"| {label} | truth | detected | recall | precision | dup/ep | "
        "latency p50/p95 s | start err p50/p95 s | end err p50/p95 s |"
    )
    lines = [head, "|" + "---|" * 9]
    rows = sorted(scores.per_class.items()) + [("**all**", scores.overall)]
    for name, m in rows:
        lines.append(
            f"| {name} | {m.truth} | {m.detected} | {_fmt(m.recall, 3)} | "
            f"{_fmt(m.precision, 3)} | {_fmt(m.duplicates_per_episode, 3)} | "
            f"{_fmt(m.latency_p50)} / {_fmt(m.latency_p95)} | "
            f"{_fmt(m.start_err_p50)} / {_fmt(m.start_err_p95)} | "
            f"{_fmt(m.end_err_p50)} / {_fmt(m.end_err_p95)} |"
        )
    return lines


def false_alarm_lines(fa: FalseAlarms) -> list[str]:
    parts = ", ".join(
        f"{k} {fa.counts[k]} ({fa.per_camera_day[k]:.2f}/camera-day)" for k in fa.counts
    )
    return [
        f"False alarms on look-alikes over {fa.camera_days:.2f} camera-days: "
        f"{fa.total} ({fa.total_per_camera_day:.2f}/camera-day)" + (f"; {parts}" if parts else "")
    ]


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs{mem}, Python {sys.version.split()[0]}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default")
    ap.add_argument("--workdir", default="bk-data/quality", help="where the replay file goes")
    ap.add_argument("--skip-replay", action="store_true", help="only score the existing store")
    ap.add_argument("--bk", help="command to run instead of `brightkitchen` (shell words)")
    ap.add_argument("--merge-gap", type=float, default=60.0)
    ap.add_argument("--tolerance", type=float, default=30.0)
    ap.add_argument("--json", help="also write the scores to this JSON file")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = ap.parse_args(argv)

    config = FleetConfig.for_profile(
        args.profile, cameras=args.cameras, duration_s=args.hours * 3600, seed=args.seed
    )
    stem = f"{args.profile}-seed{args.seed}-{args.cameras}x{args.hours:g}h"
    workdir = Path(args.workdir)
    replay_path = workdir / f"{stem}.jsonl"
    truth_path = workdir / f"{stem}.truth.json"
    cmd = bk_command(args.bk)
    notes: list[str] = []

    if args.skip_replay:
        if truth_path.exists():
            truth = GroundTruth.load(truth_path)
        else:
            from inference_workers.simulator import ground_truth

            truth = ground_truth(config)
    else:
        stats = write_replay(config, replay_path, truth_path)
        rate = stats["records"] / stats["seconds"]
        notes.append(
            f"generated {stats['records']} records ({stats['bytes'] / 1e6:.0f} MB) in "
            f"{stats['seconds']:.1f} s ({rate:,.0f} records/s)"
        )
        print(notes[-1], flush=True)
        truth = GroundTruth.load(truth_path)
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, "replay", "--input", str(replay_path)])
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"brightkitchen replay exited {proc.returncode}", file=sys.stderr)
            return proc.returncode
        notes.append(
            f"replay through the pipeline: {elapsed:.1f} s "
            f"({stats['records'] / elapsed:,.0f} records/s end to end)"
        )
        print(notes[-1], flush=True)

    violations = in_run(query_rows(cmd, VIOLATIONS_SQL), truth)
    events = in_run(query_rows(cmd, EVENTS_SQL), truth)
    horizon = truth.meta["end_ts"]
    v_scores = score_episodes(
        truth.violations, violations, args.merge_gap, args.tolerance, horizon=horizon
    )
    e_scores = score_episodes(
        truth.camera_events, events, args.merge_gap, args.tolerance, horizon=horizon
    )
    fa = false_alarms_per_camera_day(
        truth.must_not_report,
        events,
        cameras=len(truth.meta["cameras"]),
        hours=truth.meta["hours"],
        tolerance_s=args.tolerance,
        truth=truth.camera_events,
    )
    lines = [
        *table(v_scores, "violation class"),
        "",
        *table(e_scores, "camera event"),
        "",
        *false_alarm_lines(fa),
    ]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "violations": v_scores.as_dict(),
                    "camera_events": e_scores.as_dict(),
                    "false_alarms": fa.as_dict(),
                    "notes": notes,
                },
                indent=1,
            )
        )
    if args.record:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = "python -m bench.quality " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
        )
        section = [
            "",
            f"## Detection quality: {args.cameras} cameras x {args.hours:g} h, "
            f"seed {args.seed}, profile {args.profile} ({now})",
            "",
            f"- machine: {machine()}",
            f"- command: `{command.strip()}`",
            f"- matching: merge gap {args.merge_gap:g} s, tolerance {args.tolerance:g} s",
            *(f"- {n}" for n in notes),
            "",
            *lines,
            "",
        ]
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(section))
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
