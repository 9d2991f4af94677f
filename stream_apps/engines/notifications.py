"""Real-time notifications: which receivers hear of which alert, once.

Seed 002 §16: "平台预警信息实行实时推送, 食品经营者、监管人员应当通过App及时查收" — every alert
is pushed at once to the operator and to the supervising station. This engine
decides *what* to send to *whom*; the shell (stream_apps/notifier.py) keeps an
outbox and does the HTTP, retries and rate limits.

- Subjects: a new alert (its first record, whatever revision arrives first),
  each SLA breach, each licence alert. A later revision of the same alert
  sends nothing: deduplication is by alert id (breach id, licence alert id)
  and receiver.
- Receivers: the operator's webhook (``operator_webhooks``) and the station's
  (``station_webhooks``), each ``"<key>=<format>:<url>"`` with format
  ``dingtalk``, ``wecom`` or ``json``; ``"*"`` as key is the default for every
  operator (station). A subject without a configured receiver sends nothing.
- ``notification_id`` = hash(receiver, subject id): the outbox's primary key,
  so a replayed input (at-least-once) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.records import Alert, LicenceAlert, Notification, Record, SlaBreach
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

FORMATS = ("dingtalk", "wecom", "json")


@dataclass(frozen=True)
class NotificationParams:
    """Who receives real-time notifications (see module doc)."""

    operator_webhooks: tuple[str, ...] = field(
        default=(),
        metadata={"help": 'Operator receivers, "<operator_id or *>=<dingtalk|wecom|json>:<url>"'},
    )
    station_webhooks: tuple[str, ...] = field(
        default=(),
        metadata={"help": 'Station receivers, "<station or *>=<dingtalk|wecom|json>:<url>"'},
    )
    breaches: bool = field(default=True, metadata={"help": "Also notify each SLA breach"})
    licences: bool = field(default=True, metadata={"help": "Also notify each licence alert"})
    remember_s: float = field(
        default=40 * 86400.0,
        metadata={"help": "Subjects are remembered this long for deduplication", "gt": 0},
    )


def parse_receivers(specs: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """``"key=format:url"`` entries -> {key: (format, url)}; ValueError naming a bad one."""
    out: dict[str, tuple[str, str]] = {}
    for spec in specs:
        key, eq, rest = spec.partition("=")
        fmt, colon, url = rest.partition(":")
        if not eq or not colon or fmt not in FORMATS or not url.startswith(("http://", "https://")):
            raise ValueError(f"receiver {spec!r}: want '<key>=<dingtalk|wecom|json>:<http(s) url>'")
        out[key.strip()] = (fmt, url)
    return out


def notification_id(receiver: str, subject_id: str) -> str:
    return stable_id(receiver, subject_id)


class NotificationEngine:
    """Decides the notifications of new alerts, breaches and licence alerts (see module doc)."""

    def __init__(self, params: NotificationParams | None = None) -> None:
        self.params = p = params or NotificationParams()
        self._operators = parse_receivers(p.operator_webhooks)
        self._stations = parse_receivers(p.station_webhooks)
        self._seen: dict[str, float] = {}  # subject id -> event time first seen
        self._now = float("-inf")

    def enabled(self) -> bool:
        return bool(self._operators or self._stations)

    def feed(self, record: Record) -> list[Notification]:
        p = self.params
        if isinstance(record, Alert) and record.source == "licence":
            return []  # its licence alert (below) is the message
        if isinstance(record, Alert):
            subject, kind, at = record.alert_id, "alert", record.created_at
            title = f"[{record.severity}] {record.cls} alert"
            if record.repeat_of:
                title += " (repeat offence)"
            text = (
                f"{record.cls} ({record.source}) at kitchen {record.kitchen_id or '?'}, "
                f"cameras {', '.join(record.camera_ids)}; raised "
                f"{_utc(record.created_at)}; verify within 24 h"
            )
        elif isinstance(record, SlaBreach) and p.breaches:
            subject, kind, at = record.breach_id, "sla_breach", record.due_at
            title = f"[{record.severity}] SLA {record.kind}: {record.cls}"
            text = f"alert {record.alert_id} missed {record.kind}, due {_utc(record.due_at)}"
        elif isinstance(record, LicenceAlert) and p.licences:
            subject, kind, at = record.licence_alert_id, "licence", record.due_at
            title = f"[{record.severity}] licence {record.kind} {record.stage}"
            text = (
                f"{record.kind} {record.number} ({record.holder}) of {record.operator_name}: "
                f"{record.stage}, {record.days_left:g} days left"
            )
        else:
            return []
        if subject in self._seen:
            return []
        self._seen[subject] = at
        self._now = max(self._now, at)
        operator = getattr(record, "operator_id", None) or ""
        station = getattr(record, "station", None) or ""
        out = []
        for role, table, key in (
            ("operator", self._operators, operator),
            ("station", self._stations, station),
        ):
            target = table.get(key) or table.get("*")
            if target is None or not key:
                continue
            receiver = f"{role}:{key}"
            out.append(
                Notification(
                    notification_id=notification_id(receiver, subject),
                    receiver=receiver,
                    format=target[0],
                    url=target[1],
                    subject_id=subject,
                    kind=kind,
                    ts=at,
                    title=title,
                    text=text,
                    operator_id=operator or None,
                    station=station or None,
                )
            )
        return out

    def advance(self, now: float) -> list[Notification]:
        horizon = now - self.params.remember_s
        for k in [k for k, t in self._seen.items() if t < horizon]:
            del self._seen[k]
        return []

    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, "seen": dict(self._seen)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version(
            "notification engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops"
        )
        self._seen = dict(snapshot["seen"])


def _utc(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


__all__ = ["NotificationEngine", "NotificationParams", "notification_id", "parse_receivers"]
