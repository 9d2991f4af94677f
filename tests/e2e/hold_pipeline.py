"""Replay a feed, print READY, and keep the pipeline (and its /metrics) up until stdin closes.

Run as a subprocess by test_paging.py: Prometheus scrapes the live ops worker.
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
        sys.stdin.read()  # the test closes stdin when it is done
