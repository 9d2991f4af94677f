"""Full-schema frame assembly: ``payload-type=0`` sends one message per object.

Messages of one frame are grouped by :class:`FullSchemaFrames`: by
``frameId`` when the message carries one; otherwise consecutive messages of
a sensor whose ``@timestamp`` lies within ``frame_gap_s`` of the frame's
first message, and whose object id has not been seen in it yet (the
msg2p-newapi path stamps every message with its own wall-clock time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from inference_workers.deepstream.payloads import (
    _UNTRACKED,
    DeepStreamPayloadError,
    _full_sensor,
    parse_timestamp,
)


class _Open(NamedTuple):
    frame_id: Any
    ts: float
    object_ids: set
    messages: list
    tags: list


class FullSchemaFrames:
    """Groups full-schema messages (one object each) into frames.

    A message belongs to its sensor's open frame when both carry the same
    ``frameId``; without one, when its ``@timestamp`` is within ``frame_gap_s``
    of the open frame's first message and its object id is new in that frame.
    A frame is complete when a message of another frame of the same sensor
    arrives, or on :meth:`flush`. Each message may carry a ``tag`` (the bridge
    passes its source offset), returned with the frame.
    """

    def __init__(self, frame_gap_s: float = 0.02) -> None:
        self.frame_gap_s = frame_gap_s
        self._open: dict[str, _Open] = {}

    def _same_frame(self, cur: _Open, fid: Any, ts: float, oid: Any) -> bool:
        if fid is not None or cur.frame_id is not None:
            return fid == cur.frame_id
        if oid is not None and oid in cur.object_ids and str(oid) not in _UNTRACKED:
            return False
        return abs(ts - cur.ts) <= self.frame_gap_s

    def add(self, message: Mapping[str, Any], tag: Any = None) -> Iterator[tuple[list, list]]:
        sensor = _full_sensor(message)
        if sensor is None:
            raise DeepStreamPayloadError("full payload without sensor.id")
        ts = parse_timestamp(message.get("@timestamp"))
        fid = message.get("frameId", message.get("frame_id"))
        obj = message.get("object")
        oid = obj.get("id") if isinstance(obj, Mapping) else None
        cur = self._open.get(sensor)
        if cur is not None and not self._same_frame(cur, fid, ts, oid):
            del self._open[sensor]
            yield cur.messages, cur.tags
            cur = None
        if cur is None:
            cur = self._open[sensor] = _Open(fid, ts, set(), [], [])
        if oid is not None:
            cur.object_ids.add(oid)
        cur.messages.append(message)
        cur.tags.append(tag)

    def flush(self) -> Iterator[tuple[list, list]]:
        opened, self._open = self._open, {}
        for cur in opened.values():
            yield cur.messages, cur.tags

    def open_tags(self) -> Iterator[Any]:
        """Tags of the messages still held in open frames."""
        for cur in self._open.values():
            yield from cur.tags
