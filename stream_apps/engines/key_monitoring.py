"""Key-monitoring list: operators whose cameras go dark on purpose.

Seed 002 §12: "对食品经营者故意断网、断电或扭转摄像头角度的, 通报给属地市场监管所, 并进行约谈,
列入重点监控名单, 从严管理" — and the platform "定期形成异常经营者名单". Intent cannot be
seen; a pattern can. Made precise here and in docs/inspections.md:

- An **evasion event** is a camera event of a kind in ``kinds`` (offline,
  angle_changed) of the operator's camera that *started* inside the camera's
  opening hours (local time; a camera with no hours known is not judged).
- It is **suspicious** when it started within ``after_alert_s`` after an alert
  of the same operator was raised, or within ``before_inspection_s`` before an
  inspection of the operator (the inspection is known later; the event is
  re-judged then).
- An operator **enters** the list when, within ``window_days``, it has at least
  ``enter_events`` evasion events or at least ``enter_suspicious`` suspicious
  ones. ``since`` is the start of the event that completed the pattern.
- While on the list each further evasion event re-emits the entry with the new
  evidence (``revision`` + 1). It **leaves** ``clean_days`` after its latest
  evasion event with none since (``until``), with an ``off`` record.

``entry_id`` = hash(operator_id, since).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    CameraEvent,
    Inspection,
    KeyMonitoringEntry,
    Record,
    RegistryEntry,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.localtime import CHINA_OFFSET_S

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

DAY = 86400.0


@dataclass(frozen=True)
class KeyMonitoringParams:
    """Settings of the key-monitoring list; see module doc."""

    kinds: frozenset[str] = field(
        default_factory=lambda: frozenset({"offline", "angle_changed"}),
        metadata={
            "help": "Camera-event kinds that may be evasion (cut network/power, camera turned)"
        },
    )
    window_days: float = field(
        default=7.0, metadata={"help": "Days over which evasion events are counted", "gt": 0}
    )
    enter_events: int = field(
        default=3,
        metadata={"help": "Evasion events in the window that put an operator on the list", "ge": 1},
    )
    enter_suspicious: int = field(
        default=2,
        metadata={
            "help": "Suspicious evasion events (right after an alert or before an "
            "inspection) in the window that put an operator on the list",
            "ge": 1,
        },
    )
    after_alert_s: float = field(
        default=3600.0,
        metadata={"help": "An evasion event this soon after an alert is suspicious", "ge": 0},
    )
    before_inspection_s: float = field(
        default=2 * 3600.0,
        metadata={"help": "An evasion event this soon before an inspection is suspicious", "ge": 0},
    )
    clean_days: float = field(
        default=14.0,
        metadata={"help": "Days without an evasion event after which an operator leaves", "gt": 0},
    )
    utc_offset_s: float = field(
        default=CHINA_OFFSET_S, metadata={"help": "Local time offset from UTC, seconds"}
    )


def entry_id(operator_id: str, since: float) -> str:
    return stable_id(operator_id, since)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_hours(ts: float, hours: list[list[str]], offset_s: float) -> bool:
    """Whether local time of ``ts`` is in one of the [open, close) ranges (may pass midnight)."""
    minute = int(((ts + offset_s) % DAY) // 60)
    for open_, close in hours:
        a, b = _minutes(open_), _minutes(close)
        if a < b and a <= minute < b:
            return True
        if a > b and (minute >= a or minute < b):  # e.g. 18:00-02:00
            return True
        if a == b:
            return True
    return False


class KeyMonitoringEngine:
    """Operators on the key-monitoring list (see module doc)."""

    def __init__(self, params: KeyMonitoringParams | None = None) -> None:
        self.params = params or KeyMonitoringParams()
        self._cams: dict[str, list[Any]] = {}  # camera -> [operator, hours]
        self._ops: dict[str, list[str]] = {}  # operator -> [name, district, station]
        self._events: dict[str, list[list[Any]]] = {}  # op -> [[started_at, event_id]]
        self._seen: set[str] = set()
        self._alerts: dict[str, list[float]] = {}  # op -> alert created_at
        self._alert_ids: set[str] = set()
        self._insp: dict[str, list[float]] = {}  # op -> inspection ts
        self._entries: dict[str, dict[str, Any]] = {}  # op -> current "on" entry
        self._now = -math.inf

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[Record]:
        if isinstance(record, RegistryEntry):
            self._cams[record.camera_id] = [record.operator_id, record.opening_hours]
            self._ops[record.operator_id] = [
                record.operator_name,
                record.district,
                record.station,
            ]
        elif isinstance(record, CameraEvent):
            return self._event(record)
        elif isinstance(record, Alert):
            # what the cameras found (a licence alert is paperwork, not a finding)
            if (
                record.source != "licence"
                and record.operator_id
                and record.alert_id not in self._alert_ids
            ):
                self._alert_ids.add(record.alert_id)
                self._alerts.setdefault(record.operator_id, []).append(record.created_at)
        elif isinstance(record, Inspection):
            ts = self._insp.setdefault(record.operator_id, [])
            if record.ts not in ts:
                ts.append(record.ts)
                return self._judge(record.operator_id, record.ts)
        return []

    def advance(self, now: float) -> list[Record]:
        if now <= self._now:
            return []
        self._now = now
        out: list[Record] = []
        p = self.params
        for op in sorted(self._entries):
            e = self._entries[op]
            last = e["last"]
            if now >= last + p.clean_days * DAY:
                del self._entries[op]
                out.append(self._record(op, e, "off", until=last + p.clean_days * DAY, ts=now))
        self._prune(now)
        return out

    def wake_before(self, now: float) -> float | None:
        """The first instant after the last ``advance`` and before ``now`` at which an
        operator leaves the list: the ops app advances every engine there first
        (InspectionPlanEngine.wake_before), so the plan learns it then."""
        clean = self.params.clean_days * DAY
        leaves = [e["last"] + clean for e in self._entries.values()]
        return min((t for t in leaves if self._now < t < now), default=None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "cams": {k: [v[0], [list(h) for h in v[1]]] for k, v in self._cams.items()},
            "ops": {k: list(v) for k, v in self._ops.items()},
            "events": {k: [list(e) for e in v] for k, v in self._events.items()},
            "seen": sorted(self._seen),
            "alerts": {k: list(v) for k, v in self._alerts.items()},
            "alert_ids": sorted(self._alert_ids),
            "insp": {k: list(v) for k, v in self._insp.items()},
            "entries": {
                k: {**v, "evidence": list(v["evidence"])} for k, v in self._entries.items()
            },
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version(
            "key-monitoring engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops"
        )
        self._now = inf_from_none(snapshot.get("now"))
        self._cams = {k: [v[0], [list(h) for h in v[1]]] for k, v in snapshot["cams"].items()}
        self._ops = {k: list(v) for k, v in snapshot["ops"].items()}
        self._events = {k: [list(e) for e in v] for k, v in snapshot["events"].items()}
        self._seen = set(snapshot["seen"])
        self._alerts = {k: list(v) for k, v in snapshot["alerts"].items()}
        self._alert_ids = set(snapshot["alert_ids"])
        self._insp = {k: list(v) for k, v in snapshot["insp"].items()}
        self._entries = {
            k: {**v, "evidence": list(v["evidence"])} for k, v in snapshot["entries"].items()
        }

    # -- queries ------------------------------------------------------------------
    def on_list(self) -> list[str]:
        return sorted(self._entries)

    # -- internals ----------------------------------------------------------------
    def _event(self, ev: CameraEvent) -> list[Record]:
        p = self.params
        if ev.kind not in p.kinds or ev.event_id in self._seen:
            return []
        cam = self._cams.get(ev.camera_id)
        op = cam[0] if cam else ev.operator_id
        hours = cam[1] if cam else []
        if op is None or not hours or not in_hours(ev.started_at, hours, p.utc_offset_s):
            return []
        self._seen.add(ev.event_id)
        events = self._events.setdefault(op, [])
        events.append([ev.started_at, ev.event_id])
        events.sort()
        return self._judge(op, ev.started_at)

    def _suspicious(self, op: str, ts: float) -> bool:
        p = self.params
        if any(0 <= ts - a <= p.after_alert_s for a in self._alerts.get(op, [])):
            return True
        return any(0 <= i - ts <= p.before_inspection_s for i in self._insp.get(op, []))

    def _judge(self, op: str, ts: float) -> list[Record]:
        p = self.params
        events = self._events.get(op, [])
        entry = self._entries.get(op)
        if entry is not None:
            evidence = entry["evidence"] + [e[1] for e in events if e[1] not in entry["evidence"]]
            counted = [e for e in events if e[1] in evidence]
            sus = sum(1 for e in counted if self._suspicious(op, e[0]))
            if evidence == entry["evidence"] and sus == entry["suspicious"]:
                return []
            entry["evidence"] = evidence
            entry["events"] = len(evidence)
            entry["suspicious"] = sus
            entry["last"] = max(e[0] for e in counted)
            entry["revision"] += 1
            return [self._record(op, entry, "on", until=None, ts=max(ts, entry["last"]))]
        window = [e for e in events if e[0] > events[-1][0] - p.window_days * DAY] if events else []
        sus = [e for e in window if self._suspicious(op, e[0])]
        if len(window) < p.enter_events and len(sus) < p.enter_suspicious:
            return []
        since = window[-1][0]
        reason = (
            f"{len(window)} evasion events in {p.window_days:g} d (>= {p.enter_events})"
            if len(window) >= p.enter_events
            else f"{len(sus)} suspicious evasion events in {p.window_days:g} d "
            f"(>= {p.enter_suspicious}: within {p.after_alert_s / 60:g} min after an alert "
            f"or {p.before_inspection_s / 60:g} min before an inspection)"
        )
        entry = self._entries[op] = {
            "since": since,
            "last": since,
            "evidence": [e[1] for e in window],
            "events": len(window),
            "suspicious": len(sus),
            "reason": reason,
            "revision": 0,
        }
        return [self._record(op, entry, "on", until=None, ts=max(ts, since))]

    def _record(
        self, op: str, e: dict[str, Any], state: str, until: float | None, ts: float
    ) -> KeyMonitoringEntry:
        name, district, station = self._ops.get(op, ["", "", ""])
        return KeyMonitoringEntry(
            v=SCHEMA_VERSION,
            entry_id=entry_id(op, e["since"]),
            operator_id=op,
            operator_name=name,
            district=district,
            station=station,
            state=state,
            since=e["since"],
            until=until,
            reason=e["reason"],
            evidence=list(e["evidence"]),
            events=e["events"],
            suspicious=e["suspicious"],
            revision=e["revision"] + (1 if state == "off" else 0),
            updated_at=ts,
        )

    def _prune(self, now: float) -> None:
        p = self.params
        keep = now - max(p.window_days, p.clean_days) * DAY - p.before_inspection_s
        for op, events in self._events.items():
            on = self._entries.get(op)
            self._events[op] = [
                e for e in events if e[0] >= keep or (on is not None and e[1] in on["evidence"])
            ]
        for table in (self._alerts, self._insp):
            for op, ts in table.items():
                table[op] = [t for t in ts if t >= keep]


__all__ = ["KeyMonitoringEngine", "KeyMonitoringParams", "entry_id", "in_hours"]
