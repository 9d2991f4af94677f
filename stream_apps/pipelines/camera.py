"""What the camera stream app does with one record, without any framework.

Inputs keyed by ``camera_id`` (registry, detections, camera status) are
co-partitioned, so each input partition owns a disjoint set of cameras. The
pipeline keeps one set of engines per partition: its state moves with the
partition on a rebalance, and its watermark (the newest event time seen in the
partition) is the clock that decides silence.

The shell (stream_apps/shells/cameras.py) only moves bytes: it hands each record to
``handle`` and produces what comes back. Tests and benchmarks drive this class
directly.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from math import inf
from typing import Any

import msgspec

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    Alert,
    CameraEvent,
    CameraStatus,
    FrameDetections,
    RecordError,
    RegistryEntry,
    Violation,
    decode,
    encode,
)
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.violations import ViolationParams
from stream_apps.pipelines.camera_partition import (
    CLOCK_TOPICS,
    MAX_FUTURE_S,
    MAX_HELD_FUTURE,
    MAX_STEP_S,
    RESUME_AFTER_S,
    PartitionEngines,
)
from stream_apps.pipelines.dlq import dead_letter
from stream_apps.pipelines.output import Output

STATE_TOPIC = "bk.state.cameras.v1"
"""Internal compacted topic: per-camera engine state, partitioned like the inputs."""
MARKER_KEY = "__partition__"
"""Key of the record that closes a checkpoint: watermark, held status, offsets."""
CAMERA_INPUTS = frozenset({TOPIC_REGISTRY, *CLOCK_TOPICS})
"""The partitioned inputs (co-partitioned by camera); bk.alerts.v1 is read whole."""


@dataclass
class PipelineCounters:
    records: int = 0
    covered_by_checkpoint: int = 0
    dead_letters: int = 0
    violations: int = 0
    camera_events: int = 0
    resumed: int = 0
    """Runs of future records accepted as a silent partition resuming (RESUME_AFTER_S)."""
    by_reason: dict[str, int] = field(default_factory=dict)


_json = msgspec.json


def _default_health_factory():
    try:
        from stream_apps.engines.camera_health import CameraHealthEngine
    except ImportError:  # pragma: no cover - the health engine ships with the package
        return None
    return CameraHealthEngine


class CameraPipeline:
    """Decode, route to the partition's engines, encode outputs, dead-letter bad input."""

    def __init__(
        self,
        violation_params: ViolationParams | None = None,
        health_factory: Callable[[], Any] | None | bool = True,
        app_name: str = "cameras",
        wall_clock: Callable[[], float] = time.time,
        live: bool = False,
    ) -> None:
        self.violation_params = violation_params or ViolationParams()
        self.health_factory = (
            _default_health_factory() if health_factory is True else (health_factory or None)
        )
        self.app_name = app_name
        self._wall_clock = wall_clock
        # Live mode (BK_LIVE_CLOCK_LAG_S): the wall clock is part of the clock by contract.
        self.live = live
        self.partitions: dict[int, PartitionEngines] = {}
        self.counters = PipelineCounters()
        # Per partition: the next input offset per topic, the cameras whose state
        # changed since the last checkpoint, and the offsets a restored
        # checkpoint already covers.
        self.next_offsets: dict[int, dict[str, int]] = {}
        self.dirty: dict[int, set[str]] = {}
        self._ack_seq = 0
        self.covered: dict[int, dict[str, int]] = {}

    # -- partitions -----------------------------------------------------------
    def engines(self, partition: int) -> PartitionEngines:
        eng = self.partitions.get(partition)
        if eng is None:
            eng = self.partitions[partition] = PartitionEngines(
                self.violation_params, self.health_factory
            )
        return eng

    def drop(self, partition: int) -> None:
        """Forget a partition (revoked): its state lives on in its checkpoint."""
        self.partitions.pop(partition, None)
        self.next_offsets.pop(partition, None)
        self.dirty.pop(partition, None)
        self.covered.pop(partition, None)

    def expected_offset(self, topic: str, partition: int) -> int:
        """The next offset of ``topic`` this partition's state has not seen."""
        return self.next_offsets.get(partition, {}).get(topic, 0)

    # -- checkpoints ------------------------------------------------------------
    def checkpoint(self, partition: int) -> list[Output]:
        """State records for the cameras changed since the last checkpoint, then a marker.

        Written to STATE_TOPIC's partition ``partition``; compaction keeps the
        latest per camera. Restoring them and resuming at the marker's offsets
        continues exactly where this state was.
        """
        eng = self.partitions.get(partition)
        if eng is None:
            return []
        out = []
        clocks = eng.camera_clock
        for camera_id in sorted(self.dirty.pop(partition, ())):
            state = {
                "violations": eng.violations.snapshot_camera(camera_id),
                "health": eng.health.snapshot_camera(camera_id) if eng.health else None,
                # The camera's own clocks live with its state, not in the marker:
                # a marker listing every camera outgrows the broker's message
                # size at ~10,000 cameras per partition.
                "clock": {
                    t: clocks[(t, camera_id)] for t in CLOCK_TOPICS if (t, camera_id) in clocks
                },
            }
            out.append(Output(STATE_TOPIC, camera_id, _json.encode(state), partition))
        offsets = dict(self.next_offsets.get(partition, {}))
        for topic in CLOCK_TOPICS:  # held future records are read again after a restore
            held_future = eng.first_held_future(topic)
            if held_future is not None:
                offsets[topic] = min(offsets.get(topic, held_future), held_future)
        first_held = eng.first_held_offset()
        if first_held is not None:
            # Held status records are not processed yet: the checkpoint does not
            # cover them, so a restore reads them again (status feeds are
            # idempotent facts, so re-reading processed ones after them is safe).
            offsets[TOPIC_CAMERA_STATUS] = first_held
        marker = {
            "watermark": finite_or_none(eng.watermark),
            "health_clock": finite_or_none(eng.health.clock) if eng.health else None,
            "offsets": offsets,
            "input_clock": dict(eng.input_clock),
            "origin": eng.origin,
        }
        out.append(Output(STATE_TOPIC, MARKER_KEY, _json.encode(marker), partition))
        return out

    def restore(self, partition: int, records: dict[str, bytes]) -> dict[str, int]:
        """Load a partition's checkpoint (latest value per key); return the offsets it covers.

        Records of the inputs below those offsets are skipped when they come
        again; a partition with no checkpoint starts empty and covers nothing.
        """
        self.drop(partition)
        eng = self.engines(partition)
        entries = {k: _json.decode(v) for k, v in records.items() if k != MARKER_KEY}
        for camera_id, state in entries.items():
            eng.violations.restore_camera(camera_id, state["violations"])
        marker = _json.decode(records[MARKER_KEY]) if MARKER_KEY in records else None
        if eng.health is not None:
            clock = marker.get("health_clock") if marker else None
            eng.health.restore_camera_entries(
                {k: e["health"] for k, e in entries.items()},
                inf_from_none(clock),
            )
        if marker is None:
            return {}
        eng.watermark = inf_from_none(marker["watermark"])
        eng.input_clock = dict(marker.get("input_clock") or {})
        eng.origin = marker.get("origin")
        # Checkpoints before the clocks moved into the camera records kept them here.
        eng.camera_clock = {(t, c): ts for t, c, ts in marker.get("camera_clock") or ()}
        for camera_id, state in entries.items():
            for t, ts in (state.get("clock") or {}).items():
                eng.camera_clock[(t, camera_id)] = ts
        self.covered[partition] = dict(marker["offsets"])
        self.next_offsets[partition] = dict(marker["offsets"])
        return dict(marker["offsets"])

    # -- records --------------------------------------------------------------
    def handle(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> list[Output]:
        """One consumed record in; the output records it caused out."""
        if topic == TOPIC_ALERTS:
            return self.handle_alert(partition, offset, key, value)
        covered = self.covered.get(partition)
        if covered and offset < covered.get(topic, 0):
            self.counters.covered_by_checkpoint += 1  # at-least-once redelivery
            return []
        self.counters.records += 1
        eng = self.engines(partition)
        offsets = self.next_offsets.get(partition)
        if offsets is None:
            offsets = self.next_offsets[partition] = {}
        offsets[topic] = offset + 1
        dirty = self.dirty.get(partition)
        if dirty is None:
            dirty = self.dirty[partition] = set()
        try:
            if value is None:
                raise RecordError("empty value (tombstone) on an input topic")
            if topic == TOPIC_DETECTIONS:
                frame = decode(FrameDetections, value)
                return self._timed(eng, partition, topic, frame, frame.frame_ts, offset, key, value)
            if topic == TOPIC_CAMERA_STATUS:
                status = decode(CameraStatus, value)
                return self._timed(eng, partition, topic, status, status.ts, offset, key, value)
            if topic == TOPIC_REGISTRY:
                entry = decode(RegistryEntry, value)
                dirty.add(entry.camera_id)
                eng.violations.set_registry(entry)
                if eng.health is not None:
                    eng.health.set_registry(entry)
                return []
            raise RecordError(f"topic {topic!r} is not an input of the {self.app_name} app")
        except RecordError as exc:
            return [self.dead_letter(str(exc), topic, partition, offset, key, value)]

    def handle_alert(
        self, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> list[Output]:
        """A ``bk.alerts.v1`` record (any partition of that topic): see apply_alert.

        Alerts are not a partitioned input of this app: the shell reads every
        partition of the topic from the start, so no offset is kept for them."""
        try:
            if value is None:
                raise RecordError("empty value (tombstone) on bk.alerts.v1")
            return self.apply_alert(decode(Alert, value))
        except RecordError as exc:
            return [self.dead_letter(str(exc), TOPIC_ALERTS, partition, offset, key, value)]

    def apply_alert(self, alert: Alert) -> list[Output]:
        """Dispositions reach the cameras: an ``angle_changed`` alert an inspector
        acknowledged (state ``verified`` or ``closed``) makes each member camera this
        app holds accept its new view as the baseline, closing its event.

        Alerts are keyed by alert_id, not camera, so every partition this app
        holds gets the acknowledgement, and applies it once its clock has reached
        the acknowledgement's time (a partition restored from an older checkpoint
        first re-reads the frames that opened the event). Only the open event
        listed among the alert's members is acknowledged (a later angle change of
        the same camera needs its own acknowledgement), and a repeat is a
        counted no-op, so the shell may read the alerts again from the start.
        """
        if alert.source != "camera_health" or alert.cls != "angle_changed":
            return []
        if alert.state not in ("verified", "closed"):
            return []
        ts = alert.verified_at if alert.verified_at is not None else alert.updated_at
        ack = (tuple(alert.camera_ids), frozenset(alert.members))
        events: list[Any] = []
        for partition, eng in self.partitions.items():
            if eng.health is None:
                continue
            self._ack_seq += 1
            heapq.heappush(eng.held_acks, (ts, self._ack_seq, ack))
            events += self._release_acks(partition, eng)
        return self._encode(events)

    def _release_acks(self, partition: int, eng: PartitionEngines) -> list[Any]:
        """Apply the acknowledgements the partition's clock has reached."""
        events: list[Any] = []
        held = eng.held_acks
        while held and held[0][0] <= eng.watermark:
            ts, _, (camera_ids, members) = heapq.heappop(held)
            for camera_id in camera_ids:
                if eng.health.has_camera(camera_id):
                    got = eng.health.acknowledge(camera_id, ts, set(members))
                    if got:
                        self.dirty.setdefault(partition, set()).add(camera_id)
                        events += got
        return events

    def set_idle(self, partition: int, topic: str, idle: bool = True) -> None:
        """The shell read everything there is on ``topic``'s ``partition`` (or not).

        An idle detections input no longer holds the clock back: the status
        clock moves the watermark too (a fleet sending only heartbeats). The
        next record of the topic makes it active again.
        """
        eng = self.engines(partition)
        if idle:
            eng.idle.add(topic)
        else:
            eng.idle.discard(topic)

    def clock(self, partition: int) -> float:
        """The partition's watermark (``-inf`` before any event)."""
        eng = self.partitions.get(partition)
        return eng.watermark if eng is not None else float("-inf")

    def advance(self, partition: int, now: float | None = None) -> list[Output]:
        """Move the partition's clock to its watermark (or ``now`` if later)."""
        eng = self.partitions.get(partition)
        if eng is None:
            return []
        clock = eng.effective_clock()
        if now is not None and now > clock:
            clock = now
        eng.watermark = clock
        if eng.watermark == float("-inf"):
            return []
        events: list[Any] = []
        if eng.health is not None:
            for status in eng.release_status(eng.watermark):
                events += eng.health.feed(status)
            events += self._release_acks(partition, eng)
            events += eng.health.advance(eng.watermark)
        events += eng.violations.advance(eng.watermark)
        return self._encode(events)

    def dead_letter(
        self,
        reason: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
    ) -> Output:
        self.counters.dead_letters += 1
        kind = reason.split(":", 1)[0]
        self.counters.by_reason[kind] = self.counters.by_reason.get(kind, 0) + 1
        return dead_letter(
            self.app_name, reason, topic, partition, offset, key, value, self._wall_clock()
        )

    # -- internals ------------------------------------------------------------
    def _timed(
        self,
        eng: PartitionEngines,
        partition: int,
        topic: str,
        record: Any,
        ts: float,
        offset: int,
        key: bytes | None,
        value: bytes,
    ) -> list[Output]:
        """A frame or status: checked against its input's clock, held while it may be
        the partition resuming (RESUME_AFTER_S), then fed."""
        camera = record.camera_id
        ahead = self._future_reason(eng, topic, ts)
        if ahead is None:
            # Held runs first: they are older than this record.
            out = self._recheck_held(eng, partition, topic) if eng.held_future else []
            return out + self._accept(eng, partition, topic, record, ts, offset)
        if self.live:
            raise RecordError(ahead)
        out: list[Output] = []
        run = eng.held_future.setdefault((topic, camera), [])
        if run and not 0 < ts - run[-1][0] <= MAX_STEP_S:
            out += self._refuse(eng, partition, topic, run)  # not one clock: start again
            run.clear()
        run.append((ts, offset, key, value, record))
        if ts - run[0][0] >= RESUME_AFTER_S:
            del eng.held_future[(topic, camera)]
            self.counters.resumed += 1
            # The others were silent until then too: the input's clock moves to the
            # run's start (deciding their silence, and this camera's, first), and the
            # run's first record starts this camera's own clock there.
            eng.input_clock[topic] = max(eng.input_clock.get(topic, float("-inf")), run[0][0])
            out += self._feed_run(eng, partition, topic, camera, run)
        elif sum(len(r) for (t, _), r in eng.held_future.items() if t == topic) > MAX_HELD_FUTURE:
            oldest = min(
                (k for k in eng.held_future if k[0] == topic),
                key=lambda k: eng.held_future[k][0][1],
            )
            out += self._refuse(eng, partition, topic, eng.held_future.pop(oldest))
        return out

    def _accept(
        self, eng: PartitionEngines, partition: int, topic: str, record: Any, ts: float, offset: int
    ) -> list[Output]:
        eng.idle.discard(topic)
        eng.observe(topic, record.camera_id, ts)
        dirty = self.dirty.get(partition)
        if dirty is None:
            dirty = self.dirty[partition] = set()
        dirty.add(record.camera_id)
        if topic == TOPIC_DETECTIONS:
            return self._frame(eng, record)
        return self._status(eng, record, offset)

    def _feed_run(
        self, eng: PartitionEngines, partition: int, topic: str, camera: str, run: list
    ) -> list[Output]:
        """Feed a held run in order; its first record starts the camera's own clock
        there (a step from before the silence would not count)."""
        eng.camera_clock[(topic, camera)] = run[0][0]
        out: list[Output] = []
        for ts, off, _, _, rec in run:
            out += self._accept(eng, partition, topic, rec, ts, off)
        return out

    def _recheck_held(self, eng: PartitionEngines, partition: int, topic: str) -> list[Output]:
        """A record within the clock came: the partition is not silent. Held runs on
        this input that are no longer ahead are fed; the rest are dead letters."""
        out: list[Output] = []
        for k in [k for k in eng.held_future if k[0] == topic]:
            run = eng.held_future.pop(k)
            if self._future_reason(eng, topic, run[-1][0]) is None:
                out += self._feed_run(eng, partition, topic, k[1], run)
            else:
                out += self._refuse(eng, partition, topic, run)
        return out

    def _refuse(self, eng: PartitionEngines, partition: int, topic: str, run: list) -> list[Output]:
        out = []
        for ts, off, key, value, _ in run:
            reason = self._future_reason(eng, topic, ts) or "future timestamp: not confirmed"
            out.append(self.dead_letter(reason, topic, partition, off, key, value))
        return out

    def flush_held_future(self, partition: int) -> list[Output]:
        """The input ended with records still held: they never showed a resumption
        (RESUME_AFTER_S) and may be a broken clock: dead letters, with their reason."""
        eng = self.partitions.get(partition)
        if eng is None or not eng.held_future:
            return []
        out: list[Output] = []
        for (topic, _), run in sorted(eng.held_future.items(), key=lambda kv: kv[0]):
            out += self._refuse(eng, partition, topic, run)
        eng.held_future.clear()
        return out

    def _future_reason(self, eng: PartitionEngines, topic: str, ts: float) -> str | None:
        """Why a record is more than MAX_FUTURE_S ahead of its input's clock, or None.

        The reference is the clock of the record's own input on the partition
        (its topic partition is read in order, so the verdict does not depend on
        how the topics interleave) or the watermark if that is later.
        A fresh input has no clock yet. Live, its first records are checked against
        the wall clock, so one far-future first frame cannot set every camera's clock
        there. A replay's clock is event time only (a feed dated after today must give
        the events it will give then), so there the first record sets it unchecked.
        """
        own = eng.input_clock.get(topic, -inf)
        fresh = own == -inf and eng.watermark == -inf
        if fresh and not self.live:
            return None
        reference = self._wall_clock() if fresh else max(own, eng.watermark)
        if ts <= reference + MAX_FUTURE_S:
            return None
        return (
            f"future timestamp: {ts:.3f} is {ts - reference:.0f} s ahead of the "
            f"{'wall clock' if fresh else 'partition clock'} (limit {MAX_FUTURE_S:.0f} s)"
        )

    def _frame(self, eng: PartitionEngines, frame: FrameDetections) -> list[Output]:
        clock = eng.clock_of(TOPIC_DETECTIONS)
        events: list[Any] = []
        if clock > eng.watermark:
            eng.watermark = clock
            if eng.health is not None:
                # Silence up to now is decided before this frame counts as life.
                events += eng.health.advance(clock)
        if eng.health is not None:
            if eng.held_status and eng.held_status[0][0] <= eng.watermark:
                for status in eng.release_status(eng.watermark):
                    events += eng.health.feed(status)
            events += eng.health.feed(frame)
        events += eng.violations.feed(frame)
        return self._encode(events) if events else []

    def _status(self, eng: PartitionEngines, status: CameraStatus, offset: int) -> list[Output]:
        if eng.health is None:
            return []
        if status.ts > eng.watermark:
            eng.hold(status, offset)
            return []
        return self._encode(eng.health.feed(status))

    def _encode(self, events: list[Any]) -> list[Output]:
        out = []
        for ev in events:
            if isinstance(ev, Violation):
                self.counters.violations += 1
                out.append(Output(TOPIC_VIOLATIONS, ev.camera_id, encode(ev)))
            elif isinstance(ev, CameraEvent):
                self.counters.camera_events += 1
                out.append(Output(TOPIC_CAMERA_EVENTS, ev.camera_id, encode(ev)))
            else:  # pragma: no cover - engines only emit the records above
                raise TypeError(f"unexpected engine output {type(ev).__name__}")
        return out
