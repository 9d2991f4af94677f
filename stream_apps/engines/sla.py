"""SLA clocks of alerts, on event time.

The regulators' rules (shared/seeds 002 §16, §18 and 000 §五.2), made precise
here and in docs/sla-and-rates.md:

- **verify_overdue**: no disposition of any kind within ``verify_within_s``
  (24 h) of the alert's ``created_at``.
- **rectify_overdue**: not resolved by the end (24:00 local) of the 3rd working
  day after the local day the alert was created; the creation day does not
  count (civil-code rule: a period in days starts the next day). Working days
  come from a `WorkingCalendar`: public holidays are off, make-up working days
  (调休上班) are on, otherwise Monday-Friday.
- **yellow_card** / **escalated**: not resolved by the end of the 5th / 10th
  *natural* day after the creation day ("自预警信息形成之日起超过 5 日未整改", seed
  000). With ``cards_wait_for_rectify`` (default) a card is never due before
  the rectification deadline, nor escalation before the yellow card: a card is
  for an alert *not disposed in time*, and over a long holiday the 5th natural
  day can come before the 3rd working day.

- **rectify_24h_overdue** (the 24-hour track, seed 002 §18: "预警问题可以立即整改的, 应当于
  24小时内完成整改"): alerts of a class in ``fixable_at_once`` (a bin lid, a hat,
  a mask) must be resolved within ``fix_within_s`` of ``created_at``; other
  alerts have no such clock. The 3-working-day clock still runs beside it (it
  is the deadline for the whole procedure, 信息录入、审核).

"Resolved" means a disposition ``rectified``, ``closed`` or ``false_positive``
(nothing to rectify). A deadline is met when the meeting disposition's ``ts`` is
before it (half-open: ``ts < due_at``).

Each breach is emitted once: by ``advance(now)`` when ``now >= due_at +
grace_s`` with the deadline unmet, or by ``feed`` when a disposition arrives
that proves it late (``ts >= due_at``), whichever comes first. The record's
fields depend only on the alert and the deadline, so either path gives the
same record; ids are hash(alert_id, kind).

Input: `Alert` records (``bk.alerts.v1``, whose ``verified_at``/``resolved_at``
carry the dispositions) and/or `Disposition` records directly; both are
idempotent (earliest time wins). The engine imports only the standard library
and schemas; the calendar is handed in (see ``stream_apps.calendar_loader``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.records import SCHEMA_VERSION, Alert, Disposition, Record, SlaBreach
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.infinity import finite_or_none, inf_from_none

SNAPSHOT_VERSION = 1
"""Version of what ``snapshot`` writes; ``restore`` reads no other."""

BREACH_KINDS: tuple[str, ...] = (
    "verify_overdue",
    "rectify_24h_overdue",
    "rectify_overdue",
    "yellow_card",
    "escalated",
)
# A clock that does not apply to an alert (the 24-hour track of a class not fixable at once).
NOT_APPLICABLE = "n/a"
DEFAULT_FIXABLE_AT_ONCE = frozenset(
    {"no_hat", "no_mask", "no_uniform", "no_gloves", "trash_uncovered"}
)
RESOLVING_ACTIONS = frozenset({"rectified", "closed", "false_positive"})


class WorkingCalendar:
    """The Chinese working-day calendar as plain data.

    ``holidays``: days off although Monday-Friday (and the weekend days inside
    a holiday block, harmlessly). ``workdays``: make-up working days (调休上班)
    that fall on a weekend. Any other day is a working day iff Monday-Friday.
    ``covered_years``: years the data is known for (default: the years that
    appear in either set); `covers` lets the caller flag a deadline computed
    from weekends alone.
    """

    def __init__(
        self,
        holidays: Iterable[date],
        workdays: Iterable[date],
        covered_years: Iterable[int] | None = None,
    ) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        if covered_years is None:
            covered_years = {d.year for d in self.holidays | self.workdays}
        self.covered_years = frozenset(covered_years)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def covers(self, day: date) -> bool:
        return day.year in self.covered_years

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself not counted); n >= 1."""
        if n < 1:
            raise ValueError("n must be >= 1")
        d = day
        while n:
            d += timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d

    def span_covered(self, first: date, last: date) -> bool:
        return all(self.covers(date(y, 1, 1)) for y in range(first.year, last.year + 1))


@dataclass(frozen=True)
class SlaParams:
    """Settings of the SLA clocks; every default is the regulators' rule."""

    verify_within_s: float = 86400.0
    """Verification deadline after created_at (seed 002 §16: 24 小时内完成核实)."""
    rectify_working_days: int = 3
    """Rectification deadline in working days (seed 002 §18: 3 个工作日)."""
    yellow_card_days: int = 5
    """Natural days unresolved before a yellow card (seed 000: 超过 5 日未整改)."""
    escalate_days: int = 10
    """Natural days unresolved before escalation (seed 000: 超过 10 日)."""
    cards_wait_for_rectify: bool = True
    """A card is never due before the rectification deadline (see module doc)."""
    utc_offset_s: float = 8 * 3600.0
    """Local time of the calendar (Asia/Shanghai has had no DST since 1991)."""
    grace_s: float = 60.0
    """``advance`` declares a breach only this long after the deadline, so a
    disposition made just in time but delivered a little late still counts."""
    applies_to: frozenset[str] = field(
        default_factory=lambda: frozenset({"violation", "camera_health", "licence"})
    )
    """Alert sources that run SLA clocks."""
    fixable_at_once: frozenset[str] = field(
        default=DEFAULT_FIXABLE_AT_ONCE,
        metadata={
            "help": "Alert classes that can be fixed at once and get the 24-hour "
            "rectification deadline (seed 002 §18)"
        },
    )
    fix_within_s: float = field(
        default=86400.0,
        metadata={"help": "Deadline of the 24-hour track after created_at, seconds", "gt": 0},
    )
    forget_after_s: float = 40 * 86400.0
    """A settled alert's id is remembered this long after creation (replays of it
    are ignored); alerts created longer ago than this are ignored on arrival."""


@dataclass
class SlaCounters:
    """Plain counters the shell exports as metrics."""

    alerts: int = 0
    ignored_too_old: int = 0
    ignored_source: int = 0
    early_dispositions: int = 0
    breaches: int = 0
    uncovered_calendar: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TimelyRate:
    """处置及时率 of one group: ``timely`` of ``due`` settled alerts."""

    due: int
    timely: int

    @property
    def rate(self) -> float | None:
        return self.timely / self.due if self.due else None


def breach_id(alert_id: str, kind: str) -> str:
    """Deterministic id of one breach: same alert and kind -> same id."""
    return stable_id(alert_id, kind)


class _Clock:
    """Clocks of one alert: its context, the deadlines and what is settled."""

    __slots__ = (
        "alert",
        "due",
        "covered",
        "verified_at",
        "resolved_at",
        "settled",
    )

    def __init__(self, alert: dict[str, Any], due: dict[str, float], covered: bool) -> None:
        self.alert = alert  # source, cls, severity, kitchen/operator/district/station, created_at
        self.due = due
        self.covered = covered
        self.verified_at: float | None = None
        self.resolved_at: float | None = None
        # kind -> "met" | "breached"
        self.settled: dict[str, str] = {}

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Clock:
        c = cls(d["alert"], d["due"], d["covered"])
        c.verified_at = d["verified_at"]
        c.resolved_at = d["resolved_at"]
        c.settled = dict(d["settled"])
        for kind in BREACH_KINDS:  # a snapshot older than a clock kind: not applicable
            if kind not in c.due:
                c.due[kind] = c.alert["created_at"]
                c.settled[kind] = NOT_APPLICABLE
        return c


class SlaEngine:
    """SLA clocks of alerts on event time (see module doc)."""

    def __init__(self, calendar: WorkingCalendar, params: SlaParams | None = None) -> None:
        self.calendar = calendar
        self.params = params or SlaParams()
        self._clocks: dict[str, _Clock] = {}
        # Settled alerts: alert_id -> created_at, so replays are ignored.
        self._done: dict[str, float] = {}
        # Dispositions whose alert is not known yet: alert_id -> [verified, resolved].
        self._early: dict[str, list[float | None]] = {}
        self._early_seen: dict[str, float] = {}
        # 处置及时率 counts: (district, station, local day ordinal, kind) -> [due, timely]
        self._timely: dict[tuple[str, str, int, str], list[int]] = {}
        self._now = float("-inf")
        self.counters = SlaCounters()

    # -- lifecycle -----------------------------------------------------------
    def feed(self, record: Record) -> list[SlaBreach]:
        """An Alert (new or updated) or a Disposition in; breaches it proves out."""
        if isinstance(record, Alert):
            return self._feed_alert(record)
        if isinstance(record, Disposition):
            return self._feed_disposition(record)
        return []

    def advance(self, now: float) -> list[SlaBreach]:
        """Watermark moved to ``now``: emit every deadline passed unmet."""
        if now > self._now:
            self._now = now
        out: list[tuple[float, int, str, SlaBreach]] = []
        finished: list[str] = []
        limit = now - self.params.grace_s
        for alert_id, clock in self._clocks.items():
            for i, kind in enumerate(BREACH_KINDS):
                if kind in clock.settled:
                    continue
                due = clock.due[kind]
                if due <= limit:
                    out.append((due, i, alert_id, self._breach(alert_id, clock, kind)))
            if len(clock.settled) == len(BREACH_KINDS):
                finished.append(alert_id)
        for alert_id in finished:
            self._finish(alert_id)
        self._prune(now)
        out.sort(key=lambda x: x[:3])
        return [b for *_, b in out]

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "now": finite_or_none(self._now),
            "clocks": {a: c.to_dict() for a, c in self._clocks.items()},
            "done": dict(self._done),
            "early": {a: list(v) for a, v in self._early.items()},
            "early_seen": dict(self._early_seen),
            "timely": [[*k, *v] for k, v in self._timely.items()],
            "counters": self.counters.as_dict(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        check_snapshot_version("SLA engine", snapshot.get("version"), SNAPSHOT_VERSION, "ops")
        self._now = inf_from_none(snapshot.get("now"))
        self._clocks = {a: _Clock.from_dict(c) for a, c in snapshot["clocks"].items()}
        self._done = dict(snapshot["done"])
        self._early = {a: list(v) for a, v in snapshot["early"].items()}
        self._early_seen = dict(snapshot["early_seen"])
        self._timely = {(r[0], r[1], r[2], r[3]): [r[4], r[5]] for r in snapshot["timely"]}
        self.counters = SlaCounters(**snapshot["counters"])

    # -- queries ------------------------------------------------------------------
    def timely_disposal_rate(
        self,
        by: str = "district",
        kind: str = "rectify_overdue",
        since: date | None = None,
        until: date | None = None,
    ) -> dict[tuple[str, ...], TimelyRate]:
        """处置及时率 per district (key ``(district,)``) or station (``(district, station)``).

        Counts alerts whose clock ``kind`` is settled: ``timely`` met it,
        the rest of ``due`` breached it. Alerts still inside their deadline
        are not counted yet. ``since``/``until`` (inclusive) select by the
        local creation day. Counts, not just the rate, so the parts held by
        several engine instances can be summed.
        """
        if by not in ("district", "station"):
            raise ValueError("by must be 'district' or 'station'")
        lo = since.toordinal() if since else -1
        hi = until.toordinal() if until else 1 << 30
        acc: dict[tuple[str, ...], list[int]] = {}
        for (district, station, day, k), (due, timely) in self._timely.items():
            if k != kind or not lo <= day <= hi:
                continue
            key = (district,) if by == "district" else (district, station)
            a = acc.setdefault(key, [0, 0])
            a[0] += due
            a[1] += timely
        return {k: TimelyRate(due=v[0], timely=v[1]) for k, v in sorted(acc.items())}

    def open_clocks(self) -> int:
        return len(self._clocks)

    def deadlines(self, created_at: float) -> dict[str, float]:
        """The four deadlines of an alert created at ``created_at``."""
        return self._deadlines(created_at)[0]

    # -- internals -------------------------------------------------------------------
    def _feed_alert(self, alert: Alert) -> list[SlaBreach]:
        p = self.params
        aid = alert.alert_id
        if aid in self._done:
            return []
        clock = self._clocks.get(aid)
        if clock is None:
            if alert.source not in p.applies_to:
                self.counters.ignored_source += 1
                return []
            if alert.created_at < self._now - p.forget_after_s:
                self.counters.ignored_too_old += 1
                return []
            due, covered = self._deadlines(alert.created_at)
            if not covered:
                self.counters.uncovered_calendar += 1
            fixable = alert.source == "violation" and alert.cls in p.fixable_at_once
            clock = self._clocks[aid] = _Clock(
                {
                    "source": alert.source,
                    "cls": alert.cls,
                    "severity": alert.severity,
                    "kitchen_id": alert.kitchen_id,
                    "operator_id": alert.operator_id,
                    "district": alert.district,
                    "station": alert.station,
                    "created_at": alert.created_at,
                },
                due,
                covered,
            )
            if not fixable:
                clock.settled["rectify_24h_overdue"] = NOT_APPLICABLE
            self.counters.alerts += 1
            early = self._early.pop(aid, None)
            self._early_seen.pop(aid, None)
            if early is not None:
                _merge(clock, early[0], early[1])
        else:
            # Later revisions may carry a district/station the registry learnt since.
            for k in ("kitchen_id", "operator_id", "district", "station", "severity"):
                clock.alert[k] = getattr(alert, k)
        _merge(clock, alert.verified_at, alert.resolved_at)
        return self._settle(aid, clock)

    def _feed_disposition(self, d: Disposition) -> list[SlaBreach]:
        aid = d.alert_id
        if aid in self._done:
            return []
        resolved = d.ts if d.action in RESOLVING_ACTIONS else None
        clock = self._clocks.get(aid)
        if clock is None:
            self.counters.early_dispositions += 1
            e = self._early.setdefault(aid, [None, None])
            e[0] = _min(e[0], d.ts)
            e[1] = _min(e[1], resolved)
            self._early_seen[aid] = max(self._early_seen.get(aid, d.ts), d.ts)
            return []
        _merge(clock, d.ts, resolved)
        return self._settle(aid, clock)

    def _settle(self, aid: str, clock: _Clock) -> list[SlaBreach]:
        """Settle every clock the alert's known dispositions decide."""
        out = []
        for kind in BREACH_KINDS:
            if kind in clock.settled:
                continue
            due = clock.due[kind]
            met_at = clock.verified_at if kind == "verify_overdue" else clock.resolved_at
            if met_at is not None and met_at < due:
                clock.settled[kind] = "met"
                self._count_timely(clock, kind, True)
            elif (met_at is not None and met_at >= due) or due <= self._now - self.params.grace_s:
                out.append(self._breach(aid, clock, kind))
        if len(clock.settled) == len(BREACH_KINDS):
            self._finish(aid)
        out.sort(key=lambda b: (b.due_at, BREACH_KINDS.index(b.kind)))
        return out

    def _breach(self, aid: str, clock: _Clock, kind: str) -> SlaBreach:
        clock.settled[kind] = "breached"
        self._count_timely(clock, kind, False)
        self.counters.breaches += 1
        a = clock.alert
        due = clock.due[kind]
        verified = clock.verified_at is not None and clock.verified_at < due
        return SlaBreach(
            v=SCHEMA_VERSION,
            breach_id=breach_id(aid, kind),
            alert_id=aid,
            kind=kind,
            due_at=due,
            alert_created_at=a["created_at"],
            state_at_due="verified" if verified else "open",
            source=a["source"],
            cls=a["cls"],
            severity=a["severity"],
            kitchen_id=a["kitchen_id"],
            operator_id=a["operator_id"],
            district=a["district"],
            station=a["station"],
            calendar_covered=clock.covered or kind != "rectify_overdue",
        )

    def _count_timely(self, clock: _Clock, kind: str, timely: bool) -> None:
        a = clock.alert
        day = self._local_day(a["created_at"]).toordinal()
        key = (a["district"] or "", a["station"] or "", day, kind)
        c = self._timely.setdefault(key, [0, 0])
        c[0] += 1
        c[1] += int(timely)

    def _finish(self, aid: str) -> None:
        clock = self._clocks.pop(aid)
        self._done[aid] = clock.alert["created_at"]

    def _prune(self, now: float) -> None:
        horizon = now - self.params.forget_after_s
        for aid in [a for a, t in self._done.items() if t < horizon]:
            del self._done[aid]
        for aid in [a for a, t in self._early_seen.items() if t < horizon]:
            del self._early_seen[aid]
            self._early.pop(aid, None)
        keep_from = self._local_day(horizon).toordinal()
        for key in [k for k in self._timely if k[2] < keep_from - 366]:
            del self._timely[key]

    def _local_day(self, ts: float) -> date:
        return datetime.fromtimestamp(ts + self.params.utc_offset_s, UTC).date()

    def _end_of_local_day(self, day: date) -> float:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        return midnight + 86400.0 - self.params.utc_offset_s

    def _deadlines(self, created_at: float) -> tuple[dict[str, float], bool]:
        p = self.params
        day = self._local_day(created_at)
        rectify_day = self.calendar.add_workdays(day, p.rectify_working_days)
        covered = self.calendar.span_covered(day, rectify_day)
        rectify = self._end_of_local_day(rectify_day)
        yellow = self._end_of_local_day(day + timedelta(days=p.yellow_card_days))
        escalate = self._end_of_local_day(day + timedelta(days=p.escalate_days))
        if p.cards_wait_for_rectify:
            yellow = max(yellow, rectify)
            escalate = max(escalate, yellow)
        return (
            {
                "verify_overdue": created_at + p.verify_within_s,
                "rectify_24h_overdue": created_at + p.fix_within_s,
                "rectify_overdue": rectify,
                "yellow_card": yellow,
                "escalated": escalate,
            },
            covered,
        )


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _merge(clock: _Clock, verified_at: float | None, resolved_at: float | None) -> None:
    # Resolving implies having looked at it.
    clock.verified_at = _min(clock.verified_at, _min(verified_at, resolved_at))
    clock.resolved_at = _min(clock.resolved_at, resolved_at)


__all__ = [
    "BREACH_KINDS",
    "DEFAULT_FIXABLE_AT_ONCE",
    "SlaCounters",
    "SlaEngine",
    "SlaParams",
    "TimelyRate",
    "WorkingCalendar",
    "breach_id",
]
