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


def query_rows(cmd: list[str], sql: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    proc = subprocess.run([*cmd, "query", sql], capture_output=True, text=True, env=env)
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


def false_alarm_lines(fa: FalseAlarms, what: str = "look-alikes") -> list[str]:
    parts = ", ".join(
        f"{k} {fa.counts[k]} ({fa.per_camera_day[k]:.2f}/camera-day)" for k in fa.counts
    )
    return [
        f"False alarms on {what} over {fa.camera_days:.2f} camera-days: "
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


def _tag(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Rows of one seed with the seed in the camera id, so seeds pool without clashing."""
    return [{**r, "camera_id": f"s{seed}/{r['camera_id']}"} for r in rows]


def _recall_line(label: str, scores: EpisodeScores) -> str:
    m = scores.overall
    return (
        f"{label}: {m.matched_truth}/{m.truth} found (recall {_fmt(m.recall, 3)}), "
        f"latency p95 {_fmt(m.latency_p95)} s"
    )


def done_when(
    v: EpisodeScores, e: EpisodeScores, fa_v: FalseAlarms, fa_e: FalseAlarms
) -> list[str]:
    """Issue 13's criteria, each with its figure and whether it holds."""

    def ok(cond: bool) -> str:
        return "yes" if cond else "**no**"

    o = v.overall
    lines = ["| criterion | figure | met |", "|---|---|---|"]
    lines.append(f"| violations precision >= 0.98 | {_fmt(o.precision, 3)} | "
                 f"{ok((o.precision or 0) >= 0.98)} |")  # fmt: skip
    lines.append(f"| violations recall >= 0.97 | {_fmt(o.recall, 3)} | "
                 f"{ok((o.recall or 0) >= 0.97)} |")  # fmt: skip
    lines.append(f"| duplicates <= 0.01 per episode | {_fmt(o.duplicates_per_episode, 3)} | "
                 f"{ok((o.duplicates_per_episode or 0) <= 0.01)} |")  # fmt: skip
    worst = max(((m.latency_p95 or 0.0), c) for c, m in v.per_class.items())
    lines.append(f"| latency p95 <= 10 s every class | worst {worst[1]} {worst[0]:.1f} s | "
                 f"{ok(worst[0] <= 10.0)} |")  # fmt: skip
    for kind, m in sorted(e.per_class.items()):
        good = (m.precision or 0) >= 0.97 and (m.recall or 0) >= 0.97
        lines.append(f"| {kind} precision, recall >= 0.97 | {_fmt(m.precision, 3)}, "
                     f"{_fmt(m.recall, 3)} | {ok(good)} |")  # fmt: skip
    total = fa_v.total_per_camera_day + fa_e.total_per_camera_day
    lines.append(f"| look-alikes <= 0.1 false alarms per camera-day | {total:.2f} | "
                 f"{ok(total <= 0.1)} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seeds", default="7,8,9", help="comma-separated seeds, pooled")
    ap.add_argument("--seed", type=int, help="one seed (same as --seeds N)")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default")
    ap.add_argument("--workdir", default="bk-data/quality", help="replay files and stores")
    ap.add_argument("--skip-replay", action="store_true", help="only score the existing stores")
    ap.add_argument("--bk", help="command to run instead of `brightkitchen` (shell words)")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="feed the replay file through the camera app's engines in process "
        "(bench/quality_feed.py) instead of the whole pipeline: minutes instead of hours",
    )
    ap.add_argument(
        "--code",
        help="with --in-process: PYTHONPATH of the build to measure (default: this one)",
    )
    ap.add_argument("--label", default="", help="what is measured (e.g. the code version)")
    ap.add_argument("--merge-gap", type=float, default=60.0)
    ap.add_argument("--tolerance", type=float, default=30.0)
    ap.add_argument("--json", help="also write the scores to this JSON file")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = ap.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else [int(x) for x in args.seeds.split(",")]

    workdir = Path(args.workdir)
    cmd = bk_command(args.bk)
    notes: list[str] = []
    truth_v: list[dict[str, Any]] = []
    truth_e: list[dict[str, Any]] = []
    look_v: list[dict[str, Any]] = []
    look_e: list[dict[str, Any]] = []
    got_v: list[dict[str, Any]] = []
    got_e: list[dict[str, Any]] = []
    cameras = 0
    hours = 0.0
    for seed in seeds:
        config = FleetConfig.for_profile(
            args.profile, cameras=args.cameras, duration_s=args.hours * 3600, seed=seed
        )
        stem = f"{args.profile}-seed{seed}-{args.cameras}x{args.hours:g}h"
        replay_path = workdir / f"{stem}.jsonl"
        truth_path = workdir / f"{stem}.truth.json"
        store = workdir / f"store-{args.label or 'default'}-seed{seed}".replace(" ", "_")
        env = {**os.environ, "BK_STORE_PATH": str(store)}
        if args.in_process:
            if not replay_path.exists() or not truth_path.exists():
                stats = write_replay(config, replay_path, truth_path)
                notes.append(f"seed {seed}: generated {stats['records']} records")
            truth = GroundTruth.load(truth_path)
            out_json = workdir / f"{stem}.{args.label or 'default'}.episodes.json"
            feed_env = dict(os.environ)
            if args.code:
                feed_env["PYTHONPATH"] = args.code
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).with_name("quality_feed.py")),
                 str(replay_path), str(out_json)],
                env=feed_env, capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            notes.append(f"seed {seed}: in process, {proc.stderr.strip()}")
            print(notes[-1], flush=True)
            fed = json.loads(out_json.read_text())
            violations = in_run(fed["violations"], truth)
            events = in_run(fed["camera_events"], truth)
        elif args.skip_replay:
            from inference_workers.simulator import ground_truth

            truth = GroundTruth.load(truth_path) if truth_path.exists() else ground_truth(config)
        else:
            if not replay_path.exists() or not truth_path.exists():
                stats = write_replay(config, replay_path, truth_path)
                notes.append(
                    f"seed {seed}: generated {stats['records']} records "
                    f"({stats['bytes'] / 1e6:.0f} MB) in {stats['seconds']:.1f} s"
                )
                print(notes[-1], flush=True)
            truth = GroundTruth.load(truth_path)
            shutil.rmtree(store, ignore_errors=True)
            t0 = time.perf_counter()
            proc = subprocess.run([*cmd, "replay", "--input", str(replay_path)], env=env)
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"brightkitchen replay exited {proc.returncode}", file=sys.stderr)
                return proc.returncode
            notes.append(f"seed {seed}: replay through the pipeline {elapsed:.1f} s")
            print(notes[-1], flush=True)
        if not args.in_process:
            violations = in_run(query_rows(cmd, VIOLATIONS_SQL, env), truth)
            events = in_run(query_rows(cmd, EVENTS_SQL, env), truth)
        truth_v += _tag(truth.violations, seed)
        truth_e += _tag(truth.camera_events, seed)
        look_v += _tag(truth.violation_lookalikes, seed)
        look_e += _tag(truth.must_not_report, seed)
        got_v += _tag(violations, seed)
        got_e += _tag(events, seed)
        cameras += len(truth.meta["cameras"])
        hours = truth.meta["hours"]
        horizon = truth.meta["end_ts"]

    v_scores = score_episodes(truth_v, got_v, args.merge_gap, args.tolerance, horizon=horizon)
    e_scores = score_episodes(truth_e, got_e, args.merge_gap, args.tolerance, horizon=horizon)
    cold = [r for r in truth_e if r.get("cold_start")]
    cold_scores = score_episodes(cold, got_e, args.merge_gap, args.tolerance, horizon=horizon)
    fa_e = false_alarms_per_camera_day(
        look_e, got_e, cameras=cameras, hours=hours, tolerance_s=args.tolerance, truth=truth_e
    )
    fa_v = false_alarms_per_camera_day(
        look_v, got_v, cameras=cameras, hours=hours, tolerance_s=args.tolerance, truth=truth_v
    )
    by_scenario: dict[str, int] = {}
    for r in look_v:
        by_scenario[r["scenario"]] = by_scenario.get(r["scenario"], 0) + 1
    lines = [
        *table(v_scores, "violation class"),
        "",
        *table(e_scores, "camera event"),
        "",
        _recall_line("Cold starts (turned, blurred, dark in the first 30 min)", cold_scores),
        "",
        *false_alarm_lines(fa_e, "camera-event look-alikes"),
        *false_alarm_lines(
            fa_v,
            "violation look-alikes ("
            + ", ".join(f"{k} {n}" for k, n in sorted(by_scenario.items()))
            + ")",
        ),
        "",
        *done_when(v_scores, e_scores, fa_v, fa_e),
    ]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "violations": v_scores.as_dict(),
                    "camera_events": e_scores.as_dict(),
                    "cold_starts": cold_scores.as_dict(),
                    "false_alarms": fa_e.as_dict(),
                    "violation_false_alarms": fa_v.as_dict(),
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
        label = f" - {args.label}" if args.label else ""
        section = [
            "",
            f"## Detection quality{label}: {args.cameras} cameras x {args.hours:g} h, "
            f"seeds {', '.join(map(str, seeds))} pooled, profile {args.profile} ({now})",
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
