"""What the operations app does with one record, without any framework.

The operations app turns the camera app's outputs (violations, camera events)
and inspectors' dispositions into alerts, SLA breaches and operator rates. It
runs as a single instance: its volume is a few records per minute per city,
and alerts group cameras of one kitchen and rates pool a whole district, which
partitioning by camera would split.

Its clock is the camera app's watermark, propagated explicitly: every
``bk.progress.v1`` record of the camera app carries its partition's watermark
and the output offsets produced before it. A watermark counts once every
output it lists has been read here, so every event up to it is known. The
app's clock is the lowest watermark over the camera partitions: every
partition the camera app has reported on (its registry progress names the
partitions that have cameras) holds the clock until it reports a watermark, so
one worker starting later than another does not let the clock run past its
cameras' events (``SILENT_PARTITION_GRACE_S`` bounds the wait for a partition
whose cameras never send anything, in event time and in wall time: in a replay
one partition's first report can come many minutes of event time after
another's). Events and
dispositions are held until that clock passes their event time and are then
fed in event-time order, with the engines advanced to each one's time first:
the answer is a function of the input, not of how the topics interleaved.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.records import (
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DISPOSITIONS,
    TOPIC_INSPECTION_PLAN,
    TOPIC_INSPECTIONS,
    TOPIC_KEY_MONITORING,
    TOPIC_LICENCE_ALERTS,
    TOPIC_OPERATOR_RATES,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    TOPIC_SLA_BREACHES,
    TOPIC_STATION_KPIS,
    TOPIC_VIOLATIONS,
    Alert,
    CameraEvent,
    Disposition,
    Inspection,
    InspectionPlanRow,
    KeyMonitoringEntry,
    LicenceAlert,
    OperatorRate,
    Progress,
    RecordError,
    RegistryEntry,
    SlaBreach,
    StationKpi,
    Violation,
    decode,
    encode,
)
from stream_apps.dispositions_api import MAX_SKEW_S, future_reason
from stream_apps.engines.alerts import AlertEngine, AlertParams
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.loop import LoopParams, RegulatorsLoop
from stream_apps.engines.notifications import NotificationEngine, NotificationParams
from stream_apps.engines.rates import RateEngine, RateParams
from stream_apps.engines.sla import SlaEngine, SlaParams, WorkingCalendar
from stream_apps.pipelines.camera import CAMERA_INPUTS, CLOCK_TOPICS
from stream_apps.pipelines.dlq import dead_letter
from stream_apps.pipelines.output import Output

OPS_INPUTS: tuple[str, ...] = (
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DISPOSITIONS,
    TOPIC_INSPECTIONS,
    TOPIC_PROGRESS,
)
OPS_STATE_TOPIC = "bk.state.ops.v1"
"""Internal compacted topic: the ops app's checkpoints (partition 0)."""
OPS_MARKER_KEY = "__ops__"
CHUNK_BYTES = 256 * 1024
"""A checkpoint is written in chunks of this size (a broker's message limit is
about 1 MB), in one of two slots; the marker names the complete one."""
CAMERA_APP = "cameras"
RESOLVED = frozenset({"rectified", "closed", "false_positive"})
SILENT_PARTITION_GRACE_S = 900.0
"""A camera partition the camera app reported on but that has no watermark yet holds
the clock until the other partitions have moved this far past the first watermark,
both in event time and in wall time; then it is left out until it reports (its
cameras never sent anything). Live, event time runs with the wall clock. In a
replay it runs far ahead of it: a worker that fetched three partitions' first
batches before the fourth's has moved them minutes of event time in a second,
and leaving the fourth out then would make its events late (and the rates
depend on fetch order). A replay's silent partition reports its end instead."""


# Outputs of the regulators' loop: record type -> (topic, key field).
LOOP_TOPICS: dict[type, tuple[str, str]] = {
    InspectionPlanRow: (TOPIC_INSPECTION_PLAN, "operator_id"),
    StationKpi: (TOPIC_STATION_KPIS, "station"),
    KeyMonitoringEntry: (TOPIC_KEY_MONITORING, "operator_id"),
    LicenceAlert: (TOPIC_LICENCE_ALERTS, "operator_id"),
}
LOOP_OUTPUTS = tuple(LOOP_TOPICS)


@dataclass
class OpsCounters:
    records: int = 0
    dead_letters: int = 0
    alerts: int = 0
    breaches: int = 0
    rates: int = 0
    held: int = 0
    registry_rejected: int = 0
    """Registry records the schema refused: counted here, dead-lettered once, by the
    camera app (which reads the same topic), so one bad record gives one DLQ row."""


_KIND: dict[type, str] = {
    Violation: "violation",
    CameraEvent: "camera_event",
    Disposition: "disposition",
    Inspection: "inspection",
}
_TYPE = {v: k for k, v in _KIND.items()}


def event_time(record: Violation | CameraEvent | Disposition | Inspection) -> float:
    """When a held record happened, for ordering: the decision time of an episode
    record (a close is decided no earlier than its end), the ts of a disposition."""
    if isinstance(record, (Disposition, Inspection)):
        return record.ts
    if record.ended_at is not None:
        return max(record.detected_at, record.ended_at)
    return record.detected_at


class OpsPipeline:
    """Alerts, SLA clocks and operator rates over the camera app's outputs."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        alert_params: AlertParams | None = None,
        sla_params: SlaParams | None = None,
        rate_params: RateParams | None = None,
        loop_params: LoopParams | None = None,
        notification_params: NotificationParams | None = None,
        wall_clock: Callable[[], float] = time.time,
        disposition_max_skew_s: float = MAX_SKEW_S,
    ) -> None:
        self.disposition_max_skew_s = disposition_max_skew_s
        self.alerts = AlertEngine(alert_params or AlertParams())
        self.sla = SlaEngine(calendar, sla_params or SlaParams())
        self.rates = RateEngine(rate_params or RateParams())
        # The regulators' loop (plan, KPIs, key monitoring, licences): docs/inspections.md.
        self.loop = RegulatorsLoop(
            calendar, lambda a: self.sla.deadlines(a.created_at)["rectify_overdue"], loop_params
        )
        # Real-time notifications (stream_apps/notifier.py sends them): take_notifications().
        self.notify = NotificationEngine(notification_params)
        self._notifications: list[Any] = []
        self.counters = OpsCounters()
        self._wall_clock = wall_clock
        self._held: list[tuple[float, int, Any]] = []
        self._seq = 0
        self._consumed: dict[tuple[str, int], int] = {}
        # Per camera partition: watermarks reported but not yet backed by the
        # outputs they list, oldest first; and the latest backed watermark.
        self._marks: dict[int, list[tuple[float, dict[str, int]]]] = {}
        self._partition_clock: dict[int, float] = {}
        # Camera partitions the camera app reported on; the first backed watermark.
        self._known_partitions: set[int] = set()
        # Camera partitions whose input ended without any event time (no frame,
        # no status): nothing will ever move their clock, so none is waited for.
        self._ended_silent: set[int] = set()
        self._first_clock = math.inf
        self._first_clock_wall = math.inf  # when the first backed watermark came (wall)
        # Where each camera partition's frames begin (Progress.origin).
        self._origins: dict[int, float] = {}
        self.clock = -math.inf
        # Breaches of alerts not yet resolved: alert_id -> [(kind, district)].
        self.open_breaches: dict[str, list[tuple[str, str]]] = {}
        # Every engine with snapshot()/restore() is checkpointed under its name;
        # engines added later only need register_engine.
        self.engines: dict[str, Any] = {}
        for name, engine in (
            ("alerts", self.alerts),
            ("sla", self.sla),
            ("rates", self.rates),
            ("loop", self.loop),
            ("notify", self.notify),
        ):
            self.register_engine(name, engine)
        # (topic, partition) -> next offset seen; what a restored checkpoint covers.
        self.next_offsets: dict[tuple[str, int], int] = {}
        self.covered: dict[tuple[str, int], int] = {}
        self._generation = 0

    def register_engine(self, name: str, engine: Any) -> None:
        """Checkpoint ``engine`` (anything with snapshot()/restore()) under ``name``."""
        if not (callable(getattr(engine, "snapshot", None)) and callable(engine.restore)):
            raise TypeError(f"engine {name!r} has no snapshot()/restore()")
        self.engines[name] = engine

    # -- checkpoints ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the app knows: engines, held records, clocks, offsets."""
        return {
            "version": 1,
            "engines": {name: eng.snapshot() for name, eng in self.engines.items()},
            "held": [[ts, seq, _KIND[type(r)], encode(r).decode()] for ts, seq, r in self._held],
            "seq": self._seq,
            "consumed": [[t, p, o] for (t, p), o in sorted(self._consumed.items())],
            "marks": {str(p): [[wm, outs] for wm, outs in m] for p, m in self._marks.items()},
            "partition_clock": {str(p): c for p, c in self._partition_clock.items()},
            "known_partitions": sorted(self._known_partitions),
            "ended_silent": sorted(self._ended_silent),
            "first_clock": finite_or_none(self._first_clock),
            "first_clock_wall": finite_or_none(self._first_clock_wall),
            "origins": {str(p): o for p, o in self._origins.items()},
            "clock": finite_or_none(self.clock),
            "open_breaches": {a: [list(r) for r in rows] for a, rows in self.open_breaches.items()},
            "offsets": [[t, p, o] for (t, p), o in sorted(self.next_offsets.items())],
            "counters": dict(vars(self.counters)),
        }

    def restore_snapshot(self, snap: dict[str, Any]) -> None:
        for name, state in snap["engines"].items():
            engine = self.engines.get(name)
            if engine is not None:  # an engine no longer registered is dropped
                engine.restore(state)
        self._held = [
            (ts, seq, decode(_TYPE[kind], raw.encode())) for ts, seq, kind, raw in snap["held"]
        ]
        heapq.heapify(self._held)
        self._seq = snap["seq"]
        self._consumed = {(t, p): o for t, p, o in snap["consumed"]}
        self._marks = {int(p): [(wm, outs) for wm, outs in m] for p, m in snap["marks"].items()}
        self._partition_clock = {int(p): c for p, c in snap["partition_clock"].items()}
        self._known_partitions = set(snap.get("known_partitions", self._partition_clock))
        self._ended_silent = set(snap.get("ended_silent", ()))
        self._first_clock = inf_from_none(snap.get("first_clock"), math.inf)
        # A checkpoint from before the wall-time grace: its wait starts at the restore.
        default_wall = self._wall_clock() if self._first_clock < math.inf else math.inf
        self._first_clock_wall = inf_from_none(snap.get("first_clock_wall"), default_wall)
        self._origins = {int(p): o for p, o in snap.get("origins", {}).items()}
        self.clock = inf_from_none(snap["clock"])
        self.open_breaches = {
            a: [tuple(r) for r in rows] for a, rows in snap["open_breaches"].items()
        }
        self.next_offsets = {(t, p): o for t, p, o in snap["offsets"]}
        self.covered = dict(self.next_offsets)
        self.counters = OpsCounters(**snap["counters"])

    def checkpoint(self) -> list[Output]:
        """The snapshot as records of OPS_STATE_TOPIC: chunks in one slot, then the marker."""
        self._generation += 1
        slot = self._generation % 2
        data = msgspec.json.encode(self.snapshot())
        chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        out = [Output(OPS_STATE_TOPIC, f"{slot}/{i}", chunk, 0) for i, chunk in enumerate(chunks)]
        marker = {
            "generation": self._generation,
            "slot": slot,
            "chunks": len(chunks),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        out.append(Output(OPS_STATE_TOPIC, OPS_MARKER_KEY, msgspec.json.encode(marker), 0))
        return out

    def restore(self, records: dict[str, bytes]) -> dict[tuple[str, int], int]:
        """Load the latest complete checkpoint (latest value per key of OPS_STATE_TOPIC);
        return the input offsets it covers (empty when there is none)."""
        raw = records.get(OPS_MARKER_KEY)
        if raw is None:
            return {}
        marker = msgspec.json.decode(raw)
        slot = marker["slot"]
        parts = [records.get(f"{slot}/{i}") for i in range(marker["chunks"])]
        data = b"".join(p for p in parts if p is not None)
        if None in parts or hashlib.sha256(data).hexdigest() != marker["sha256"]:
            raise RuntimeError(
                f"ops checkpoint {marker['generation']} in {OPS_STATE_TOPIC} is incomplete"
            )
        self.restore_snapshot(msgspec.json.decode(data))
        self._generation = marker["generation"]
        return dict(self.covered)

    def expected_offset(self, topic: str, partition: int) -> int:
        """The next offset of ``topic[partition]`` this state has not seen."""
        return self.next_offsets.get((topic, partition), 0)

    # -- records ------------------------------------------------------------------
    def handle(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> list[Output]:
        tp = (topic, partition)
        if offset < self.covered.get(tp, 0):
            return []  # covered by the restored checkpoint (at-least-once redelivery)
        if offset >= self.next_offsets.get(tp, 0):
            self.next_offsets[tp] = offset + 1
        self.counters.records += 1
        try:
            if value is None and topic == TOPIC_REGISTRY:
                self.counters.registry_rejected += 1  # the camera app dead-letters it
                return []
            if value is None:
                raise RecordError("empty value (tombstone) on an input topic")
            if topic == TOPIC_PROGRESS:
                progress = decode(Progress, value)
                if progress.app == CAMERA_APP and progress.topic in CAMERA_INPUTS:
                    if progress.input_ended and progress.watermark is None:
                        self._ended_silent.add(progress.partition)
                        self._known_partitions.discard(progress.partition)
                    elif progress.partition not in self._ended_silent:
                        self._known_partitions.add(progress.partition)
                    if progress.origin is not None:
                        o = self._origins.get(progress.partition, math.inf)
                        self._origins[progress.partition] = min(o, progress.origin)
                    if progress.topic in CLOCK_TOPICS and progress.watermark is not None:
                        self._marks.setdefault(progress.partition, []).append(
                            (progress.watermark, progress.outputs)
                        )
                return self._settle()
            if topic == TOPIC_REGISTRY:
                try:
                    entry = decode(RegistryEntry, value)
                except RecordError:
                    self.counters.registry_rejected += 1  # the camera app dead-letters it
                    return []
                self.alerts.feed(entry)
                self.rates.feed(entry)
                self.loop.feed(entry)
                return []
            if topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS):
                record = decode(Violation if topic == TOPIC_VIOLATIONS else CameraEvent, value)
                self._consumed[(topic, partition)] = offset
                self._hold(record)
                return self._settle()
            if topic == TOPIC_DISPOSITIONS:
                disposition = decode(Disposition, value)
                # Against the camera clock or the wall clock, whichever is later:
                # the topic may be read far ahead of the progress records that
                # move the clock (a replay), which must not refuse valid ones.
                reference = max(self.reported_clock(), self._wall_clock())
                reason = future_reason(disposition.ts, reference, self.disposition_max_skew_s)
                if reason is not None:
                    raise RecordError(reason)
                self._hold(disposition)
                return self._settle()
            if topic == TOPIC_INSPECTIONS:
                self._hold(decode(Inspection, value))
                return self._settle()
            raise RecordError(f"topic {topic!r} is not an input of the ops app")
        except RecordError as exc:
            self.counters.dead_letters += 1
            return [
                dead_letter(
                    "ops", str(exc), topic, partition, offset, key, value, self._wall_clock()
                )
            ]

    def _hold(self, record: Any) -> None:
        self._seq += 1
        self.counters.held += 1
        heapq.heappush(self._held, (event_time(record), self._seq, record))

    # -- the clock ----------------------------------------------------------------
    def reported_clock(self) -> float:
        """The newest watermark any camera partition reported (backed or not)."""
        clocks = list(self._partition_clock.values())
        clocks += [m[-1][0] for m in self._marks.values() if m]
        return max(clocks, default=-math.inf)

    def _settle(self) -> list[Output]:
        """Advance the clock as far as the backed watermarks allow; release what it passed."""
        for partition, marks in self._marks.items():
            while marks and self._backed(marks[0][1]):
                wm, _ = marks.pop(0)
                if wm > self._partition_clock.get(partition, -math.inf):
                    self._partition_clock[partition] = wm
                    self._first_clock = min(self._first_clock, wm)
                    if self._first_clock_wall == math.inf:
                        self._first_clock_wall = self._wall_clock()
        clocks = self._partition_clock
        if not clocks:
            return []
        if not self._known_partitions <= clocks.keys() and not self._grace_over(
            max(clocks.values())
        ):
            return []  # a partition's first watermark is still to come
        clock = min(clocks.values())
        if clock <= self.clock:
            return []
        out: list[Any] = []
        if self.clock == -math.inf and self._origins:
            # Time starts where the frames begin, not where the first clock value
            # happened to land (that depends on the camera app's batches): every
            # engine's first clock (rates' supervision start, when a licence or an
            # operator became known) is a function of the input.
            origin = min(self._origins.values())
            self.rates.start_at(origin)
            if origin < clock:
                out += self._advance(origin)
        held = self._held
        while held and held[0][0] <= clock:
            ts, _, record = heapq.heappop(held)
            out += self._advance(ts)
            out += self._feed(record)
        out += self._advance(clock)
        self.clock = clock
        return self._encode(out)

    def _grace_over(self, newest: float) -> bool:
        """Has a known partition without a watermark been waited for long enough
        (SILENT_PARTITION_GRACE_S of event time and of wall time)?"""
        return (
            newest - self._first_clock >= SILENT_PARTITION_GRACE_S
            and self._wall_clock() - self._first_clock_wall >= SILENT_PARTITION_GRACE_S
        )

    def _backed(self, outputs: dict[str, int]) -> bool:
        for name, offset in outputs.items():
            topic, _, part = name.rpartition("/")
            if (
                topic in (TOPIC_VIOLATIONS, TOPIC_CAMERA_EVENTS)
                and self._consumed.get((topic, int(part)), -1) < offset
            ):
                return False
        return True

    def _clocks_of(self, alerts: list[Alert]) -> list[SlaBreach]:
        """New or changed alerts: their SLA clocks (and what those already prove);
        repeat offences count in the grade."""
        breaches: list[SlaBreach] = []
        for alert in alerts:
            breaches += self.sla.feed(alert)
            self.rates.feed(alert)
        return breaches

    def _advance(self, now: float) -> list[Any]:
        """Every engine to ``now``, stopping first wherever the regulators' loop emits
        on its own before it (RegulatorsLoop.wake_before): the answer does not depend
        on how far each step of the clock goes."""
        out: list[Any] = []
        wake = self.loop.wake_before(now)
        while wake is not None:
            out += self._advance_once(wake)
            wake = self.loop.wake_before(now)
        return out + self._advance_once(now)

    def _advance_once(self, now: float) -> list[Any]:
        out: list[Any] = []
        alerts = self.alerts.advance(now)
        out += alerts
        breaches = self._clocks_of(alerts)
        breaches += self.sla.advance(now)
        out += breaches
        for breach in breaches:
            self.rates.feed(breach)
        out += self.rates.advance(now)
        loop = self.loop.feed_all(out)
        out += self._loop(loop + self.loop.advance(now))
        return out

    def _loop(self, produced: list[Any]) -> list[Any]:
        """What the regulators' loop emitted; its breaches (inspection overdue) count
        in rates, and a licence expiring today, expired or missing raises an alert
        with the SLA clocks (AlertParams.licence_stages)."""
        out = list(produced)
        raised: list[Any] = []
        for rec in produced:
            if isinstance(rec, SlaBreach):
                self.rates.feed(rec)
            elif isinstance(rec, LicenceAlert):
                alerts = self.alerts.feed(rec)
                raised += alerts
                raised += self._clocks_of(alerts)
        for rec in raised:
            if isinstance(rec, SlaBreach):
                self.rates.feed(rec)
        if raised:
            out += raised
            out += self._loop(self.loop.feed_all(raised))
        return out

    def _feed(self, record: Any) -> list[Any]:
        if isinstance(record, Inspection):
            self.open_breaches.pop(f"inspection:{record.operator_id}", None)
            return self._loop(self.loop.feed(record))
        out: list[Any] = []
        alerts = self.alerts.feed(record)
        out += alerts
        breaches = self._clocks_of(alerts)
        if isinstance(record, Disposition):
            breaches += self.sla.feed(record)
        else:
            self.rates.feed(record)
        for breach in breaches:
            self.rates.feed(breach)
        out += breaches
        loop = self.loop.feed_all(out)
        if not isinstance(record, Disposition):
            loop += self.loop.feed(record)
        out += self._loop(loop)
        return out

    # -- outputs ------------------------------------------------------------------
    def open_breach_counts(self) -> dict[tuple[str, str], int]:
        """(kind, district) -> breaches whose alert is still unresolved (pages on-call)."""
        counts: dict[tuple[str, str], int] = {}
        for rows in self.open_breaches.values():
            for key in rows:
                counts[key] = counts.get(key, 0) + 1
        return counts

    def take_notifications(self) -> list[Any]:
        """Notifications decided since the last call (for the shell's outbox)."""
        out, self._notifications = self._notifications, []
        return out

    def _encode(self, events: list[Any]) -> list[Output]:
        out = []
        if self.notify.enabled():
            for ev in events:
                self._notifications += self.notify.feed(ev)
        for ev in events:
            if isinstance(ev, Alert):
                self.counters.alerts += 1
                if ev.state in RESOLVED:
                    self.open_breaches.pop(ev.alert_id, None)
                out.append(Output(TOPIC_ALERTS, ev.alert_id, encode(ev)))
            elif isinstance(ev, SlaBreach):
                self.counters.breaches += 1
                self.open_breaches.setdefault(ev.alert_id, []).append((ev.kind, ev.district or ""))
                out.append(Output(TOPIC_SLA_BREACHES, ev.alert_id, encode(ev)))
            elif isinstance(ev, OperatorRate):
                self.counters.rates += 1
                out.append(Output(TOPIC_OPERATOR_RATES, ev.operator_id, encode(ev)))
            elif isinstance(ev, LOOP_OUTPUTS):
                topic, key = LOOP_TOPICS[type(ev)]
                out.append(Output(topic, getattr(ev, key), encode(ev)))
            else:  # pragma: no cover - engines only emit the records above
                raise TypeError(f"unexpected engine output {type(ev).__name__}")
        return out
