"""Output records of the operations engines (rates, alerts, SLA clocks).

These are the values of ``bk.operator-rates.v1``, ``bk.alerts.v1`` and
``bk.sla-breaches.v1``. They live here until they move into
``schemas/records.py``; they follow its style (strict msgspec Structs, field
names are the wire names). All times are event time, seconds since the Unix
epoch, UTC. Every record carries a deterministic id, so a replay produces the
same ids and ClickHouse deduplicates by them.
"""

from __future__ import annotations

from typing import Literal

from schemas.records import Record

Grade = Literal["A", "B", "C", "D"]
Colour = Literal["green", "yellow", "orange", "red"]
Severity = Literal["critical", "major", "minor"]
AlertSource = Literal["violation", "camera_health"]
AlertState = Literal["open", "verified", "false_positive", "rectified", "closed"]
Resolution = Literal["false_positive", "rectified", "closed"]
BreachKind = Literal["verify_overdue", "rectify_overdue", "yellow_card", "escalated"]


class ClassRate(Record):
    """One violation class inside an `OperatorRate`."""

    cls: str
    """Canonical violation class."""
    violations: int
    """Episodes of this class that started inside the window (raw count)."""
    raw_rate: float | None
    """violations per 100 supervised camera-hours; null when exposure is zero."""
    rate: float
    """Shrunk (Gamma-Poisson posterior mean) rate per 100 camera-hours."""
    prior_rate: float
    """The district (or city) rate of this class the figure was shrunk towards."""


class OperatorRate(Record):
    """`bk.operator-rates.v1`: one operator's figures over one rolling window.

    Emitted for every operator with data in its longest window, for every
    window, at each cadence boundary of event time (``as_of``). The latest row
    per (operator_id, window) is the current figure; rows are never updated.
    """

    v: int
    """Schema version, 1."""
    rate_id: str
    """hash(operator_id, window, as_of): deterministic."""
    operator_id: str
    district: str
    """The operator's district from the registry ("" when unknown)."""
    station: str
    """The operator's supervision station (市场监管所) from the registry ("" when unknown)."""
    window: str
    """Window name: "1h", "24h", "7d", "30d" by default."""
    window_s: float
    """Nominal window length in seconds."""
    window_start: float
    """Start of the span actually summed: the bucket holding ``as_of - window_s``,
    so the span is between ``window_s`` and ``window_s`` plus one bucket."""
    as_of: float
    """End of the span (exclusive): a cadence boundary, ``settle_s`` behind the
    watermark that produced it."""
    cameras: int
    """Cameras attributed to the operator at ``as_of``."""
    exposure_h: float
    """Supervised camera-hours in the span: cameras online and healthy."""
    violations: int
    """Violation episodes (all classes) that started in the span."""
    raw_rate: float | None
    """violations per 100 camera-hours; null when exposure_h is 0."""
    rate: float
    """Shrunk total rate per 100 camera-hours (what grades use)."""
    prior_rate: float
    """Total rate of the prior (district or city) per 100 camera-hours."""
    prior_source: Literal["district", "city"]
    """Which population the prior came from."""
    prior_strength_h: float
    """Prior weight in camera-hours: the shrunk rate is
    (violations + prior_strength_h * prior / 100) / (exposure_h + prior_strength_h) * 100."""
    classes: list[ClassRate]
    """Per-class figures, sorted by class; classes with no violation in the
    operator's span nor in its prior population are left out."""
    sla_breaches: dict[str, int]
    """SLA breaches of the operator's alerts whose deadline fell in the span, by kind."""
    grade: Grade
    """Risk grade A (low) .. D (high), from the grading window (same on every window row)."""
    colour: Colour
    """Four-colour label of the grade: A green, B yellow, C orange, D red."""
    grade_window: str
    """The window the grade was computed from."""
    reason: str
    """Which inputs set the grade, e.g. "C: sla escalated 1>=1; B: rate 2.41>=2.00"."""


class Alert(Record):
    """`bk.alerts.v1`: an alert an inspector acts on (key = alert_id).

    Re-emitted whole on every change (member added, disposition applied);
    ``revision`` grows by one each time, so the latest row per alert_id wins
    (ClickHouse ReplacingMergeTree(revision)).
    """

    v: int
    alert_id: str
    """hash(source, cls, operator_id, kitchen or camera, first member's started_at)."""
    source: AlertSource
    """"violation" (from bk.violations.v1) or "camera_health" (bk.camera-events.v1)."""
    cls: str
    """The violation class, or the camera-event kind for camera_health alerts."""
    severity: Severity
    """Highest severity of the members."""
    state: AlertState
    """open -> verified -> rectified | false_positive -> closed (see docs/sla-and-rates.md)."""
    kitchen_id: str | None
    """Kitchen of the cameras; null when the camera is not in the registry."""
    operator_id: str | None
    district: str | None
    station: str | None
    camera_ids: list[str]
    """Cameras of the members, sorted."""
    members: list[str]
    """violation_id / event_id of every member episode, sorted."""
    first_started_at: float
    """started_at of the member that opened the alert: the grouping anchor."""
    created_at: float
    """detected_at of that member: when the alert was raised; SLA clocks start here."""
    group_until: float
    """Members that start before this instant join this alert (anchor + group window)."""
    updated_at: float
    """Newest event time that changed the alert."""
    revision: int
    """0 at creation, +1 per change."""
    verified_at: float | None
    """Earliest disposition of any action: the alert has been looked at."""
    resolved_at: float | None
    """Earliest disposition that resolves it: rectified, false_positive or closed."""
    resolution: Resolution | None
    """The resolving state, when the alert is resolved."""
    last_actor: str | None
    """Actor of the latest disposition."""


class SlaBreach(Record):
    """`bk.sla-breaches.v1`: one missed deadline of one alert, emitted once.

    Every field is fixed by the alert and the deadline, never by when the
    breach was noticed, so a replay produces the identical record.
    """

    v: int
    breach_id: str
    """hash(alert_id, kind)."""
    alert_id: str
    kind: BreachKind
    """verify_overdue (24 h), rectify_overdue (3 working days), yellow_card
    (5 days unresolved), escalated (10 days unresolved)."""
    due_at: float
    """The deadline: the first instant that is late."""
    alert_created_at: float
    state_at_due: Literal["open", "verified"]
    """Whether the alert had at least been verified before the deadline."""
    source: AlertSource
    cls: str
    severity: Severity
    kitchen_id: str | None
    operator_id: str | None
    district: str | None
    station: str | None
    calendar_covered: bool
    """False when the working-day calendar had no data for a year the deadline
    spans (then weekends only were skipped): a hint to add the override file."""


__all__ = [
    "Alert",
    "AlertSource",
    "AlertState",
    "BreachKind",
    "ClassRate",
    "Colour",
    "Grade",
    "OperatorRate",
    "Resolution",
    "Severity",
    "SlaBreach",
]
