"""Replay a feed while a camera worker dies with SIGKILL mid-stream; print what was stored.

Run as a subprocess by test_crash_recovery.py (the embedded store is one chdb
path per process). Modes:

- ``restart``: the only camera worker is killed and a new one started in the
  same consumer group (it restores the checkpoints and re-reads the gap);
- ``rebalance``: two camera workers share the partitions and one is killed;
  the survivor takes its partitions over;
- ``both``: the camera worker and the ops worker are killed at the same moment
  and restarted (each restores its checkpoint and re-reads the gap).

Usage: python fault_run.py FEED.jsonl MODE KILL_FRACTION (above 1: no kill)
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
    "sla_breaches": "SELECT * EXCEPT inserted_at FROM bk.sla_breaches FINAL ORDER BY breach_id",
    "operator_rates": "SELECT * EXCEPT inserted_at FROM bk.operator_rates FINAL ORDER BY rate_id",
}
SECOND = "cameras-2"


def main(feed: Path, mode: str, kill_fraction: float) -> None:
    with PipelineRuntime(load()) as rt:
        if mode == "rebalance":
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
        rt.end_input()
        killed = False

        def kill_midway(left: dict) -> None:
            nonlocal killed
            done = total - sum(left.values())
            if killed or done < kill_fraction * total:
                return
            if mode == "rebalance":
                worker = rt.workers.pop(SECOND)  # no longer expected to be alive
                worker.kill()
                worker.wait()
            else:
                rt.restart_worker("cameras")
                if mode == "both":
                    rt.restart_worker("ops")
            killed = True
            print(f"killed a camera worker ({mode}) at {done}/{total}", file=sys.stderr)

        rt.wait_until(rt.unprocessed, "the stream apps", on_tick=kill_midway)
        assert killed or kill_fraction > 1, "the stream finished before the kill"
        rt.wait_until(rt.unstored, "the sink")
        out = {name: rt.client.query(sql).result_rows for name, sql in QUERIES.items()}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
