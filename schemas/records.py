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
TOPIC_VIOLATIONS = "bk.violations.v1"
TOPIC_CAMERA_EVENTS = "bk.camera-events.v1"
TOPIC_OPERATOR_RATES = "bk.operator-rates.v1"
TOPIC_ALERTS = "bk.alerts.v1"
TOPIC_SLA_BREACHES = "bk.sla-breaches.v1"
TOPIC_DLQ = "bk.dlq.v1"
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
Id = Annotated[str, Meta(min_length=1, max_length=128)]
# Unix seconds, UTC. 2000-01-01 .. 2100-01-01 keeps obviously broken clocks out.
EpochSeconds = Annotated[float, Meta(ge=946684800.0, le=4102444800.0)]
Unit = Annotated[float, Meta(ge=0.0, le=1.0)]
Box = Annotated[
    tuple[Unit, Unit, Unit, Unit], Meta(description="x1, y1, x2, y2 normalised to 0..1")
]
Signature = Annotated[list[float], Meta(min_length=64, max_length=64)]
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
    quality: Quality
    detections: Annotated[list[Detection], Meta(max_length=1000)]


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


DispositionAction = Literal["verified", "false_positive", "rectified", "closed"]


class Disposition(Record):
    """`bk.dispositions.v1`: an inspector's decision on an alert (key = alert_id)."""

    v: Version
    alert_id: Id
    ts: EpochSeconds
    actor: Annotated[str, Meta(min_length=1, max_length=128)]
    action: DispositionAction
    note: Annotated[str, Meta(max_length=4000)] = ""


class Evidence(Record):
    frame_ts: float
    box: tuple[float, float, float, float]


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
    there before reporting, so a reader knows which outputs to wait for.
    """

    app: str
    topic: str
    partition: int
    offset: int
    outputs: dict[str, int]


# Every contract topic and the record type its values decode to.
TOPIC_RECORDS: dict[str, type[Record]] = {
    TOPIC_DETECTIONS: FrameDetections,
    TOPIC_CAMERA_STATUS: CameraStatus,
    TOPIC_REGISTRY: RegistryEntry,
    TOPIC_DISPOSITIONS: Disposition,
    TOPIC_VIOLATIONS: Violation,
    TOPIC_CAMERA_EVENTS: CameraEvent,
    TOPIC_DLQ: DeadLetter,
}
INPUT_TOPICS: tuple[str, ...] = (
    TOPIC_REGISTRY,
    TOPIC_DETECTIONS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DISPOSITIONS,
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
        raise RecordError(f"{record_type.__name__}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise RecordError(f"{record_type.__name__}: malformed JSON: {exc}") from None
    if isinstance(rec, FrameDetections):
        _check_frame(rec)
    return rec


def decode_topic(topic: str, data: bytes | str) -> Record:
    try:
        record_type = TOPIC_RECORDS[topic]
    except KeyError:
        raise RecordError(f"unknown topic {topic!r}") from None
    return decode(record_type, data)


def _check_frame(rec: FrameDetections) -> None:
    """Checks msgspec constraints cannot express."""
    sig = rec.quality.signature
    if not all(map(math.isfinite, sig)):
        raise RecordError("FrameDetections: quality.signature holds a non-finite value")
    for i, det in enumerate(rec.detections):
        x1, y1, x2, y2 = det.box
        if x2 < x1 or y2 < y1:
            raise RecordError(
                f"FrameDetections: detections[{i}].box has x2<x1 or y2<y1: {list(det.box)}"
            )


def encode(record: Record) -> bytes:
    return _encoder.encode(record)
