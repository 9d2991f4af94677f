"""Replay a feed while SIGKILLing the stream worker once, then print what was stored.

Run as a subprocess by test_crash_recovery.py (the embedded store is one chdb
path per process). Usage: python crash_run.py FEED.jsonl KILL_FRACTION (above 1: no kill)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from brightkitchen.replay import read_envelopes
from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import load
from schemas.records import TOPIC_REGISTRY

VIOLATIONS = (
    "SELECT violation_id, camera_id, cls, state, started_at, detected_at, ended_at, frames "
    "FROM bk.violations FINAL ORDER BY violation_id"
)
EVENTS = (
    "SELECT event_id, camera_id, kind, state, started_at, detected_at, ended_at "
    "FROM bk.camera_events FINAL ORDER BY event_id"
)


def main(feed: Path, kill_fraction: float) -> None:
    with PipelineRuntime(load()) as rt:
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
            if not killed and total - sum(left.values()) >= kill_fraction * total:
                rt.kill_worker()
                killed = True
                print(f"killed at {total - sum(left.values())}/{total}", file=sys.stderr)
                rt.restart_worker()

        rt.wait_until(rt.unprocessed, "the stream apps", on_tick=kill_midway)
        assert killed or kill_fraction > 1, "the worker finished before it could be killed"
        rt.wait_until(rt.unstored, "the sink")
        out = {
            "violations": rt.client.query(VIOLATIONS).result_rows,
            "camera_events": rt.client.query(EVENTS).result_rows,
        }
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
