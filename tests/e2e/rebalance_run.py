"""Replay a feed through two camera workers in one group; SIGKILL one mid-stream.

Run as a subprocess by test_rebalance.py (the embedded store is one chdb path
per process). The survivor takes the dead worker's partitions (a rebalance),
restores their checkpoints and finishes alone. Prints what was stored.
Usage: python rebalance_run.py FEED.jsonl KILL_FRACTION (above 1: no kill)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from brightkitchen.replay import read_envelopes
from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import load
from schemas.records import TOPIC_REGISTRY

QUERIES = {
    "violations": "SELECT violation_id, camera_id, cls, state, started_at, detected_at, "
    "ended_at, frames FROM bk.violations FINAL ORDER BY violation_id",
    "camera_events": "SELECT event_id, camera_id, kind, state, started_at, detected_at, "
    "ended_at FROM bk.camera_events FINAL ORDER BY event_id",
    "alerts": "SELECT alert_id, cls, state, members, created_at, revision "
    "FROM bk.alerts FINAL ORDER BY alert_id",
}
SECOND = "cameras-2"


def main(feed: Path, kill_fraction: float) -> None:
    with PipelineRuntime(load()) as rt:
        # A second camera worker in the same consumer group: the partitions split.
        rt.workers[SECOND] = rt._spawn_worker("cameras")
        envelopes = [env for _, env in read_envelopes(feed)]
        for env in envelopes:
            if env.topic == TOPIC_REGISTRY:
                rt.publish(env.topic, env.key, bytes(env.value))
        rt.flush()
        rt.wait_until(rt.unprocessed, "the registry")
        rest = [env for env in envelopes if env.topic != TOPIC_REGISTRY]
        total = len(rest)
        for env in rest:
            rt.publish(env.topic, env.key, bytes(env.value))
        rt.flush()
        killed = False

        def kill_midway(left: dict) -> None:
            nonlocal killed
            done = total - sum(left.values())
            if not killed and done >= kill_fraction * total:
                worker = rt.workers.pop(SECOND)  # no longer expected to be alive
                worker.kill()
                worker.wait()
                killed = True
                print(f"killed the second worker at {done}/{total}", file=sys.stderr)

        rt.wait_until(rt.unprocessed, "the stream apps", on_tick=kill_midway)
        assert killed or kill_fraction > 1, "the stream finished before the kill"
        rt.wait_until(rt.unstored, "the sink")
        out = {name: rt.client.query(sql).result_rows for name, sql in QUERIES.items()}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
