"""Where a replay's input ends: the file the runtime writes once it has published
everything, and the camera host reads.

A broker cannot say that a topic will get no more records (and the embedded
broker's high watermark lags, so "caught up" is not "done"); the publisher can.
Once a camera partition has read its frames up to the offset named here, its
detections input is idle: the status clock moves the watermark too, so a
heartbeats-only tail reaches its last event time (DESIGN principle 2).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from schemas.records import TOPIC_DETECTIONS


def write_input_end(path: Path, last_offsets: dict[int, int]) -> None:
    """Record each detections partition's last published offset (-1: none), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    body = {TOPIC_DETECTIONS: {str(p): o for p, o in sorted(last_offsets.items())}}
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, path)


def read_input_end(path: Path) -> dict[int, int] | None:
    """The last offset per detections partition, or None while the input goes on
    (no file yet). A partition the file does not name had no frames at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        ends = json.loads(text)[TOPIC_DETECTIONS]
        return {int(p): int(o) for p, o in ends.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"input end file {path} is not what the runtime writes: {exc}") from exc
