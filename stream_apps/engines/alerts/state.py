"""One alert's state: its members, dispositions, state and verdict, and its row.

The state follows the dispositions (each action's earliest ``ts``), not their
order; see the package's docstring.
"""

from __future__ import annotations

from typing import Any

from schemas.records import SCHEMA_VERSION, Alert
from stream_apps.engines.alerts.params import SEVERITY_RANK
from stream_apps.engines.ids import stable_id

_SEVERITY_OF_RANK = {v: k for k, v in SEVERITY_RANK.items()}
# Tie-break of two verdicts at the same instant: the stronger finding wins.
_VERDICT_RANK = {"false_positive": 0, "rectified": 1}
RESOLVING = ("rectified", "false_positive", "closed")


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
