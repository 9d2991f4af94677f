"""Engine throughput on one replay file, for comparing two builds in one session.

    PYTHONPATH=/path/to/build python bench/engines_ab.py REPLAY.jsonl [--repeat 3]

Run as a script path (not ``-m``) so ``PYTHONPATH`` alone picks the build whose
`stream_apps.engines` are timed; the frames are decoded from the same file
for every build, so both see identical input (unlike ``bench.engines``, whose
frames come from each build's own simulator). Prints one JSON line: best-of
frames/s of the violation engine, the camera-health engine, and both together.
"""

from __future__ import annotations

import argparse
import json
import time

import msgspec

from schemas.records import TOPIC_DETECTIONS, FrameDetections
from stream_apps.engines.camera_health import CameraHealthEngine
from stream_apps.engines.violations import ViolationEngine


class _Line(msgspec.Struct):
    topic: str
    value: msgspec.Raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("replay")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    dec = msgspec.json.Decoder(_Line)
    frames = []
    with open(args.replay, "rb") as fh:
        for raw in fh:
            line = dec.decode(raw)
            if line.topic == TOPIC_DETECTIONS:
                frames.append(msgspec.json.decode(line.value, type=FrameDetections))

    def violations() -> float:
        feed = ViolationEngine().feed
        t = time.perf_counter()
        for f in frames:
            feed(f)
        return time.perf_counter() - t

    def health() -> float:
        feed = CameraHealthEngine().feed
        t = time.perf_counter()
        for f in frames:
            feed(f)
        return time.perf_counter() - t

    def both() -> float:
        h = CameraHealthEngine()
        v = ViolationEngine(suppressed_by=h.suppressing)
        hf, vf = h.feed, v.feed
        t = time.perf_counter()
        for f in frames:
            hf(f)
            vf(f)
        return time.perf_counter() - t

    out = {"frames": len(frames)}
    for name, fn in (("violations", violations), ("health", health), ("both", both)):
        out[name] = len(frames) / min(fn() for _ in range(args.repeat))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
