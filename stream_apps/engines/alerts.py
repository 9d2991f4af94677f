"""Alerts: violation episodes and camera-health events an inspector acts on.

Every violation episode (its ``open`` record) and every camera-health event of
a kind of interest (its ``open`` record) becomes a member of an alert.
Members are grouped: episodes of one class (or events of one kind) of one
operator in one kitchen that *start* within ``group_window_s`` of the alert's
first member join that alert, whichever camera of the kitchen they come from;
other kitchens never share an alert. A camera missing from the registry is a
kitchen of its own. An alert already resolved takes no new member: the next
episode opens a new alert.

``alert_id`` is a hash of source, class/kind, operator, kitchen and the first
member's ``started_at``: a replay of the same input gives the same ids, and a
member fed twice is recognised by its violation_id / event_id. (If members of
one group arrive in a different interleaving across cameras, the first one
to arrive anchors the alert; later-arriving earlier starters join it.)

Dispositions move the alert's state. Each action's earliest ``ts`` is kept, so
the state is a function of the set of dispositions, not of their order::

    closed                       if any "closed"
    else rectified|false_positive whichever of the two is latest (an inspector may
                                  overturn a verdict)
    else verified                if any "verified"
    else open

The verdict (true or false positive) of each alert feeds precision counters
per class and per camera; an overturned verdict moves its count.

**Repeat offences** (seed 002 §19-20: "整改后重复再犯 … 屡犯不改的, 从重处罚"): a new
violation alert of the same operator and class that starts within
``repeat_window_s`` after an earlier one was *rectified* carries ``repeat_of``
(that alert's id) and its severity is raised one level (``base_severity``
keeps the original); the rates engine counts it in the grade. A **first minor
offence** (no alert of the same operator and class in the window before it)
rectified within ``lenient_within_s`` is flagged ``lenient`` (§19: 初次违法、危害后果
轻微并及时改正的, 视情形不予、从轻或减轻行政处罚).

**Licences** (seed 002 §15): a licence-alert stage in ``licence_stages`` (the
day a licence expires, its expiry, a missing merchant profile) raises an alert
of the operator (source ``licence``, class = the licence kind, no camera), one
per licence: later stages join it. It has the SLA clocks of any alert; a
verdict on it is not a detection, so it stays out of the precision counters.

``advance`` emits nothing (grouping closes by time without an event); it
prunes alerts resolved longer than ``retain_resolved_s`` ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    CameraEvent,
    Disposition,
    LicenceAlert,
    Record,
    RegistryEntry,
    Violation,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

SEVERITY_RANK = {"minor": 0, "major": 1, "critical": 2}
_SEVERITY_OF_RANK = {v: k for k, v in SEVERITY_RANK.items()}
# Tie-break of two verdicts at the same instant: the stronger finding wins.
_VERDICT_RANK = {"false_positive": 0, "rectified": 1}
RESOLVING = ("rectified", "false_positive", "closed")

DEFAULT_CAMERA_SEVERITY: dict[str, str] = {
    # Losing the picture is losing supervision; a dark or blurred picture is
    # degraded but still shows something.
    "offline": "major",
    "frozen": "major",
    "angle_changed": "major",
    "dark": "minor",
    "blurred": "minor",
}


@dataclass(frozen=True)
class AlertParams:
    """Settings of the alert engine; every default is the documented one."""

    group_window_s: float = 600.0
    """Members of one operator + class + kitchen starting this close to the first join it."""
    camera_kinds: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_CAMERA_SEVERITY))
    """Camera-health kinds that raise alerts."""
    camera_severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAMERA_SEVERITY))
    replay_horizon_s: float = 6 * 3600.0
    """Members detected longer than this before the watermark are too late to
    raise anything (they were seen before, or the feed is broken); dispositions
    for unknown alerts wait this long for their alert."""
    retain_resolved_s: float = 7 * 86400.0
    """A resolved alert is kept this long after resolution, for late dispositions."""
    max_age_s: float = 60 * 86400.0
    """Any alert is forgotten this long after creation."""
    repeat_window_s: float = field(
        default=30 * 86400.0,
        metadata={
            "help": "An offence of the same operator and class this soon after one was "
            "rectified is a repeat offence (seed 002 §19: 整改后重复再犯)",
            "ge": 0,
        },
    )
    repeat_raises_severity: bool = field(
        default=True, metadata={"help": "A repeat offence is raised one severity level"}
    )
    licence_stages: frozenset[str] = field(
        default_factory=lambda: frozenset({"0d", "expired", "profile_incomplete"}),
        metadata={
            "help": "Licence-alert stages (bk.licence_alerts) that also raise an alert an "
            "inspector acts on, with the SLA clocks (seed 002 §15); the earlier warnings "
            "stay warnings. Later stages of the same licence join that alert"
        },
    )
    lenient_within_s: float = field(
        default=86400.0,
        metadata={
            "help": "A first minor offence rectified within this many seconds is flagged "
            "for leniency (seed 002 §19: 及时改正)",
            "ge": 0,
        },
    )


@dataclass
class AlertCounters:
    """Plain counters the shell exports as metrics."""

    members: int = 0
    duplicates: int = 0
    too_late: int = 0
    alerts: int = 0
    dispositions: int = 0
    unknown_alert: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Precision:
    """Verdicts on alerts of one class or camera."""

    confirmed: int
    false_positive: int

    @property
    def precision(self) -> float | None:
        n = self.confirmed + self.false_positive
        return self.confirmed / n if n else None


def alert_id(source: str, cls: str, operator_id: str, group: str, started_at: float) -> str:
    """Deterministic id of an alert from its grouping key and anchor."""
    return stable_id(source, cls, operator_id, group, started_at)


class _Alert:
    __slots__ = (
        "alert_id",
        "source",
        "cls",
        "severity",
        "kitchen_id",
        "operator_id",
        "district",
        "station",
        "camera_ids",
        "members",
        "first_started_at",
        "created_at",
        "group_until",
        "updated_at",
        "revision",
        "actions",
        "verdict",
        "snapshot",
        "repeat_of",
        "first_offence",
    )

    def __init__(self) -> None:
        self.camera_ids: list[str] = []
        self.members: list[str] = []
        # action -> [earliest ts, actor]
        self.actions: dict[str, list[Any]] = {}
        # None, "true" or "false": what precision counted for this alert
        self.verdict: str | None = None
        self.revision = 0
        self.snapshot: str | None = None  # evidence image of the first member that has one
        self.repeat_of: str | None = None
        self.first_offence = False

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Alert:
        a = cls()
        for s in cls.__slots__:
            if s in d:  # snapshots older than a slot keep its default
                setattr(a, s, d[s])
        return a

    def state(self) -> str:
        acts = self.actions
        if "closed" in acts:
            return "closed"
        verdicts = [(acts[k][0], _VERDICT_RANK[k], k) for k in _VERDICT_RANK if k in acts]
        if verdicts:
            return max(verdicts)[2]
        return "verified" if "verified" in acts else "open"

    def verdict_now(self) -> str | None:
        acts = self.actions
        cands = [
            (acts[k][0], _VERDICT_RANK.get(k, 1), k)
            for k in ("verified", "rectified", "false_positive")
            if k in acts
        ]
        if not cands:
            return None
        return "false" if max(cands)[2] == "false_positive" else "true"

    def resolved_at(self) -> float | None:
        ts = [self.actions[k][0] for k in RESOLVING if k in self.actions]
        return min(ts) if ts else None

    def record(self, lenient_within_s: float = 86400.0, raise_repeat: bool = True) -> Alert:
        state = self.state()
        severity, base = self.severity, None
        if self.repeat_of is not None and raise_repeat:
            rank = min(SEVERITY_RANK.get(self.severity, 0) + 1, 2)
            severity, base = _SEVERITY_OF_RANK[rank], self.severity
        rectified = self.actions.get("rectified")
        lenient = (
            self.first_offence
            and self.repeat_of is None
            and self.severity == "minor"
            and state == "rectified"
            and rectified is not None
            and rectified[0] - self.created_at <= lenient_within_s
        )
        acts = self.actions
        last = max(((v[0], v[1]) for v in acts.values()), default=None)
        return Alert(
            v=SCHEMA_VERSION,
            alert_id=self.alert_id,
            source=self.source,
            cls=self.cls,
            severity=severity,
            state=state,
            kitchen_id=self.kitchen_id,
            operator_id=self.operator_id,
            district=self.district,
            station=self.station,
            camera_ids=sorted(self.camera_ids),
            members=sorted(self.members),
            first_started_at=self.first_started_at,
            created_at=self.created_at,
            group_until=self.group_until,
            updated_at=self.updated_at,
            revision=self.revision,
            verified_at=min((v[0] for v in acts.values()), default=None),
            resolved_at=self.resolved_at(),
            resolution=state if state in RESOLVING else None,
            last_actor=last[1] if last else None,
            snapshot=self.snapshot,
            repeat_of=self.repeat_of,
            base_severity=base,
            lenient=lenient,
        )


class AlertEngine:
    """Turns episodes and camera-health events into grouped alerts (see module doc)."""

    def __init__(self, params: AlertParams | None = None) -> None:
        self.params = params or AlertParams()
        self._registry: dict[str, tuple[str, str, str, str]] = {}
        self._alerts: dict[str, _Alert] = {}
        self._member_of: dict[str, str] = {}
        # grouping key -> alert_id of the newest alert of that key
        self._groups: dict[str, str] = {}
        # alert_id -> list of [ts, action, actor] waiting for their alert
        self._early: dict[str, list[list[Any]]] = {}
        self._precision_cls: dict[str, list[int]] = {}
        self._precision_cam: dict[str, list[int]] = {}
        # "operator|cls" -> [[ts, alert_id, "rectified"|"raised"]]: offences and rectifications
        self._history: dict[str, list[list[Any]]] = {}
        self._now = float("-inf")
        self.counters = AlertCounters()

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[Alert]:
        """A violation, camera event, licence alert, disposition or registry entry in;
        changed alerts out."""
        if isinstance(record, Violation):
            if record.state != "open":
                return []
            out = self._member(
                "violation",
                record.cls,
                record.severity,
                record.violation_id,
                record.camera_id,
                record.operator_id,
                record.started_at,
                record.detected_at,
            )
            snap = record.evidence.snapshot
            a = self._alerts.get(self._member_of.get(record.violation_id, "")) if snap else None
            if out and a is not None and a.snapshot is None:
                a.snapshot = snap
                out = [a.record() if o.alert_id == a.alert_id else o for o in out]
            return out
        if isinstance(record, CameraEvent):
            if record.state != "open" or record.kind not in self.params.camera_kinds:
                return []
            return self._member(
                "camera_health",
                record.kind,
                self.params.camera_severity.get(record.kind, "major"),
                record.event_id,
                record.camera_id,
                record.operator_id,
                record.started_at,
                record.detected_at,
            )
        if isinstance(record, LicenceAlert):
            return self._licence(record)
        if isinstance(record, Disposition):
            return self._dispose(record.alert_id, record.ts, record.action, record.actor)
        if isinstance(record, RegistryEntry):
            self._registry[record.camera_id] = (
                record.kitchen_id,
                record.operator_id,
                record.district,
                record.station,
            )
        return []

    def advance(self, now: float) -> list[Alert]:
        """Watermark moved to ``now``: forget what can no longer change. Emits nothing."""
        if now <= self._now:
            return []
        self._now = now
        p = self.params
        drop = []
        for aid, a in self._alerts.items():
            resolved = a.resolved_at()
            if a.created_at < now - p.max_age_s or (
                resolved is not None
                and resolved < now - p.retain_resolved_s
                and a.created_at < now - p.replay_horizon_s
            ):
                drop.append(aid)
        for aid in drop:
            a = self._alerts.pop(aid)
            for m in a.members:
                self._member_of.pop(m, None)
            for key in [k for k, v in self._groups.items() if v == aid]:
                del self._groups[key]
        keep = now - p.repeat_window_s - p.replay_horizon_s
        for key in list(self._history):
            self._history[key] = [x for x in self._history[key] if x[0] >= keep]
            if not self._history[key]:
                del self._history[key]
        horizon = now - p.replay_horizon_s
        for aid in [k for k, v in self._early.items() if max(x[0] for x in v) < horizon]:
            del self._early[aid]
        return []

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "registry": {k: list(v) for k, v in self._registry.items()},
            "alerts": {k: a.to_dict() for k, a in self._alerts.items()},
            "groups": dict(self._groups),
            "early": {k: [list(x) for x in v] for k, v in self._early.items()},
            "precision_cls": {k: list(v) for k, v in self._precision_cls.items()},
            "precision_cam": {k: list(v) for k, v in self._precision_cam.items()},
            "history": {k: [list(x) for x in v] for k, v in self._history.items()},
            "counters": self.counters.as_dict(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version("alert engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops")
        self._now = inf_from_none(snapshot.get("now"))
        self._registry = {k: tuple(v) for k, v in snapshot["registry"].items()}
        self._alerts = {k: _Alert.from_dict(a) for k, a in snapshot["alerts"].items()}
        self._member_of = {m: aid for aid, a in self._alerts.items() for m in a.members}
        self._groups = dict(snapshot["groups"])
        self._early = {k: [list(x) for x in v] for k, v in snapshot["early"].items()}
        self._precision_cls = {k: list(v) for k, v in snapshot["precision_cls"].items()}
        self._precision_cam = {k: list(v) for k, v in snapshot["precision_cam"].items()}
        self._history = {k: [list(x) for x in v] for k, v in snapshot.get("history", {}).items()}
        self.counters = AlertCounters(**snapshot["counters"])

    # -- queries ------------------------------------------------------------------
    def precision(self, by: str = "class") -> dict[str, Precision]:
        """Verdicts so far per class (or kind) or per camera (``by="camera"``)."""
        table = self._precision_cls if by == "class" else self._precision_cam
        return {k: Precision(confirmed=v[0], false_positive=v[1]) for k, v in sorted(table.items())}

    def alert(self, alert_id: str) -> Alert | None:
        a = self._alerts.get(alert_id)
        return self._record(a) if a else None

    def open_alerts(self) -> int:
        return sum(a.resolved_at() is None for a in self._alerts.values())

    # -- internals -------------------------------------------------------------------
    def _member(
        self,
        source: str,
        cls: str,
        severity: str,
        member_id: str,
        camera_id: str,
        operator_hint: str | None,
        started_at: float,
        detected_at: float,
    ) -> list[Alert]:
        p = self.params
        if member_id in self._member_of:
            self.counters.duplicates += 1
            return []
        if detected_at < self._now - p.replay_horizon_s:
            self.counters.too_late += 1
            return []
        reg = self._registry.get(camera_id)
        if reg is not None:
            kitchen_id, operator_id, district, station = reg
            group = "kitchen:" + kitchen_id
        else:
            kitchen_id, operator_id, district, station = None, operator_hint, None, None
            group = "camera:" + camera_id
        key = f"{source}|{cls}|{operator_id or ''}|{group}"
        self.counters.members += 1
        a = self._alerts.get(self._groups.get(key, ""))
        if (
            a is None
            or a.resolved_at() is not None
            or not a.first_started_at - p.group_window_s < started_at < a.group_until
        ):
            aid = alert_id(source, cls, operator_id or "", group, started_at)
            a = self._alerts.get(aid)
            if a is None:
                a = _Alert()
                a.alert_id = aid
                a.source = source
                a.cls = cls
                a.severity = severity
                a.kitchen_id = kitchen_id
                a.operator_id = operator_id
                a.district = district
                a.station = station
                a.first_started_at = started_at
                a.created_at = detected_at
                a.group_until = started_at + p.group_window_s
                a.updated_at = detected_at
                if source == "violation" and operator_id:
                    self._offence(a, f"{operator_id}|{cls}", started_at)
                self._alerts[aid] = a
                self._groups[key] = aid
                self.counters.alerts += 1
                self._add(a, member_id, camera_id, severity, detected_at)
                early = self._early.pop(aid, None)
                out = [self._record(a)]
                for ts, action, actor in early or ():
                    out += self._dispose(aid, ts, action, actor)
                return out[-1:] if early else out
        self._add(a, member_id, camera_id, severity, detected_at)
        a.revision += 1
        return [self._record(a)]

    def _licence(self, rec: LicenceAlert) -> list[Alert]:
        """A licence expiring today, expired, or missing from the profile: an alert of
        the operator (no camera), one per licence; its later stages join it."""
        if rec.stage not in self.params.licence_stages:
            return []
        if rec.licence_alert_id in self._member_of:
            self.counters.duplicates += 1
            return []
        self.counters.members += 1
        key = f"licence|{rec.kind}|{rec.operator_id}|{rec.number}"
        a = self._alerts.get(self._groups.get(key, ""))
        if a is None or a.resolved_at() is not None:
            group = f"licence:{rec.number}"
            aid = alert_id("licence", rec.kind, rec.operator_id, group, rec.due_at)
            a = _Alert()
            a.alert_id, a.source, a.cls, a.severity = aid, "licence", rec.kind, rec.severity
            a.kitchen_id, a.operator_id = None, rec.operator_id
            a.district, a.station = rec.district or None, rec.station or None
            a.first_started_at = a.created_at = a.updated_at = a.group_until = rec.due_at
            self._alerts[aid] = a
            self._groups[key] = aid
            self.counters.alerts += 1
        else:
            a.revision += 1
        a.members.append(rec.licence_alert_id)
        self._member_of[rec.licence_alert_id] = a.alert_id
        if SEVERITY_RANK.get(rec.severity, 0) > SEVERITY_RANK.get(a.severity, 0):
            a.severity = rec.severity
        a.updated_at = max(a.updated_at, rec.due_at)
        early = self._early.pop(a.alert_id, None) if a.revision == 0 else None
        out = [self._record(a)]
        for ts, action, actor in early or ():
            out += self._dispose(a.alert_id, ts, action, actor)
        return out[-1:] if early else out

    def _add(self, a: _Alert, member_id: str, camera_id: str, severity: str, ts: float) -> None:
        a.members.append(member_id)
        self._member_of[member_id] = a.alert_id
        if camera_id not in a.camera_ids:
            a.camera_ids.append(camera_id)
            if a.verdict is not None:
                self._count(self._precision_cam, camera_id, a.verdict, +1)
        if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(a.severity, 0):
            a.severity = severity
        a.updated_at = max(a.updated_at, ts)

    def _dispose(self, aid: str, ts: float, action: str, actor: str) -> list[Alert]:
        a = self._alerts.get(aid)
        if a is None:
            self.counters.unknown_alert += 1
            waiting = self._early.setdefault(aid, [])
            if [ts, action, actor] not in waiting:
                waiting.append([ts, action, actor])
            return []
        self.counters.dispositions += 1
        cur = a.actions.get(action)
        if cur is not None and (cur[0], cur[1]) <= (ts, actor):
            return []  # a replay, or a later repeat of the same decision
        a.actions[action] = [ts, actor]
        a.updated_at = max(a.updated_at, ts)
        if action == "rectified" and a.source == "violation" and a.operator_id:
            hist = self._history.setdefault(f"{a.operator_id}|{a.cls}", [])
            hist[:] = [x for x in hist if not (x[1] == aid and x[2] == "rectified")]
            hist.append([ts, aid, "rectified"])
            hist.sort()
        a.revision += 1
        verdict = a.verdict_now()
        if verdict != a.verdict and a.source == "licence":
            a.verdict = verdict  # not a detection: no precision to count
        elif verdict != a.verdict:
            if a.verdict is not None:
                self._count(self._precision_cls, a.cls, a.verdict, -1)
                for cam in a.camera_ids:
                    self._count(self._precision_cam, cam, a.verdict, -1)
            if verdict is not None:
                self._count(self._precision_cls, a.cls, verdict, +1)
                for cam in a.camera_ids:
                    self._count(self._precision_cam, cam, verdict, +1)
            a.verdict = verdict
        return [self._record(a)]

    def _record(self, a: _Alert) -> Alert:
        p = self.params
        return a.record(p.lenient_within_s, p.repeat_raises_severity)

    def _offence(self, a: _Alert, key: str, started_at: float) -> None:
        """Mark a new violation alert as a repeat (or a first) offence; remember it."""
        w = self.params.repeat_window_s
        hist = self._history.setdefault(key, [])
        recent = [x for x in hist if started_at - w <= x[0] <= started_at]
        rectified = [x for x in recent if x[2] == "rectified"]
        a.repeat_of = rectified[-1][1] if rectified else None
        a.first_offence = not any(x[2] == "raised" for x in recent)
        hist.append([started_at, a.alert_id, "raised"])
        hist.sort()

    @staticmethod
    def _count(table: dict[str, list[int]], key: str, verdict: str, delta: int) -> None:
        c = table.setdefault(key, [0, 0])
        c[0 if verdict == "true" else 1] += delta


__all__ = [
    "AlertCounters",
    "AlertEngine",
    "AlertParams",
    "DEFAULT_CAMERA_SEVERITY",
    "Precision",
    "alert_id",
]
