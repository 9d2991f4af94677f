"""`brightkitchen demo`: a simulated fleet through the whole embedded pipeline.

The simulator plays a fleet at ``speed`` x real time into the broker, the
stream worker debounces it, the sink stores it; a live panel shows frames/s and
open violations, and a summary compares what was stored with the simulator's
ground truth.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from rich.console import Console
from rich.live import Live
from rich.table import Table

from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import Settings
from inference_workers.simulator import FleetConfig, ground_truth, iter_realtime
from inference_workers.simulator.scoring import score_episodes
from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    encode,
)


@dataclass
class LiveCounts:
    """What the sink has stored so far, updated from its thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    open_violations: dict[str, str] = field(default_factory=dict)  # id -> class
    closed_violations: Counter = field(default_factory=Counter)
    open_events: dict[str, str] = field(default_factory=dict)
    closed_events: Counter = field(default_factory=Counter)
    dead_letters: int = 0

    def observe(self, topic: str, records: list[Any]) -> None:
        with self.lock:
            if topic == TOPIC_VIOLATIONS:
                _track(records, "violation_id", "cls", self.open_violations, self.closed_violations)
            elif topic == TOPIC_CAMERA_EVENTS:
                _track(records, "event_id", "kind", self.open_events, self.closed_events)
            elif topic == TOPIC_DLQ:
                self.dead_letters += len(records)


def _track(records, id_field: str, kind_field: str, open_: dict, closed: Counter) -> None:
    for r in records:
        rid = getattr(r, id_field)
        if r.state == "open":
            open_[rid] = getattr(r, kind_field)
        elif open_.pop(rid, None) is not None or r.state == "closed":
            closed[getattr(r, kind_field)] += 1


def run_demo(
    settings: Settings,
    console: Console,
    cameras: int = 50,
    minutes: float = 2.0,
    speed: float = 10.0,
    seed: int = 7,
    source: str = "simulator",
) -> int:
    if source == "video":
        return run_video_demo(settings, console, min(cameras, 16), minutes)
    if source != "simulator":
        raise ValueError(f"unknown demo source {source!r}: simulator or video")
    config = FleetConfig(cameras=cameras, duration_s=minutes * 60 * speed, seed=seed)
    counts = LiveCounts()
    console.print(
        f"[bold]BrightKitchen demo[/bold]: {cameras} simulated cameras, "
        f"{config.duration_s / 60:.0f} min of kitchen time at {speed:g}x "
        f"(about {minutes:g} min)"
    )
    with PipelineRuntime(
        settings, log=lambda s: console.print(f"  {s}"), observe=counts.observe
    ) as rt:
        records = iter_realtime(config, speed)
        registry_done = False
        published = 0
        started = time.monotonic()
        last_ts = config.start_ts
        rate_window: list[tuple[float, int]] = [(started, 0)]
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            for topic, key, record in records:
                if topic != TOPIC_REGISTRY and not registry_done:
                    # Owners first, so no frame is processed before its camera is known.
                    rt.flush()
                    rt.wait_until(rt.unprocessed, "the registry")
                    registry_done = True
                rt.publish(topic, key, encode(record))
                published += 1
                last_ts = getattr(record, "frame_ts", None) or getattr(record, "ts", last_ts)
                now = time.monotonic()
                if now - rate_window[-1][0] >= 0.5:
                    rate_window.append((now, published))
                    rate_window = rate_window[-10:]
                    rt.check_alive()
                    live.update(_panel(counts, rt, published, rate_window, last_ts, config))
            rt.flush()
            live.update(_panel(counts, rt, published, rate_window, last_ts, config))
        console.print("\n  draining: waiting until every record is processed and stored")
        rt.wait_processed_and_stored()
        elapsed = time.monotonic() - started
        _summary(console, rt, config, published, elapsed)
    console.print(
        f"store kept at {settings.store_path}: try "
        '[bold]brightkitchen query "SELECT cls, state, count() FROM bk.violations FINAL '
        'GROUP BY cls, state"[/bold]'
    )
    return 0


def _panel(counts: LiveCounts, rt, published: int, window, last_ts: float, config) -> Table:
    (t0, n0), (t1, n1) = window[0], window[-1]
    rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
    processed = rt.sent_count - sum(rt.unprocessed().values())
    with counts.lock:
        open_v = Counter(counts.open_violations.values())
        closed_v = sum(counts.closed_violations.values())
        open_e = Counter(counts.open_events.values())
        dead = counts.dead_letters
    table = Table(title="live", show_header=False, box=None)
    table.add_row("kitchen time", time.strftime("%H:%M:%S", time.gmtime(last_ts + 8 * 3600)))
    table.add_row("progress", f"{(last_ts - config.start_ts) / config.duration_s:6.1%}")
    table.add_row("records published", f"{published:,} ({rate:,.0f}/s)")
    table.add_row("records processed", f"{max(processed, 0):,}")
    table.add_row(
        "open violations",
        f"{sum(open_v.values())}  " + " ".join(f"{k}:{v}" for k, v in sorted(open_v.items())),
    )
    table.add_row("closed violations", str(closed_v))
    table.add_row(
        "open camera events",
        f"{sum(open_e.values())}  " + " ".join(f"{k}:{v}" for k, v in sorted(open_e.items())),
    )
    table.add_row("dead letters", str(dead))
    return table


def _summary(console: Console, rt, config: FleetConfig, published: int, elapsed: float) -> None:
    rows = rt.client.query(
        "SELECT cls, countIf(state = 'open'), countIf(state = 'closed'), "
        "round(avg(toUnixTimestamp64Milli(detected_at) - toUnixTimestamp64Milli(started_at))"
        " / 1000, 1) FROM bk.violations FINAL GROUP BY cls ORDER BY cls"
    ).result_rows
    table = Table(title="violations stored (bk.violations FINAL)")
    for col in ("class", "open", "closed", "mean decision latency s"):
        table.add_column(col)
    for cls, n_open, n_closed, latency in rows:
        table.add_row(cls, str(n_open), str(n_closed), str(latency))
    console.print(table)
    events = rt.client.query(
        "SELECT kind, countIf(state = 'open'), countIf(state = 'closed') "
        "FROM bk.camera_events FINAL GROUP BY kind ORDER BY kind"
    ).result_rows
    if events:
        table = Table(title="camera events stored (bk.camera_events FINAL)")
        for col in ("kind", "open", "closed"):
            table.add_column(col)
        for kind, n_open, n_closed in events:
            table.add_row(kind, str(n_open), str(n_closed))
        console.print(table)
    detected = [
        dict(zip(("camera_id", "cls", "started_at", "detected_at", "ended_at"), r, strict=True))
        for r in rt.client.query(
            "SELECT camera_id, cls, toUnixTimestamp64Milli(started_at) / 1000, "
            "toUnixTimestamp64Milli(detected_at) / 1000, "
            "toUnixTimestamp64Milli(ended_at) / 1000 FROM bk.violations FINAL"
        ).result_rows
    ]
    truth = ground_truth(config)
    scores = score_episodes(truth.violations, detected, horizon=config.end_ts).overall
    [(frames, dead)] = rt.client.query(
        "SELECT (SELECT count() FROM bk.detections), (SELECT count() FROM bk.dead_letters)"
    ).result_rows

    def figure(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"  # None: nothing to score in a short run

    console.print(
        f"{published:,} records in {elapsed:.0f} s; {frames:,} frames stored; "
        f"{dead} dead letters. Against the simulator's ground truth: "
        f"precision {figure(scores.precision)}, recall {figure(scores.recall)}, "
        f"duplicates/episode {figure(scores.duplicates_per_episode)}"
    )


def run_video_demo(settings: Settings, console: Console, cameras: int, minutes: float) -> int:
    """A real inference worker on generated H.264 files instead of the simulator.

    Needs the ``inference`` extra. The detector is the YOLOv8n ONNX model that
    ships with ``nudenet`` (not a kitchen model: it exercises decoding, batching,
    NMS and the quality signals; its labels map to no violation class, so this
    run shows camera health and throughput, not violations).
    """
    import tempfile
    from pathlib import Path

    try:
        import nudenet

        from inference_workers.synthetic_video import write_h264
        from inference_workers.worker import run_worker
    except ImportError as exc:
        raise RuntimeError(
            f"--source video needs the inference extra ({exc}): pip install -e '.[inference]'"
        ) from None
    from schemas.records import RegistryEntry

    model = Path(nudenet.__file__).parent / "320n.onnx"
    workdir = Path(tempfile.mkdtemp(prefix="bk-video-demo-"))
    console.print(f"  generating {cameras} H.264 clips in {workdir}")
    entries, rows = [], []
    for i in range(cameras):
        clip = workdir / f"cam{i}.mp4"
        write_h264(clip, seconds=20, fps=10, gop=10, width=640, height=360)
        camera_id = f"video-{i:02d}"
        rows.append({"camera_id": camera_id, "url": str(clip), "fps": 1})
        entries.append(
            RegistryEntry(
                v=1,
                camera_id=camera_id,
                kitchen_id=f"k-video-{i // 4}",
                operator_id=f"op-video-{i // 8}",
                operator_name="演示食堂",
                district="演示区",
                station="演示所",
                opening_hours=[["00:00", "24:00"]],
            )
        )
    cameras_file = workdir / "cameras.json"
    cameras_file.write_text(msgspec.json.encode(rows).decode())
    counts = LiveCounts()
    with PipelineRuntime(
        settings, log=lambda s: console.print(f"  {s}"), observe=counts.observe
    ) as rt:
        for entry in entries:
            rt.publish(TOPIC_REGISTRY, entry.camera_id, encode(entry))
        rt.flush()
        rt.wait_until(rt.unprocessed, "the registry")
        stop = threading.Event()
        stats: dict[str, Any] = {}

        def work() -> None:
            stats["worker"] = run_worker(
                cameras_file,
                rt.bootstrap,
                model=model,
                worker_id="demo-video",
                batch_size=8,
                stop_event=stop,
                publisher=RuntimePublisher(rt),
            )

        thread = threading.Thread(target=work, name="bk-video-worker", daemon=True)
        thread.start()
        console.print(f"  inference worker on {cameras} looping clips for {minutes:g} min")
        deadline = time.monotonic() + minutes * 60
        while time.monotonic() < deadline and thread.is_alive():
            rt.check_alive()
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))  # pacing the demo
            console.print(f"  rows stored so far: {rt.sink.stats.rows:,}")
        stop.set()
        thread.join(timeout=60)
        rt.wait_processed_and_stored()
        worker = stats.get("worker")
        [(frames, events)] = rt.client.query(
            "SELECT (SELECT count() FROM bk.detections), (SELECT count() FROM bk.camera_events)"
        ).result_rows
        console.print(
            f"worker: {worker}\n{frames:,} analysed frames stored, {events} camera events"
        )
    return 0


class RuntimePublisher:
    """The worker's publisher interface over the runtime's producer, so every
    record it sends is counted and waited for like a replayed one."""

    def __init__(self, rt: PipelineRuntime) -> None:
        self.rt = rt

    def detections(self, rec: Any) -> None:
        self.rt.publish(TOPIC_DETECTIONS, rec.camera_id, encode(rec))

    def status(self, rec: Any) -> None:
        self.rt.publish(TOPIC_CAMERA_STATUS, rec.camera_id, encode(rec))

    def poll(self, timeout: float = 0.0) -> None:
        self.rt.producer.poll(timeout)

    def close(self, timeout: float = 15.0) -> int:
        return self.rt.producer.flush(timeout)
