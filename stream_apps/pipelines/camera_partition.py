"""One camera partition's engines and clocks: the rules of time on a partition.

Each input of a partition (detections, camera status) has its own clock, moved
only by cameras whose records step sanely (MAX_STEP_S); records too far ahead
of it (MAX_FUTURE_S) are refused, unless they are the partition resuming after
a silence (RESUME_AFTER_S). CameraPipeline (pipelines/camera.py) applies these
rules record by record; this module holds the state and the constants.
"""

from __future__ import annotations

import heapq
from math import inf
from typing import Any

from schemas.records import TOPIC_CAMERA_STATUS, TOPIC_DETECTIONS, CameraStatus
from stream_apps.engines.violations import ViolationEngine, ViolationParams

MAX_FUTURE_S = 300.0
"""A record stamped further than this ahead of its input's clock on the
partition is dead-lettered."""

RESUME_AFTER_S = 60.0
"""Replay: records of one camera that are all "future" against a partition
input whose other cameras send nothing in between are the partition resuming
after a silence (every camera of a kitchen offline together, or the only camera
of a small fleet), not a broken clock: once such a run of the camera's own
records, each within MAX_STEP_S of the previous, spans this long, they are all
processed and move the clock. A record of any other camera in between proves
the partition was not silent: the held records are then checked again, and
those still ahead are dead letters (so one broken clock still cannot move the
others). The offline rule's 60 s of silence is the same bound: a camera that
sends nothing for longer is offline anyway. Live, the wall clock moves a silent
partition, so no record is held."""

MAX_HELD_FUTURE = 1000
"""Held future records per partition input; past this the oldest run is refused."""

MAX_STEP_S = 120.0
"""A camera's record moves its input's clock only when it is at most this far
after the same camera's previous record on that input: a camera whose clock
jumps (+290 s per frame, say) keeps its own time but never drags the clock of
the other cameras on the partition. A camera's first record, or its first after
an outage, moves the clock from its next record on."""

CLOCK_TOPICS = frozenset({TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS})
"""Inputs whose progress reports carry the partition's watermark."""

MAX_HELD_STATUS = 100_000
"""Status records waiting for the frames to catch up, per partition; past this
the oldest is processed early rather than memory growing."""


class PartitionEngines:
    """The engines owning one partition's cameras, its clocks and held status.

    Each input (detections, camera status) has its own clock: the newest event
    time of the records it has read, where a camera counts only while it steps
    by at most MAX_STEP_S (per-camera clocks: one broken clock cannot move the
    others). Each topic partition is read in order, so an input's clock - and
    the future guard checked against it - does not depend on how the consumer
    interleaves the topics.

    The watermark (the clock that decides silence) is the detections clock;
    when the shell reports the detections input idle (nothing more to read),
    the status clock moves it too, so heartbeats alone still move time. Status
    records are held until the watermark reaches their ``ts`` and then fed in
    event-time order with the frames.
    """

    def __init__(self, violation_params: ViolationParams, health_factory) -> None:
        self.health = health_factory() if health_factory else None
        if self.health is not None and hasattr(self.health, "self_clocked"):
            self.health.self_clocked = False  # the partition clock below moves it
        suppressed = self.health.suppressing if self.health is not None else None
        self.violations = ViolationEngine(violation_params, suppressed_by=suppressed)
        self.watermark = float("-inf")
        # (ts, arrival, status, offset): the offset lets a checkpoint leave held
        # records unprocessed (they are read again) instead of carrying them.
        self.held_status: list[tuple[float, int, CameraStatus, int]] = []
        self._held_seq = 0
        # input topic -> its clock; (topic, camera) -> that camera's newest ts there.
        self.input_clock: dict[str, float] = {}
        self.camera_clock: dict[tuple[str, str], float] = {}
        self.idle: set[str] = set()
        # Replay: per (input, camera), a run of records ahead of the input's clock
        # waiting to show a resumption (RESUME_AFTER_S): (ts, offset, key, value, record).
        self.held_future: dict[tuple[str, str], list[tuple[float, int, Any, Any, Any]]] = {}
        # Acknowledged angle changes waiting for the clock: (ts, seq, (cameras, members)).
        self.held_acks: list[tuple[float, int, tuple[tuple[str, ...], frozenset[str]]]] = []
        # The first value of the detections clock: where the partition's frames
        # begin. A function of that topic partition's order alone, so the ops
        # app can start its rates there whatever it read first.
        self.origin: float | None = None

    def observe(self, topic: str, camera_id: str, ts: float) -> None:
        """A valid record of ``camera_id`` on ``topic`` at ``ts``: move the clocks."""
        key = (topic, camera_id)
        prev = self.camera_clock.get(key)
        if prev is not None and ts <= prev:
            return
        self.camera_clock[key] = ts
        # A camera's first record (or a jump) is not trusted: only a second one
        # within MAX_STEP_S of it moves the clock, so one far-future first
        # frame of a fresh partition cannot set the clock of the others.
        if prev is not None and ts - prev <= MAX_STEP_S and ts > self.input_clock.get(topic, -inf):
            self.input_clock[topic] = ts
            if self.origin is None and topic == TOPIC_DETECTIONS:
                self.origin = ts

    def clock_of(self, topic: str) -> float:
        return self.input_clock.get(topic, -inf)

    def effective_clock(self) -> float:
        """The watermark the engines may move to now (see the class doc)."""
        clock = self.clock_of(TOPIC_DETECTIONS)
        if TOPIC_DETECTIONS in self.idle:
            clock = max(clock, self.clock_of(TOPIC_CAMERA_STATUS))
        return max(self.watermark, clock)

    def hold(self, status: CameraStatus, offset: int) -> None:
        self._held_seq += 1
        heapq.heappush(self.held_status, (status.ts, self._held_seq, status, offset))
        if len(self.held_status) > MAX_HELD_STATUS:
            self.watermark = max(self.watermark, self.held_status[0][0])

    def first_held_offset(self) -> int | None:
        return min((h[3] for h in self.held_status), default=None)

    def first_held_future(self, topic: str) -> int | None:
        return min(
            (run[0][1] for (t, _), run in self.held_future.items() if t == topic and run),
            default=None,
        )

    def release_status(self, upto: float) -> list[CameraStatus]:
        held = self.held_status
        out = []
        while held and held[0][0] <= upto:
            out.append(heapq.heappop(held)[2])
        return out
