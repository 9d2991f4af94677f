"""The regulators' loop: every engine after alerts, in one place.

`RegulatorsLoop` holds the inspection plan, station KPIs, key-monitoring list
and licence warnings (docs/inspections.md). The ops pipeline feeds it its own
inputs (registry, camera events, inspections) and every record the alert, SLA
and rate engines emit, and advances it with the same clock; it is one engine
to the pipeline (feed / advance / snapshot / restore), so checkpointing it is
one entry.

Order inside one call is fixed (key monitoring before the plan, so a plan row
already knows the operator is on the list), so the answer is a function of
the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.records import Alert, KeyMonitoringEntry, Record
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.inspection_plan import InspectionPlanEngine, InspectionPlanParams
from stream_apps.engines.key_monitoring import KeyMonitoringEngine, KeyMonitoringParams
from stream_apps.engines.licences import LicenceEngine, LicenceParams
from stream_apps.engines.sla import WorkingCalendar
from stream_apps.engines.station_kpis import StationKpiEngine, StationKpiParams

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""


@dataclass(frozen=True)
class LoopParams:
    """Parameters of the engines of the regulators' loop."""

    plan: InspectionPlanParams = field(default_factory=InspectionPlanParams)
    kpis: StationKpiParams = field(default_factory=StationKpiParams)
    key_monitoring: KeyMonitoringParams = field(default_factory=KeyMonitoringParams)
    licences: LicenceParams = field(default_factory=LicenceParams)


class RegulatorsLoop:
    """Inspection plan, station KPIs, key monitoring and licences behind one engine face."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        rectify_due: Callable[[Alert], float],
        params: LoopParams | None = None,
    ) -> None:
        self.params = p = params or LoopParams()
        self.key_monitoring = KeyMonitoringEngine(p.key_monitoring)
        self.plan = InspectionPlanEngine(p.plan)
        self.kpis = StationKpiEngine(rectify_due, p.kpis)
        self.licences = LicenceEngine(calendar, p.licences)
        self._engines = (
            ("key_monitoring", self.key_monitoring),
            ("plan", self.plan),
            ("kpis", self.kpis),
            ("licences", self.licences),
        )

    def feed(self, record: Record) -> list[Record]:
        out: list[Record] = []
        for _, engine in self._engines:
            produced = engine.feed(record)
            out += produced
            for rec in produced:
                if isinstance(rec, KeyMonitoringEntry):
                    self.plan.feed(rec)
        return out

    def feed_all(self, records: list[Any]) -> list[Record]:
        """Feed what the upstream engines emitted; return what that caused."""
        out: list[Record] = []
        for rec in records:
            out += self.feed(rec)
        return out

    def advance(self, now: float) -> list[Record]:
        out: list[Record] = []
        for _, engine in self._engines:
            produced = engine.advance(now)
            out += produced
            for rec in produced:
                if isinstance(rec, KeyMonitoringEntry):
                    self.plan.feed(rec)
        return out

    def wake_before(self, now: float) -> float | None:
        """The earliest instant before ``now`` at which one of the engines emits on its
        own (a midnight's plan and KPI rows, an inspection falling overdue, an operator
        leaving the key-monitoring list), or None.

        The ops app advances everything to it before going on to ``now``: what such a
        row reads from the other engines (an operator's grade from the rates) and
        where its breach lands in them is then what a clock stepping through that
        instant gives, not what a clock jumping hours past it (a large batch of the
        camera app) would."""
        engines = (self.key_monitoring, self.plan, self.kpis)
        wakes = [w for w in (e.wake_before(now) for e in engines) if w is not None]
        return min(wakes, default=None)

    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, **{name: e.snapshot() for name, e in self._engines}}

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version("regulators' loop", snapshot.get("version"), SNAPSHOT_VERSION, "ops")
        for name, engine in self._engines:
            engine.restore(snapshot[name])


__all__ = ["LoopParams", "RegulatorsLoop"]
