"""Faust's own ceiling: an agent that only counts raw records, in batches.

    BK_KAFKA_BOOTSTRAP=... BK_BENCH_TOTAL=N BK_BENCH_OUT=f.json python -m bench.faust_bare worker

The same app settings as the camera app (``make_app``: raw bytes, the same
``take_events`` batching, consumer fetch wait and buffers) reading the same
three input topics, with no decoding, no engines, no outputs and no commits
beyond Faust's own. When it has seen ``BK_BENCH_TOTAL`` records it writes the
wall and CPU time from its first record to ``BK_BENCH_OUT`` (JSON). Run by
``bench.stream_stage`` so that the camera stage is compared with the framework's
ceiling in the same run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from brightkitchen.settings import load
from schemas.records import TOPIC_CAMERA_STATUS, TOPIC_DETECTIONS, TOPIC_REGISTRY
from stream_apps.app import make_app

settings = load()
TOTAL = int(os.environ.get("BK_BENCH_TOTAL", "0"))
OUT = Path(os.environ.get("BK_BENCH_OUT", "faust-bare.json"))

app = make_app(settings.app_id, settings.web_port, settings)
inputs = app.topic(TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)


@app.agent(inputs)
async def count(stream):
    seen = 0
    start: tuple[float, float] | None = None
    async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
        if start is None:
            start = (time.perf_counter(), time.process_time())
            first = len(batch)
        seen += len(batch)
        if seen >= TOTAL and not OUT.exists():
            wall = time.perf_counter() - start[0]
            cpu = time.process_time() - start[1]
            tmp = OUT.with_suffix(".tmp")  # the harness polls for OUT: make it appear whole
            tmp.write_text(json.dumps({"records": seen - first, "wall": wall, "cpu": cpu}))
            tmp.replace(OUT)


if __name__ == "__main__":
    app.main()
