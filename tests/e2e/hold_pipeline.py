"""Replay a feed, print READY, and keep the pipeline (and its /metrics) up until stdin closes.

Run as a subprocess by test_paging.py (Prometheus scrapes the live ops worker)
and test_runtime_signals.py (which stops it with SIGTERM). After READY it
prints the pids of the broker and the workers it started.
Usage: python hold_pipeline.py FEED.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

from brightkitchen.replay import replay
from brightkitchen.runtime import PipelineRuntime
from brightkitchen.settings import load

if __name__ == "__main__":
    with PipelineRuntime(load()) as rt:
        replay(Path(sys.argv[1]), rt)
        print("READY", flush=True)
        pids = [w.pid for w in rt.workers.values()]
        if rt.broker is not None:
            pids.append(rt.broker.process.pid)
        print("PIDS", *pids, flush=True)
        sys.stdin.read()  # the test closes stdin when it is done
