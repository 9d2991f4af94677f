"""Station KPIs per local day: coverage, discovery, handling, timely disposal, false alarms.

What the regulators score stations on (seed 002 §21: 平台覆盖率、问题发现率、查处率;
seed 000 §五.1: 处置及时率), made precise here and in docs/inspections.md. For each
station (and rolled up per district and for the city), when the clock passes
the end of a local day D, one `StationKpi` row for D:

- **Coverage** (接入率 / 覆盖率): ``kitchens_registered`` / ``cameras_registered`` are
  the active registry entries at the end of D; a camera is *online* on D unless
  one offline episode covers the whole of D; a kitchen is *connected* on D when
  at least one of its cameras is online.
- Rates are over the ``window_days`` local days ending with D (the window
  ``[D+1 - window_days, D+1)``), so a row never changes after it is emitted:
- **Discovery rate** (问题发现率): alerts first confirmed (verified or rectified,
  not overturned to false positive) in the window per 100 supervised
  kitchen-days (the sum of ``kitchens_connected`` over the window's days).
- **Handling rate** (查处率): of those confirmed alerts, the share rectified by the
  end of D.
- **Timely-disposal rate** (处置及时率): of the alerts whose rectification deadline
  fell in the window and has passed, the share resolved before it. Alerts not
  yet due are not counted (neither timely nor late).
- **False-alarm rate**: false-positive verdicts / (false positive + confirmed)
  in the window.

A rate with a zero denominator is null. ``kpi_id`` = hash(level, district,
station, day).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from schemas.records import (
    SCHEMA_VERSION,
    Alert,
    CameraEvent,
    Record,
    RegistryEntry,
    StationKpi,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.localtime import (
    CHINA_OFFSET_S,
    day_start,
    first_midnight_to_step,
    local_day,
    next_midnight,
)

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

DAY = 86400.0


@dataclass(frozen=True)
class StationKpiParams:
    """Settings of the station KPIs; see module doc for the definitions."""

    window_days: int = field(
        default=30,
        metadata={"help": "Days each rate is computed over, ending with the row's day", "ge": 1},
    )
    discovery_sources: frozenset[str] = field(
        default_factory=lambda: frozenset({"violation"}),
        metadata={
            "help": "Alert sources counted as problems found (discovery, handling, false alarms)"
        },
    )
    timely_sources: frozenset[str] = field(
        default_factory=lambda: frozenset({"violation"}),
        metadata={
            "help": "Alert sources whose rectification deadline counts in the timely-disposal rate"
        },
    )
    utc_offset_s: float = field(
        default=CHINA_OFFSET_S, metadata={"help": "Local time offset from UTC, seconds"}
    )
    max_catchup_days: int = field(
        default=62,
        metadata={"help": "A clock jump over more midnights emits only the last ones", "ge": 1},
    )


def kpi_id(level: str, district: str, station: str, day: str) -> str:
    return stable_id(level, district, station, day)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


class StationKpiEngine:
    """Daily station KPIs on event time (see module doc).

    ``rectify_due(alert)`` gives an alert's rectification deadline (the SLA
    engine's, so both agree); it is configuration, not state.
    """

    def __init__(
        self,
        rectify_due: Callable[[Alert], float],
        params: StationKpiParams | None = None,
    ) -> None:
        self.params = params or StationKpiParams()
        self._rectify_due = rectify_due
        self._cams: dict[str, list[Any]] = {}  # camera -> [kitchen, district, station, active]
        self._offline: dict[str, dict[str, list[Any]]] = {}  # camera -> event_id -> [start, end]
        self._alerts: dict[str, dict[str, Any]] = {}
        # (district, station) -> {day ordinal: kitchens connected}
        self._history: dict[str, dict[str, int]] = {}
        self._midnight: float | None = None
        self._now = -math.inf

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[Record]:
        if isinstance(record, RegistryEntry):
            self._cams[record.camera_id] = [
                record.kitchen_id,
                record.district,
                record.station,
                record.active,
            ]
        elif isinstance(record, CameraEvent) and record.kind == "offline":
            eps = self._offline.setdefault(record.camera_id, {})
            ep = eps.get(record.event_id)
            if ep is None:
                eps[record.event_id] = [record.started_at, record.ended_at]
            elif record.ended_at is not None:
                ep[1] = record.ended_at
        elif isinstance(record, Alert):
            self._alert(record)
        return []

    def advance(self, now: float) -> list[Record]:
        if now <= self._now:
            return []
        self._now = now
        p = self.params
        if self._midnight is None:
            self._midnight = next_midnight(now, p.utc_offset_s)
            return []
        stops = []
        t = self._midnight
        while t <= now:
            stops.append(t)
            t = next_midnight(t, p.utc_offset_s)
        self._midnight = t
        out: list[Record] = []
        for m in stops[-p.max_catchup_days :]:
            out += self._day(m)
        if stops:
            self._prune(stops[-1])
        return out

    def wake_before(self, now: float) -> float | None:
        """The first midnight after the last ``advance`` and before ``now`` (its day's
        rows): the ops app advances every engine there first (InspectionPlanEngine)."""
        if now <= self._now:
            return None
        p = self.params
        return first_midnight_to_step(self._midnight, now, p.max_catchup_days, p.utc_offset_s)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "midnight": self._midnight,
            "cams": {k: list(v) for k, v in self._cams.items()},
            "offline": {
                c: {e: list(v) for e, v in eps.items()} for c, eps in self._offline.items()
            },
            "alerts": {k: dict(v) for k, v in self._alerts.items()},
            "history": {k: dict(v) for k, v in self._history.items()},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version(
            "station-KPI engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops"
        )
        self._now = inf_from_none(snapshot.get("now"))
        self._midnight = snapshot["midnight"]
        self._cams = {k: list(v) for k, v in snapshot["cams"].items()}
        self._offline = {
            c: {e: list(v) for e, v in eps.items()} for c, eps in snapshot["offline"].items()
        }
        self._alerts = {k: dict(v) for k, v in snapshot["alerts"].items()}
        self._history = {k: dict(v) for k, v in snapshot["history"].items()}

    # -- internals ----------------------------------------------------------------
    def _alert(self, a: Alert) -> None:
        s = self._alerts.get(a.alert_id)
        if s is None:
            s = self._alerts[a.alert_id] = {
                "district": a.district or "",
                "station": a.station or "",
                "source": a.source,
                "created": a.created_at,
                "due": self._rectify_due(a),
                "confirmed": None,
                "fp": None,
                "rectified": None,
                "resolved": None,
            }
        s["district"], s["station"] = a.district or s["district"], a.station or s["station"]
        if a.state in ("verified", "rectified") or (
            a.state == "closed" and a.verified_at is not None and s["fp"] is None
        ):
            if s["confirmed"] is None:
                s["confirmed"] = a.verified_at if a.verified_at is not None else a.updated_at
            s["fp"] = None
        elif a.state == "false_positive":
            s["fp"] = a.resolved_at if a.resolved_at is not None else a.updated_at
            s["confirmed"] = None
        s["rectified"] = a.resolved_at if a.resolution == "rectified" else None
        s["resolved"] = a.resolved_at

    def _online(self, camera: str, start: float, end: float) -> bool:
        for a, b in self._offline.get(camera, {}).values():
            if a <= start and (b is None or b >= end):
                return False
        return True

    def _day(self, end: float) -> list[StationKpi]:
        p = self.params
        day = local_day(end - 1.0, p.utc_offset_s)
        start = day_start(day, p.utc_offset_s)
        w_start = day_start(day - timedelta(days=p.window_days - 1), p.utc_offset_s)
        first_day = (day - timedelta(days=p.window_days - 1)).toordinal()
        # Per station: coverage now, flows in the window.
        st: dict[tuple[str, str], dict[str, Any]] = {}

        def bucket(district: str, station: str) -> dict[str, Any]:
            b = st.get((district, station))
            if b is None:
                b = st[(district, station)] = {
                    "kitchens": set(),
                    "connected": set(),
                    "cameras": 0,
                    "online": 0,
                    "counts": [0, 0, 0, 0, 0, 0],
                }
            return b

        for camera, (kitchen, district, station, active) in sorted(self._cams.items()):
            if not active:
                continue
            b = bucket(district, station)
            b["kitchens"].add(kitchen)
            b["cameras"] += 1
            if self._online(camera, start, end):
                b["online"] += 1
                b["connected"].add(kitchen)
        for s in self._alerts.values():
            c = None
            if s["source"] in p.discovery_sources:
                if w_start <= s["created"] < end:
                    c = c or bucket(s["district"], s["station"])["counts"]
                    c[0] += 1
                if s["confirmed"] is not None and w_start <= s["confirmed"] < end:
                    c = c or bucket(s["district"], s["station"])["counts"]
                    c[1] += 1
                    if s["rectified"] is not None and s["rectified"] < end:
                        c[2] += 1
                if s["fp"] is not None and w_start <= s["fp"] < end:
                    c = c or bucket(s["district"], s["station"])["counts"]
                    c[3] += 1
            if s["source"] in p.timely_sources and w_start <= s["due"] < end:
                c = c or bucket(s["district"], s["station"])["counts"]
                c[4] += 1
                if s["resolved"] is not None and s["resolved"] < s["due"]:
                    c[5] += 1
        day_s = day.isoformat()
        for (district, station), b in st.items():
            hist = self._history.setdefault(f"{district}|{station}", {})
            hist[str(day.toordinal())] = len(b["connected"])
            b["kitchen_days"] = sum(n for d, n in hist.items() if int(d) >= first_day)
        rows: list[StationKpi] = []
        levels: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for (district, station), b in st.items():
            levels.setdefault(("station", district, station), []).append(b)
            levels.setdefault(("district", district, ""), []).append(b)
            levels.setdefault(("city", "", ""), []).append(b)
        order = {"station": 0, "district": 1, "city": 2}
        for level, district, station in sorted(levels, key=lambda k: (order[k[0]], k[1], k[2])):
            parts = levels[(level, district, station)]
            kitchens = sum(len(b["kitchens"]) for b in parts)
            connected = sum(len(b["connected"]) for b in parts)
            cameras = sum(b["cameras"] for b in parts)
            online = sum(b["online"] for b in parts)
            kdays = sum(b["kitchen_days"] for b in parts)
            n = [sum(b["counts"][i] for b in parts) for i in range(6)]
            rows.append(
                StationKpi(
                    v=SCHEMA_VERSION,
                    kpi_id=kpi_id(level, district, station, day_s),
                    level=level,
                    district=district,
                    station=station,
                    day=day_s,
                    day_start=start,
                    window_days=p.window_days,
                    kitchens_registered=kitchens,
                    kitchens_connected=connected,
                    cameras_registered=cameras,
                    cameras_online=online,
                    kitchen_coverage=_ratio(connected, kitchens),
                    camera_coverage=_ratio(online, cameras),
                    kitchen_days=kdays,
                    alerts=n[0],
                    confirmed=n[1],
                    rectified=n[2],
                    false_positive=n[3],
                    timely_due=n[4],
                    timely_met=n[5],
                    discovery_rate=n[1] / kdays * 100.0 if kdays else None,
                    handling_rate=_ratio(n[2], n[1]),
                    timely_rate=_ratio(n[5], n[4]),
                    false_alarm_rate=_ratio(n[3], n[3] + n[1]),
                )
            )
        return rows

    def _prune(self, end: float) -> None:
        p = self.params
        keep = end - (p.window_days + 1) * DAY
        for aid in [
            a
            for a, s in self._alerts.items()
            if s["created"] < keep
            and s["due"] < keep
            and (s["confirmed"] or 0) < keep
            and (s["fp"] or 0) < keep
        ]:
            del self._alerts[aid]
        first = local_day(keep, p.utc_offset_s).toordinal()
        for hist in self._history.values():
            for d in [d for d in hist if int(d) < first]:
                del hist[d]
        for eps in self._offline.values():
            for e in [e for e, (_, b) in eps.items() if b is not None and b < keep]:
                del eps[e]


__all__ = ["StationKpiEngine", "StationKpiParams", "kpi_id"]
