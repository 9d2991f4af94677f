"""Feed a replay file through the camera app's engines in process; print the episodes.

    python bench/quality_feed.py REPLAY.jsonl OUT.json

Run as a script path (not ``-m``), so that ``PYTHONPATH`` alone picks which build's
``stream_apps`` it measures: ``PYTHONPATH=/path/to/other/checkout python
bench/quality_feed.py ...`` scores another version on the same file. It uses only
`stream_apps.pipelines.camera.CameraPipeline` (decode, engines, suppression
wiring), one partition, the watermark advanced every 100 records as the shell's
ticks do, and keeps each episode's latest state (closed wins over open), as
``bk.violations FINAL`` / ``bk.camera_events FINAL`` would.
"""

from __future__ import annotations

import json
import sys
import time

import msgspec

from schemas.records import TOPIC_CAMERA_EVENTS, TOPIC_VIOLATIONS, CameraEvent, Violation
from stream_apps.pipelines.camera import CameraPipeline


class _Line(msgspec.Struct):
    topic: str
    key: str
    value: msgspec.Raw


def main(argv: list[str]) -> int:
    src, dst = argv
    pipe = CameraPipeline()
    decoder = msgspec.json.Decoder(_Line)
    episodes: dict[str, dict] = {}
    events: dict[str, dict] = {}
    n = 0
    t0 = time.perf_counter()

    def keep(outputs) -> None:
        for o in outputs:
            if o.topic == TOPIC_VIOLATIONS:
                v = msgspec.json.decode(o.value, type=Violation)
                row = msgspec.to_builtins(v)
                old = episodes.get(v.violation_id)
                if old is None or old["state"] != "closed":
                    episodes[v.violation_id] = row
            elif o.topic == TOPIC_CAMERA_EVENTS:
                e = msgspec.json.decode(o.value, type=CameraEvent)
                row = msgspec.to_builtins(e)
                old = events.get(e.event_id)
                if old is None or old["state"] != "closed":
                    events[e.event_id] = row

    with open(src, "rb") as fh:
        for raw in fh:
            line = decoder.decode(raw)
            keep(pipe.handle(line.topic, 0, n, line.key.encode(), bytes(line.value)))
            n += 1
            if n % 100 == 0:
                keep(pipe.advance(0))
    keep(pipe.advance(0))
    elapsed = time.perf_counter() - t0
    with open(dst, "w") as out:
        json.dump(
            {
                "violations": list(episodes.values()),
                "camera_events": list(events.values()),
                "records": n,
                "seconds": elapsed,
            },
            out,
        )
    print(f"{n} records in {elapsed:.1f} s ({n / elapsed:,.0f}/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
