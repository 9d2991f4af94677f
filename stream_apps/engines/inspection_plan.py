"""Inspection plan: how often each operator is inspected, when next, who is overdue.

The regulators' rules (../shared/seeds), made precise here and in docs/inspections.md:

- **Frequency from the grade** (seed 001, 镇坪: "A级一年检查一到两次, B级一年检查两到三次,
  C级每季度检查一次, D级一月一检查"). Defaults take the lower bound of each range:
  A 1, B 2, C 4, D 12 on-site inspections a year. Colour follows the grade
  (seed 003, 南昌: green = no routine on-site visit, yellow = routine, orange =
  closer, red = much closer), so one table keyed by grade serves both.
- An operator not yet graded is planned at ``ungraded_per_year`` (routine, the
  南昌 yellow); one on the key-monitoring list (seed 002 §12, 从严管理) at least
  ``key_monitoring_per_year``.
- **Next due** = latest on-site inspection (else the operator's first
  registration seen by the engine) + 365 / due_per_year days. Online patrols do
  not reset it. ``overdue`` once the clock passes it; an ``inspection_overdue``
  SLA breach (alert_id ``inspection:<operator_id>``) is emitted once per due
  date, so it pages like the others and clears when an inspection is recorded.
- **The monthly round** (seed 002 §13: "每月至少完成一轮次全覆盖检查"): per station,
  how many of its operators had any inspection (online counts) this local month.

Rows: at every local midnight the clock passes, one `InspectionPlanRow` per
operator (as_of = that midnight); and one for an operator whenever an
inspection of it is fed (as_of = the inspection's ts). ``plan_id`` =
hash(operator_id, as_of): a replay gives the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    Inspection,
    InspectionPlanRow,
    KeyMonitoringEntry,
    OperatorRate,
    Record,
    RegistryEntry,
    SlaBreach,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.localtime import (
    CHINA_OFFSET_S,
    first_midnight_to_step,
    month_of,
    next_midnight,
)

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

DAY = 86400.0
GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}
DEFAULT_PER_YEAR: tuple[tuple[str, float], ...] = (("A", 1.0), ("B", 2.0), ("C", 4.0), ("D", 12.0))


@dataclass(frozen=True)
class InspectionPlanParams:
    """Settings of the inspection plan; defaults are the regulators' (see module doc)."""

    per_year: tuple[tuple[str, float], ...] = field(
        default=DEFAULT_PER_YEAR,
        metadata={
            "help": "On-site inspections due per year for each grade "
            "(seed 001 镇坪: A 1-2, B 2-3, C quarterly, D monthly; lower bounds)"
        },
    )
    ungraded_per_year: float = field(
        default=2.0,
        metadata={"help": "Inspections per year of an operator not yet graded", "gt": 0},
    )
    key_monitoring_per_year: float = field(
        default=12.0,
        metadata={
            "help": "At least this many inspections per year for an operator on the "
            "key-monitoring list (seed 002 §12: 从严管理)",
            "gt": 0,
        },
    )
    counted_kinds: frozenset[str] = field(
        default_factory=lambda: frozenset({"on_site"}),
        metadata={"help": "Inspection kinds that reset the next-due date"},
    )
    overdue_breaches: bool = field(
        default=True,
        metadata={"help": "Emit an inspection_overdue SLA breach when an inspection is overdue"},
    )
    grace_s: float = field(
        default=60.0,
        metadata={"help": "Seconds past the due date before the overdue breach fires", "ge": 0},
    )
    utc_offset_s: float = field(
        default=CHINA_OFFSET_S, metadata={"help": "Local time offset from UTC, seconds"}
    )
    history_days: float = field(
        default=400.0, metadata={"help": "Inspections older than this are forgotten", "gt": 0}
    )
    max_catchup_days: int = field(
        default=62,
        metadata={"help": "A clock jump over more midnights emits only the last ones", "ge": 1},
    )


def plan_id(operator_id: str, as_of: float) -> str:
    return stable_id(operator_id, as_of)


def overdue_breach_id(operator_id: str, due_at: float) -> str:
    return stable_id(f"inspection:{operator_id}", "inspection_overdue", due_at)


class InspectionPlanEngine:
    """Per-operator inspection plan on event time (see module doc)."""

    def __init__(self, params: InspectionPlanParams | None = None) -> None:
        self.params = params or InspectionPlanParams()
        self._per_year = dict(self.params.per_year)
        # operator -> {"name", "district", "station", "first", "cameras": {camera: active}}
        self._ops: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str] = {}  # camera -> its operator in _ops (derived)
        self._unstarted: set[str] = set()  # operators whose "first" is not set yet (derived)
        self._grade: dict[str, list[Any]] = {}  # op -> [as_of, grade|None, colour|None, reason]
        self._insp: dict[str, list[list[Any]]] = {}  # op -> [[ts, kind, result, inspector]]
        self._key: dict[str, bool] = {}
        self._alerts: dict[str, list[Any]] = {}  # alert_id -> [op, created_at]
        self._breached: dict[str, float] = {}  # op -> due_at of the last breach emitted
        self._midnight: float | None = None  # next midnight to emit at
        self._now = -math.inf
        # The earliest instant an inspection falls overdue (wake_before): a scan of
        # every operator, so kept until an input or an advance may change it.
        self._overdue_wake: float | None = None
        self._overdue_fresh = False

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[Record]:
        if isinstance(record, RegistryEntry):
            self._overdue_fresh = False  # what next_due reads changed
            self._register(record)
        elif isinstance(record, Inspection):
            self._overdue_fresh = False
            return self._inspection(record)
        elif isinstance(record, OperatorRate):
            g = self._grade.get(record.operator_id)
            if g is None or record.as_of >= g[0]:
                graded = record.grade in GRADE_ORDER
                grade = record.grade if graded else None
                if g is None or g[1] != grade:
                    self._overdue_fresh = False
                self._grade[record.operator_id] = [
                    record.as_of,
                    grade,
                    record.colour if graded else None,
                    record.reason,
                ]
        elif isinstance(record, Alert):
            # what the cameras found: a licence alert is paperwork, not a risk signal
            if (
                record.source != "licence"
                and record.operator_id
                and record.alert_id not in self._alerts
            ):
                self._alerts[record.alert_id] = [record.operator_id, record.created_at]
        elif isinstance(record, KeyMonitoringEntry):
            self._overdue_fresh = False
            self._key[record.operator_id] = record.state == "on"
        return []

    def advance(self, now: float) -> list[Record]:
        if now <= self._now:
            return []
        self._now = now
        p = self.params
        if self._unstarted:  # a set, not a scan of every operator at every step
            for op_id in self._unstarted:
                if op_id in self._ops and self._ops[op_id]["first"] is None:
                    self._ops[op_id]["first"] = now
            self._unstarted.clear()
            self._overdue_fresh = False  # what next_due reads changed
        out: list[Record] = []
        if self._midnight is None:
            self._midnight = next_midnight(now, p.utc_offset_s)
        stops = []
        t = self._midnight
        while t <= now:
            stops.append(t)
            t = next_midnight(t, p.utc_offset_s)
        self._midnight = t
        for as_of in stops[-p.max_catchup_days :]:
            out += self.rows(as_of)
        if p.overdue_breaches and self._overdue_by(now):
            breaches = self._overdue(now)
            if breaches:
                self._overdue_fresh = False  # _breached changed
            out += breaches
        if self._prune(now):
            self._overdue_fresh = False
        return out

    def _overdue_by(self, now: float) -> bool:
        """Whether an inspection may have fallen overdue by ``now``; when not,
        ``_overdue`` would find none, and its scan of every operator is skipped."""
        if not self._overdue_fresh:
            self._overdue_wake = self._earliest_overdue()
            self._overdue_fresh = True
        t = self._overdue_wake
        return t is not None and t <= now + 1e-3  # margin: due + grace vs now - grace

    def wake_before(self, now: float) -> float | None:
        """The earliest time after the last ``advance`` and before ``now`` at which
        ``advance`` emits on its own: a midnight's rows, an inspection falling overdue.

        The ops app advances every engine to it first, so a row's grade and a breach's
        place in the rates are what a clock stepping through that instant would give,
        however far the clock jumps (the camera app's batches decide that)."""
        if now <= self._now:
            return None
        p = self.params
        wakes = []
        midnight = first_midnight_to_step(self._midnight, now, p.max_catchup_days, p.utc_offset_s)
        if midnight is not None:
            wakes.append(midnight)
        if p.overdue_breaches:
            self._overdue_by(now)  # refreshes the cached earliest instant
            t = self._overdue_wake
            if t is not None and self._now < t < now:
                wakes.append(t)
        return min(wakes, default=None)

    def _earliest_overdue(self) -> float | None:
        """When the next inspection not yet breached falls overdue (due + grace)."""
        grace = self.params.grace_s
        times = []
        for op_id, op in self._ops.items():
            due = self.next_due(op_id)
            if due is None or not self._active(op) or self._breached.get(op_id) == due:
                continue
            times.append(due + grace)
        return min(times, default=None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "midnight": self._midnight,
            "ops": {k: {**v, "cameras": dict(v["cameras"])} for k, v in self._ops.items()},
            "grade": {k: list(v) for k, v in self._grade.items()},
            "insp": {k: [list(i) for i in v] for k, v in self._insp.items()},
            "key": dict(self._key),
            "alerts": {k: list(v) for k, v in self._alerts.items()},
            "breached": dict(self._breached),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version(
            "inspection-plan engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops"
        )
        self._now = inf_from_none(snapshot.get("now"))
        self._midnight = snapshot["midnight"]
        self._ops = {k: {**v, "cameras": dict(v["cameras"])} for k, v in snapshot["ops"].items()}
        self._owner = {cam: op_id for op_id, op in self._ops.items() for cam in op["cameras"]}
        self._unstarted = {k for k, op in self._ops.items() if op["first"] is None}
        self._grade = {k: list(v) for k, v in snapshot["grade"].items()}
        self._insp = {k: [list(i) for i in v] for k, v in snapshot["insp"].items()}
        self._key = dict(snapshot["key"])
        self._alerts = {k: list(v) for k, v in snapshot["alerts"].items()}
        self._breached = dict(snapshot["breached"])
        self._overdue_fresh = False

    # -- queries ------------------------------------------------------------------
    def due_per_year(self, operator_id: str) -> float:
        p = self.params
        g = self._grade.get(operator_id)
        grade = g[1] if g else None
        n = self._per_year.get(grade, p.ungraded_per_year) if grade else p.ungraded_per_year
        if self._key.get(operator_id):
            n = max(n, p.key_monitoring_per_year)
        return n

    def next_due(self, operator_id: str) -> float | None:
        op = self._ops.get(operator_id)
        if op is None:
            return None
        counted = [
            i[0] for i in self._insp.get(operator_id, []) if i[1] in self.params.counted_kinds
        ]
        base = max(counted) if counted else op["first"]
        if base is None:
            return None
        return base + 365.0 / self.due_per_year(operator_id) * DAY

    def rows(self, as_of: float) -> list[InspectionPlanRow]:
        """The plan of every operator as of ``as_of`` (what a midnight emits)."""
        return self._rows(as_of, None)

    # -- internals ----------------------------------------------------------------
    def _register(self, e: RegistryEntry) -> None:
        op = self._ops.get(e.operator_id)
        if op is None:
            first = finite_or_none(self._now)
            op = self._ops[e.operator_id] = {"first": first, "cameras": {}}
            if first is None:
                self._unstarted.add(e.operator_id)
        op["name"], op["district"], op["station"] = e.operator_name, e.district, e.station
        op["cameras"][e.camera_id] = e.active
        # A camera moving to another operator leaves the old one (looked up, not
        # scanned: a city registers 100,000 cameras of tens of thousands of operators).
        before = self._owner.get(e.camera_id)
        if before is not None and before != e.operator_id:
            self._ops[before]["cameras"].pop(e.camera_id, None)
        self._owner[e.camera_id] = e.operator_id

    def _inspection(self, i: Inspection) -> list[Record]:
        rows = self._insp.setdefault(i.operator_id, [])
        item = [i.ts, i.kind, i.result, i.inspector]
        if item in rows:
            return []
        rows.append(item)
        rows.sort()
        if i.operator_id not in self._ops:
            return []  # kept: it counts once the operator's registry entry arrives
        return list(self._rows(i.ts, {i.operator_id}))

    def _active(self, op: dict[str, Any]) -> bool:
        return any(op["cameras"].values()) or not op["cameras"]

    def _rows(self, as_of: float, only: set[str] | None) -> list[InspectionPlanRow]:
        p = self.params
        month = month_of(as_of, p.utc_offset_s)
        facts: dict[str, dict[str, Any]] = {}
        for op_id, op in self._ops.items():
            if not self._active(op) or op["first"] is None or op["first"] > as_of:
                continue
            insp = [i for i in self._insp.get(op_id, []) if i[0] <= as_of]
            counted = [i for i in insp if i[1] in p.counted_kinds]
            per_year = self.due_per_year(op_id)
            interval = 365.0 / per_year
            base = counted[-1][0] if counted else op["first"]
            due = base + interval * DAY
            g = self._grade.get(op_id)
            facts[op_id] = {
                "op": op,
                "grade": g[1] if g else None,
                "colour": g[2] if g else None,
                "reason": g[3] if g else "no rate yet",
                "per_year": per_year,
                "interval": interval,
                "last": insp[-1] if insp else None,
                "last_on_site": counted[-1][0] if counted else None,
                "n365": sum(1 for i in insp if i[0] > as_of - 365 * DAY),
                "due": due,
                "overdue_days": max(0.0, (as_of - due) / DAY),
                "month": any(month_of(i[0], p.utc_offset_s) == month for i in insp),
                "alerts": sum(
                    1
                    for a_op, created in self._alerts.values()
                    if a_op == op_id and as_of - 30 * DAY <= created <= as_of
                ),
            }
        by_station: dict[str, list[str]] = {}
        for op_id, f in facts.items():
            by_station.setdefault(f["op"]["station"], []).append(op_id)
        out = []
        for station in sorted(by_station):
            ids = by_station[station]
            ranked = sorted(
                ids,
                key=lambda o: (
                    -GRADE_ORDER.get(facts[o]["grade"] or "B", 1) - (4 if self._key.get(o) else 0),
                    -facts[o]["overdue_days"],
                    -facts[o]["alerts"],
                    facts[o]["due"],
                    o,
                ),
            )
            inspected = sum(1 for o in ids if facts[o]["month"])
            for rank, op_id in enumerate(ranked, 1):
                if only is not None and op_id not in only:
                    continue
                f = facts[op_id]
                op = f["op"]
                last = f["last"]
                out.append(
                    InspectionPlanRow(
                        v=SCHEMA_VERSION,
                        plan_id=plan_id(op_id, as_of),
                        operator_id=op_id,
                        operator_name=op.get("name", ""),
                        district=op.get("district", ""),
                        station=station,
                        as_of=as_of,
                        grade=f["grade"],
                        colour=f["colour"],
                        grade_reason=f["reason"],
                        on_key_monitoring=bool(self._key.get(op_id)),
                        due_per_year=f["per_year"],
                        interval_days=round(f["interval"], 3),
                        last_inspection_at=last[0] if last else None,
                        last_on_site_at=f["last_on_site"],
                        last_result=last[2] if last else None,
                        inspections_365d=f["n365"],
                        next_due_at=f["due"],
                        overdue=as_of >= f["due"],
                        overdue_days=round(f["overdue_days"], 3),
                        month=month,
                        inspected_this_month=f["month"],
                        station_operators=len(ids),
                        station_inspected_this_month=inspected,
                        risk_rank=rank,
                        alerts_30d=f["alerts"],
                    )
                )
        out.sort(key=lambda r: (r.station, r.risk_rank))
        return out

    def _overdue(self, now: float) -> list[SlaBreach]:
        out = []
        for op_id in sorted(self._ops):
            op = self._ops[op_id]
            if not self._active(op):
                continue
            due = self.next_due(op_id)
            if due is None or due > now - self.params.grace_s:
                continue
            if self._breached.get(op_id) == due:
                continue
            self._breached[op_id] = due
            g = self._grade.get(op_id)
            out.append(
                SlaBreach(
                    v=SCHEMA_VERSION,
                    breach_id=overdue_breach_id(op_id, due),
                    alert_id=f"inspection:{op_id}",
                    kind="inspection_overdue",
                    due_at=due,
                    alert_created_at=due - 365.0 / self.due_per_year(op_id) * DAY,
                    state_at_due="open",
                    source="inspection",
                    cls="inspection",
                    severity="major" if g and g[1] in ("C", "D") else "minor",
                    kitchen_id=None,
                    operator_id=op_id,
                    district=op.get("district") or None,
                    station=op.get("station") or None,
                    calendar_covered=True,
                )
            )
        return out

    def _prune(self, now: float) -> bool:
        """Forget old inspections and alerts; True if an inspection went."""
        horizon = now - self.params.history_days * DAY
        pruned = False
        for op_id, rows in self._insp.items():
            keep = [r for r in rows if r[0] >= horizon]
            if not keep and rows:
                keep = rows[-1:]  # the latest is still the base of next_due
            if len(keep) != len(rows):
                pruned = True
                self._insp[op_id] = keep
        for aid in [a for a, v in self._alerts.items() if v[1] < now - 31 * DAY]:
            del self._alerts[aid]
        return pruned


__all__ = [
    "DEFAULT_PER_YEAR",
    "InspectionPlanEngine",
    "InspectionPlanParams",
    "overdue_breach_id",
    "plan_id",
]
