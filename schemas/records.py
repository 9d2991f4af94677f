"""One typed record per topic of the wire contract (../shared/DESIGN.md).

Records are msgspec Structs: decoding is strict (unknown fields, wrong types,
out-of-range numbers and NaN are rejected with a message naming the field) and
fast enough for the per-frame hot path. Field names are the contract's; do not
rename them.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

SCHEMA_VERSION = 1

# Topic names are fixed by the contract.
TOPIC_DETECTIONS = "bk.detections.v1"
TOPIC_CAMERA_STATUS = "bk.camera-status.v1"
TOPIC_REGISTRY = "bk.registry.v1"
TOPIC_DISPOSITIONS = "bk.dispositions.v1"
TOPIC_INSPECTIONS = "bk.inspections.v1"
TOPIC_VIOLATIONS = "bk.violations.v1"
TOPIC_CAMERA_EVENTS = "bk.camera-events.v1"
TOPIC_OPERATOR_RATES = "bk.operator-rates.v1"
TOPIC_ALERTS = "bk.alerts.v1"
TOPIC_SLA_BREACHES = "bk.sla-breaches.v1"
TOPIC_DLQ = "bk.dlq.v1"
# The regulators' loop (ops app outputs, docs/inspections.md).
TOPIC_INSPECTION_PLAN = "bk.inspection-plan.v1"
TOPIC_STATION_KPIS = "bk.station-kpis.v1"
TOPIC_KEY_MONITORING = "bk.key-monitoring.v1"
TOPIC_LICENCE_ALERTS = "bk.licence-alerts.v1"
LOOP_OUTPUT_TOPICS: tuple[str, ...] = (
    TOPIC_INSPECTION_PLAN,
    TOPIC_STATION_KPIS,
    TOPIC_KEY_MONITORING,
    TOPIC_LICENCE_ALERTS,
)
# Internal: per-batch progress of the stream apps, read by `replay` to know
# when every input record has been processed (never by outside tools).
TOPIC_PROGRESS = "bk.progress.v1"

VIOLATION_CLASSES: tuple[str, ...] = (
    "no_hat",
    "no_mask",
    "no_uniform",
    "no_gloves",
    "smoking",
    "phone_use",
    "trash_uncovered",
    "rodent",
    "animal",
)
DEFAULT_SEVERITY: dict[str, str] = {
    "rodent": "critical",
    "smoking": "major",
    "trash_uncovered": "major",
    "animal": "major",
}

Version = Annotated[int, Meta(ge=1, le=1, description="schema version, 1")]
ID_MAX_CHARS = 128
ID_PATTERN = "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*(?![\\s\\S])"
# (?![\s\S]) is the end of the text; "$" would also match before a final newline.
ID_RULE = (
    f"an id is 1 to {ID_MAX_CHARS} printable characters: no control character "
    "(U+0000-U+001F, U+007F-U+009F, NUL included) and no line or paragraph separator"
)
"""The one rule for every identifier (camera_id, kitchen_id, operator_id, worker_id,
alert_id), enforced when a record is decoded; a refused record's DLQ reason quotes it."""
Id = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=ID_MAX_CHARS,
        pattern=ID_PATTERN,
        description=ID_RULE,
    ),
]
# Unix seconds, UTC. 2000-01-01 .. 2100-01-01 keeps obviously broken clocks out.
EpochSeconds = Annotated[float, Meta(ge=946684800.0, le=4102444800.0)]
Unit = Annotated[float, Meta(ge=0.0, le=1.0)]
Box = Annotated[
    tuple[Unit, Unit, Unit, Unit], Meta(description="x1, y1, x2, y2 normalised to 0..1")
]
Signature = Annotated[list[float], Meta(min_length=64, max_length=64)]
SnapshotUri = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=1024,
        pattern=r"^(file|s3)://",
        description="file://… (embedded default) or s3://bucket/key (production)",
    ),
]
HourRange = Annotated[
    list[Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]],
    Meta(min_length=2, max_length=2),
]


class Record(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    """Base of every wire record: strict, no unknown fields."""


class Quality(Record):
    brightness: Unit
    sharpness: Annotated[float, Meta(ge=0.0)]
    signature: Signature


class Detection(Record):
    cls: Annotated[str, Meta(min_length=1, max_length=64)]
    score: Unit
    box: Box


class FrameDetections(Record):
    """`bk.detections.v1`: one record per analysed frame."""

    v: Version
    camera_id: Id
    frame_ts: EpochSeconds
    seq: Annotated[int, Meta(ge=0)]
    worker_id: Id
    model: Annotated[str, Meta(max_length=128)]
    width: Annotated[int, Meta(ge=1, le=16384)]
    height: Annotated[int, Meta(ge=1, le=16384)]
    detections: Annotated[list[Detection], Meta(max_length=1000)]
    quality: Quality | None = None
    """Measured frame quality; null when the source cannot measure it (a stock
    DeepStream pipeline): camera health then runs only its offline check for
    that camera."""
    snapshot: SnapshotUri | None = None
    """URI of a stored image of this frame (file://… or s3://bucket/key), set by
    the worker that stored it; null when none was kept."""


CameraState = Literal["streaming", "connecting", "disconnected", "decode_error"]


class CameraStatus(Record):
    """`bk.camera-status.v1`: stream state, sent every <=10 s and on change."""

    v: Version
    camera_id: Id
    ts: EpochSeconds
    worker_id: Id
    state: CameraState
    fps: Annotated[float, Meta(ge=0.0, le=1000.0)]
    detail: Annotated[str, Meta(max_length=1000)] = ""


LicenceKind = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        description='"food_business", "health_certificate" or another kind of permit',
    ),
]


class Licence(Record):
    """One licence or certificate of a registry entry (DESIGN: registry `licences`)."""

    kind: LicenceKind
    number: Annotated[str, Meta(min_length=1, max_length=128)]
    holder: Annotated[str, Meta(max_length=256)]
    expires_at: EpochSeconds


class RegistryEntry(Record):
    """`bk.registry.v1`: a camera and who it belongs to (compacted topic)."""

    v: Version
    camera_id: Id
    kitchen_id: Id
    operator_id: Id
    operator_name: Annotated[str, Meta(max_length=256)]
    district: Annotated[str, Meta(max_length=128)]
    station: Annotated[str, Meta(max_length=128)]
    opening_hours: Annotated[list[HourRange], Meta(max_length=8)]
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "Asia/Shanghai"
    active: bool = True
    licences: Annotated[list[Licence], Meta(max_length=1000)] = []
    """Food-business licence (食品经营许可证) per operator, health certificate (健康证)
    per staff member; the ops app warns before they expire."""
    reference_signature: Signature | None = None
    """The camera's view as set at installation (the same 8x8 structure signature
    as `Quality.signature`): camera health judges the view against it from the
    first frame, so a camera turned before the engine ever saw it is still caught."""


DispositionAction = Literal["verified", "false_positive", "rectified", "closed"]


class Disposition(Record):
    """`bk.dispositions.v1`: an inspector's decision on an alert (key = alert_id)."""

    v: Version
    alert_id: Id
    ts: EpochSeconds
    actor: Annotated[str, Meta(min_length=1, max_length=128)]
    action: DispositionAction
    note: Annotated[str, Meta(max_length=4000)] = ""


InspectionKind = Literal["on_site", "online"]
InspectionResult = Literal["pass", "issues_found", "closed_down"]


class Inspection(Record):
    """`bk.inspections.v1`: an inspection done (key = operator_id)."""

    v: Version
    operator_id: Id
    ts: EpochSeconds
    inspector: Annotated[str, Meta(min_length=1, max_length=128)]
    station: Annotated[str, Meta(max_length=128)]
    kind: InspectionKind
    result: InspectionResult
    note: Annotated[str, Meta(max_length=4000)] = ""


class Evidence(Record):
    frame_ts: float
    box: tuple[float, float, float, float]
    snapshot: str | None = None
    """URI of the stored image of the evidence frame, or null when none was kept."""


EpisodeState = Literal["open", "closed"]


class Violation(Record):
    """`bk.violations.v1`: one `open` and one `closed` record per episode."""

    v: int
    violation_id: str
    camera_id: str
    operator_id: str | None
    cls: str
    severity: Literal["critical", "major", "minor"]
    state: EpisodeState
    started_at: float
    detected_at: float
    ended_at: float | None
    peak_score: float
    frames: int
    evidence: Evidence


CameraEventKind = Literal["offline", "frozen", "blurred", "dark", "angle_changed"]


class CameraEvent(Record):
    """`bk.camera-events.v1`: a camera-health episode, open then closed."""

    v: int
    event_id: str
    camera_id: str
    operator_id: str | None
    kind: CameraEventKind
    state: EpisodeState
    started_at: float
    detected_at: float
    ended_at: float | None
    detail: str


class DeadLetter(Record):
    """`bk.dlq.v1`: a record that failed validation, with where it came from."""

    v: int
    reason: str
    source_topic: str
    partition: int
    offset: int
    key: str | None
    value: str  # the raw value, decoded as UTF-8 with replacement, truncated
    app: str
    ts: float  # wall-clock time the record was rejected


class Progress(Record):
    """`bk.progress.v1` (internal): an app has processed its input up to `offset`.

    `outputs` maps "topic/partition" to the highest offset the app produced
    there before reporting, so a reader knows which outputs to wait for, and
    the ops app knows which events a watermark covers.
    """

    app: str
    topic: str
    partition: int
    offset: int
    outputs: dict[str, int]
    watermark: float | None = None
    """The partition's event-time clock after this batch (camera app, detections)."""
    origin: float | None = None
    """Camera app: the first value of the partition's detections clock (where its
    frames begin); the ops app starts its rate windows there."""
    input_ended: bool = False
    """Camera app, replay: this partition has read its frames up to where the runtime
    said the input ends (``input_end_file``), so its clock no longer waits for frames."""


# -- operations outputs: alerts, SLA breaches, operator rates -----------------
# All times are event time, seconds since the Unix epoch, UTC. Every record
# carries a deterministic id, so a replay produces the same ids and ClickHouse
# deduplicates by them. See docs/sla-and-rates.md.

Grade = Literal["A", "B", "C", "D"]
Colour = Literal["green", "yellow", "orange", "red"]
Severity = Literal["critical", "major", "minor"]
AlertSource = Literal["violation", "camera_health", "inspection", "licence"]
AlertState = Literal["open", "verified", "false_positive", "rectified", "closed"]
Resolution = Literal["false_positive", "rectified", "closed"]
BreachKind = Literal[
    "verify_overdue",
    "rectify_overdue",
    "yellow_card",
    "escalated",
    "rectify_24h_overdue",
    "inspection_overdue",
]


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
    grade: Grade | Literal["ungraded"]
    """Risk grade A (low) .. D (high), from the grading window (same on every window row);
    "ungraded" while the operator's exposure is too small to grade (see hours_to_grade)."""
    colour: Colour | Literal["grey"]
    """Four-colour label of the grade: A green, B yellow, C orange, D red; grey when ungraded."""
    grade_window: str
    """The window the grade was computed from."""
    reason: str
    """Which inputs set the grade, e.g. "C: sla escalated 1>=1; B: 7 violations over ..."."""
    hours_to_grade: float = 0.0
    """Supervised camera-hours still needed before a grade is given (0 once graded)."""


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
    snapshot: str | None = None
    """Evidence image (file://… or s3://…) of the first violation member that has one."""
    repeat_of: str | None = None
    """alert_id of an earlier alert of the same operator and class rectified within
    the repeat window before this one started (河西 §19: 整改后重复再犯); null otherwise."""
    base_severity: Severity | None = None
    """Severity before the repeat-offence raise (null when not raised)."""
    lenient: bool = False
    """A first minor offence rectified within 24 h (河西 §19: 初次违法、危害后果轻微并及时改正)."""


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


class InspectionPlanRow(Record):
    """`bk.inspection-plan.v1`: one operator's inspection plan (key = operator_id).

    Emitted at each local midnight and whenever an inspection of the operator
    is recorded; the row with the newest ``as_of`` per operator is current
    (``bk.inspection_plan``, ReplacingMergeTree(as_of)).
    """

    v: int
    plan_id: str
    """hash(operator_id, as_of)."""
    operator_id: str
    operator_name: str
    district: str
    station: str
    as_of: float
    grade: str | None
    """Latest risk grade A-D; null while the operator is not yet graded."""
    colour: str | None
    grade_reason: str
    on_key_monitoring: bool
    """On the key-monitoring list (河西 §12): planned at least as often as grade D."""
    due_per_year: float
    """On-site inspections due per year (镇坪: A 1-2, B 2-3, C quarterly, D monthly)."""
    interval_days: float
    last_inspection_at: float | None
    """Latest inspection of any kind (on-site or online)."""
    last_on_site_at: float | None
    last_result: str | None
    inspections_365d: int
    next_due_at: float
    """Next on-site inspection: last on-site (else first registration) + interval."""
    overdue: bool
    overdue_days: float
    month: str
    """Local month of ``as_of``, "YYYY-MM"."""
    inspected_this_month: bool
    """Any inspection (online patrol counts) this month: the full round of 河西 §13."""
    station_operators: int
    """Operators registered at the station."""
    station_inspected_this_month: int
    """Of them, inspected at least once this month."""
    risk_rank: int
    """1 = riskiest at the station (grade, then overdue days, then alerts 30 d)."""
    alerts_30d: int


class StationKpi(Record):
    """`bk.station-kpis.v1`: one station's (or district's, or the city's) figures for one local day.

    Emitted once, when the clock passes the end of the day; rates are over the
    ``window_days`` ending with that day. See docs/inspections.md for definitions.
    """

    v: int
    kpi_id: str
    """hash(level, district, station, day)."""
    level: Literal["station", "district", "city"]
    district: str
    station: str
    """"" on district and city rows."""
    day: str
    """Local day "YYYY-MM-DD"."""
    day_start: float
    window_days: int
    kitchens_registered: int
    kitchens_connected: int
    """Kitchens with at least one camera online during the day (接入率 numerator)."""
    cameras_registered: int
    cameras_online: int
    """Cameras not offline for the whole day."""
    kitchen_coverage: float | None
    camera_coverage: float | None
    kitchen_days: int
    """Supervised kitchen-days in the window (sum of kitchens_connected)."""
    alerts: int
    """Alerts raised in the window."""
    confirmed: int
    """Alerts first verified true in the window."""
    rectified: int
    """Of those, rectified by the end of the day."""
    false_positive: int
    """Alerts judged false positive in the window."""
    timely_due: int
    """Alerts whose rectification deadline fell in the window."""
    timely_met: int
    """Of those, resolved before the deadline."""
    discovery_rate: float | None
    """confirmed per 100 supervised kitchen-days (问题发现率)."""
    handling_rate: float | None
    """rectified / confirmed (查处率)."""
    timely_rate: float | None
    """timely_met / timely_due: only alerts whose deadline has passed count (处置及时率)."""
    false_alarm_rate: float | None
    """false_positive / (false_positive + confirmed)."""


class KeyMonitoringEntry(Record):
    """`bk.key-monitoring.v1`: an operator on the key-monitoring list (河西 §12), key = operator_id.

    One ``on`` record when the operator enters, re-emitted (higher revision) as
    evidence accrues, and one ``off`` when a clean period has passed.
    """

    v: int
    entry_id: str
    """hash(operator_id, since)."""
    operator_id: str
    operator_name: str
    district: str
    station: str
    state: Literal["on", "off"]
    since: float
    """Event time of the evasion event that put the operator on the list."""
    until: float | None
    """When the operator left the list (null while on it)."""
    reason: str
    evidence: list[str]
    """event_id of every camera event counted, oldest first."""
    events: int
    suspicious: int
    """Of them, started right after an alert or right before an inspection."""
    revision: int
    updated_at: float


class LicenceAlert(Record):
    """`bk.licence-alerts.v1`: a licence or certificate expiring, expired or missing.

    Key = operator_id.
    """

    v: int
    licence_alert_id: str
    """hash(operator_id, kind, number, stage)."""
    operator_id: str
    operator_name: str
    district: str
    station: str
    kind: str
    """Licence kind ("food_business", "health_certificate", ...); "profile" when missing."""
    number: str
    holder: str
    stage: str
    """"30d", "7d" (the configured warning days), "0d", "expired" or "profile_incomplete"."""
    expires_at: float | None
    due_at: float
    """The instant the stage was reached (what the alert's clock starts from)."""
    days_left: float
    severity: Severity


class Notification(Record):
    """Internal (no topic): one message for one receiver, kept in the notifier's outbox."""

    notification_id: str
    """hash(receiver, subject_id): the outbox key, so a replay adds nothing."""
    receiver: str
    """"operator:<operator_id>" or "station:<station>"."""
    format: Literal["dingtalk", "wecom", "json"]
    url: str
    subject_id: str
    """alert_id, breach_id or licence_alert_id."""
    kind: Literal["alert", "sla_breach", "licence"]
    ts: float
    title: str
    text: str
    operator_id: str | None = None
    station: str | None = None


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


# Every contract topic and the record type its values decode to.
TOPIC_RECORDS: dict[str, type[Record]] = {
    TOPIC_DETECTIONS: FrameDetections,
    TOPIC_CAMERA_STATUS: CameraStatus,
    TOPIC_REGISTRY: RegistryEntry,
    TOPIC_DISPOSITIONS: Disposition,
    TOPIC_INSPECTIONS: Inspection,
    TOPIC_VIOLATIONS: Violation,
    TOPIC_CAMERA_EVENTS: CameraEvent,
    TOPIC_DLQ: DeadLetter,
    TOPIC_ALERTS: Alert,
    TOPIC_SLA_BREACHES: SlaBreach,
    TOPIC_OPERATOR_RATES: OperatorRate,
    TOPIC_INSPECTION_PLAN: InspectionPlanRow,
    TOPIC_STATION_KPIS: StationKpi,
    TOPIC_KEY_MONITORING: KeyMonitoringEntry,
    TOPIC_LICENCE_ALERTS: LicenceAlert,
}
INPUT_TOPICS: tuple[str, ...] = (
    TOPIC_REGISTRY,
    TOPIC_DETECTIONS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DISPOSITIONS,
    TOPIC_INSPECTIONS,
)


class RecordError(ValueError):
    """A record that does not match its topic's schema; the message says why."""


_decoders: dict[type, msgspec.json.Decoder] = {}
_encoder = msgspec.json.Encoder()


def decoder_for(record_type: type[Record]) -> msgspec.json.Decoder:
    dec = _decoders.get(record_type)
    if dec is None:
        dec = _decoders[record_type] = msgspec.json.Decoder(record_type)
    return dec


def decode(record_type: type[Record], data: bytes | str) -> Record:
    """Decode and validate one JSON value; raise RecordError naming the problem."""
    try:
        rec = decoder_for(record_type).decode(data)
    except msgspec.ValidationError as exc:
        raise RecordError(f"{record_type.__name__}: {_id_rule(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise RecordError(f"{record_type.__name__}: malformed JSON: {exc}") from None
    if isinstance(rec, FrameDetections):
        _check_frame(rec)
    return rec


_ID_FIELDS = ("camera_id", "kitchen_id", "operator_id", "worker_id", "alert_id")


def _id_rule(message: str) -> str:
    """msgspec's message, naming the id rule (instead of its regex) for an id field."""
    where = message.rsplit(" - at ", 1)[-1] if " - at " in message else ""
    if "matching regex" in message and "u2028" in message:
        return f"{where or 'an id'} breaks the id rule: {ID_RULE}"
    if where.strip("`").endswith(_ID_FIELDS) and "length" in message:
        return f"{message} (the id rule: {ID_RULE})"
    return message


def decode_topic(topic: str, data: bytes | str) -> Record:
    try:
        record_type = TOPIC_RECORDS[topic]
    except KeyError:
        raise RecordError(f"unknown topic {topic!r}") from None
    return decode(record_type, data)


def _check_frame(rec: FrameDetections) -> None:
    """Checks msgspec constraints cannot express."""
    # JSON has no NaN or infinity, but a literal like 1e999 decodes to inf. The
    # sum is finite when every value is (the per-value scan runs only when it is
    # not, since a sum of huge finite values may overflow): one C call per frame.
    sig = rec.quality.signature if rec.quality is not None else ()
    if not math.isfinite(sum(sig)) and not all(map(math.isfinite, sig)):
        raise RecordError("FrameDetections: quality.signature holds a non-finite value")
    for i, det in enumerate(rec.detections):
        x1, y1, x2, y2 = det.box
        if x2 < x1 or y2 < y1:
            raise RecordError(
                f"FrameDetections: detections[{i}].box has x2<x1 or y2<y1: {list(det.box)}"
            )


def encode(record: Record) -> bytes:
    return _encoder.encode(record)
