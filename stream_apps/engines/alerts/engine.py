"""The alert engine: members and dispositions in, changed alerts out (see the package)."""

from __future__ import annotations

from typing import Any

from schemas.records import (
    Alert,
    CameraEvent,
    Disposition,
    LicenceAlert,
    Record,
    RegistryEntry,
    Violation,
)
from stream_apps.engines.alerts.params import SEVERITY_RANK, AlertCounters, AlertParams, Precision
from stream_apps.engines.alerts.state import _Alert, alert_id
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.infinity import finite_or_none, inf_from_none

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""


class AlertEngine:
    """Turns episodes and camera-health events into grouped alerts (see the package docstring)."""

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
