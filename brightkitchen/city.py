"""The `city` profile: a simulated city's cameras at 1 fps, real-time pace, whole pipeline.

Run by ``brightkitchen demo --profile city`` (10,000 cameras for a minute by
default) and by ``python -m bench.city`` (which records the report).

The fleet (frames at 1 fps and a status heartbeat every 10 s per camera:
~1.1 x cameras records/s) is generated and encoded up front, so that the
publisher only pays for producing; it is then published on the wall clock at
its own event-time pace into one embedded pipeline (Tansu, camera worker, ops
worker, sink into chdb: `PipelineRuntime`). Every 5 s a line says how far the
publisher is behind its schedule and how many records the stream apps and the
sink have still to reach, counted from the offsets sent and the progress
reported, never from consumer lag. At the end it waits for the pipeline to
drain and says whether this machine keeps up.

Bounded on purpose: the embedded broker keeps every record in memory (~400 B
plus the ~1.4 KB value each), so cameras x seconds x 1.1 stays under
`MAX_RECORDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from brightkitchen.runtime import PipelineError, PipelineRuntime
from brightkitchen.settings import Settings
from inference_workers.simulator import FleetConfig, simulate_timed
from schemas.records import TOPIC_REGISTRY, encode

MAX_RECORDS = 1_500_000
SAMPLE_EVERY_S = 5.0


def encoded_fleet(
    cameras: int, seconds: float, seed: int = 7, violation_boost: float = 1.0
) -> list[tuple[float, str, str, bytes]]:
    """Simulated records as (publication time, topic, key, encoded value), in order.

    Health scenarios are off (the planner needs hours of event time to place
    them); the health engine still sees every frame and status.
    """
    config = FleetConfig.for_profile(
        "violations_only", cameras=cameras, duration_s=seconds, seed=seed
    )
    if violation_boost != 1.0:
        classes = {
            k: replace(p, rate_per_camera_hour=p.rate_per_camera_hour * violation_boost)
            for k, p in config.classes.items()
        }
        config = replace(config, classes=classes)
    return [(pub, topic, key, encode(rec)) for pub, topic, key, rec in simulate_timed(config)]


@dataclass
class CityReport:
    cameras: int
    seconds: float
    partitions: int
    records: int
    published_s: float
    processed_s: float  # wall seconds from the first frame until all processed (inf: stalled)
    stored_s: float
    at_end: tuple[int, int]  # unprocessed, unstored when publishing ended
    # (wall s, publisher behind schedule s, unprocessed, unstored) every SAMPLE_EVERY_S
    samples: list[tuple[float, float, int, int]] = field(default_factory=list)
    failure: str = ""

    @property
    def offered(self) -> float:
        return self.records / self.seconds

    @property
    def sustained(self) -> float:
        """Records/s processed end to end (up to the last sample before a stall)."""
        if self.failure and self.samples:
            t, _, unprocessed, _ = self.samples[-1]
            return (self.records - unprocessed) / t
        return self.records / self.processed_s

    @property
    def keeps_up(self) -> bool:
        return self.processed_s < self.seconds * 1.1 and self.stored_s < self.seconds * 1.1 + 5

    def markdown(self) -> str:
        lag = max(0.0, self.offered - self.sustained)
        lines = [
            f"{self.cameras:,} cameras at 1 fps for {self.seconds:g} s of event time: "
            f"{self.records:,} records ({self.offered:,.0f} records/s offered), "
            f"{self.partitions} partitions, one camera worker, one ops worker, one sink (chdb).",
            "",
            "| wall s | publisher behind schedule s | unprocessed records | unstored records |",
            "|---|---|---|---|",
            *[f"| {t:.0f} | {b:.1f} | {u:,} | {s:,} |" for t, b, u, s in self.samples],
            "",
            f"Published in {self.published_s:.0f} s (schedule {self.seconds:g} s); at the end "
            f"of publishing {self.at_end[0]:,} records were unprocessed and {self.at_end[1]:,} "
            f"unstored; all processed after {self.processed_s:.0f} s, all stored after "
            f"{self.stored_s:.0f} s. Sustained {self.sustained:,.0f} records/s end to end = "
            f"{self.sustained / self.offered:.0%} of the offered load: "
            f"**{'keeps up' if self.keeps_up else 'does not keep up'}** on this machine; "
            f"processing lag grows by about {lag:,.0f} records ({lag / self.offered:.2f} s of "
            "event time) per second.",
        ]
        if self.failure:
            lines += ["", f"**The pipeline stalled**: {self.failure}"]
        return "\n".join(lines)


def run_city(
    settings: Settings,
    cameras: int = 10_000,
    seconds: float = 60.0,
    drain_timeout_s: float = 300.0,
    log: Callable[[str], None] = print,
    log_dir: Path | None = None,
) -> CityReport:
    """Publish ``cameras`` at 1 fps for ``seconds`` of wall time; report the lag."""
    expected = int(cameras * seconds * 1.1)
    if expected > MAX_RECORDS:
        raise ValueError(
            f"{cameras:,} cameras x {seconds:g} s is ~{expected:,} records: over the embedded "
            f"broker's in-memory bound of {MAX_RECORDS:,}; use fewer cameras or seconds"
        )
    g0 = time.perf_counter()
    records = encoded_fleet(cameras, seconds)
    registry = [r for r in records if r[1] == TOPIC_REGISTRY]
    feed = [r for r in records if r[1] != TOPIC_REGISTRY]
    log(f"generated {len(records):,} records in {time.perf_counter() - g0:.0f} s")
    start_ts = feed[0][0]
    samples: list[tuple[float, float, int, int]] = []
    behind = [0.0]
    done = threading.Event()
    failure = ""
    with PipelineRuntime(settings, log=log, log_dir=log_dir) as rt:
        for _, topic, key, value in registry:
            rt.publish(topic, key, value)
        rt.flush()
        rt.wait_until(rt.unprocessed, "the registry")

        def monitor() -> None:
            t0 = time.monotonic()
            while not done.wait(SAMPLE_EVERY_S):
                unprocessed = sum(rt.unprocessed().values())
                unstored = sum(rt.unstored().values())
                samples.append((time.monotonic() - t0, behind[0], unprocessed, unstored))
                log(
                    f"t={samples[-1][0]:5.0f} s  publisher behind {behind[0]:5.1f} s  "
                    f"unprocessed {unprocessed:8,}  unstored {unstored:8,}"
                )

        watcher = threading.Thread(target=monitor, daemon=True)
        wall0 = time.monotonic()
        watcher.start()
        for i, (pub, topic, key, value) in enumerate(feed):
            due = wall0 + (pub - start_ts)
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)  # pacing to the feed's own clock
            elif i % 1000 == 0:
                behind[0] = now - due
            rt.publish(topic, key, value)
        rt.end_input()
        published_s = time.monotonic() - wall0
        at_end = (sum(rt.unprocessed().values()), sum(rt.unstored().values()))
        try:
            rt.wait_until(rt.unprocessed, "the stream apps", stall_timeout_s=drain_timeout_s)
            processed_s = time.monotonic() - wall0
            rt.wait_until(rt.unstored, "the sink", stall_timeout_s=drain_timeout_s)
            stored_s = time.monotonic() - wall0
        except PipelineError as exc:
            # A stall at city scale is a finding to report, not a crash of the run.
            processed_s = stored_s = float("inf")
            worker_log = rt.log_dir / "stream-cameras.log"
            text = worker_log.read_text(errors="replace") if worker_log.exists() else ""
            errors = [ln for ln in text.splitlines() if "ERROR" in ln]
            failure = f"{exc}; first worker error: {errors[0][:300] if errors else 'none'}"
        done.set()
        watcher.join()
    return CityReport(
        cameras=cameras,
        seconds=seconds,
        partitions=settings.partitions,
        records=len(feed),
        published_s=published_s,
        processed_s=processed_s,
        stored_s=stored_s,
        at_end=at_end,
        samples=samples,
        failure=failure,
    )
