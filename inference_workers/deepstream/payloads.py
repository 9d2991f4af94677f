"""DeepStream payload parsing: ``nvmsgconv`` payloads -> ``bk.detections.v1`` records.

A minimal-schema message is one frame; full-schema messages (one object each)
are grouped into frames first (``full_schema``). Both schemas are described in
the package's docstring (``inference_workers/deepstream/__init__.py``).

Per object, not per frame: an object that cannot be read (no label block, a
non-numeric box, two label blocks) is dropped and counted with its reason; the
other objects of its frame are kept. Confidence ``-0.1`` (DeepStream's
"tracked, not re-inferred on this frame") and a missing confidence take the
last inferred confidence of the same tracking id on that sensor, else
``unknown_confidence`` (default 0.5, below which a class is not an alert
unless the violation engine's ``min_score`` says otherwise).

What DeepStream does not send, the bridge cannot invent:

- **Frame size**: boxes are pixels; ``frame_sizes`` (per sensor, from
  ``--frame-sizes FILE``; default 1920x1080) normalises them to 0..1.
- **Quality** (brightness, sharpness, structure signature) that camera health
  needs: stock pipelines never send it. A payload without it is published with
  ``quality: null``: violations work as usual, camera health keeps ``offline``
  for that camera and turns off ``dark``, ``blurred``, ``frozen`` and
  ``angle_changed``. A probe may attach real values as a ``customMessage`` entry
  ``{"bk_quality": {"brightness": ..., "sharpness": ..., "signature": [64 floats]}}``
  (computed as in ``inference_workers/quality.py``); a malformed block is an error.
- **Which labels the model has**: without ``--class-map FILE`` the bridge maps
  labels through the default map *without* absence rules (a ``person`` from a
  model with no hat class is not ``no_hat``).
- **Empty frames**: the full schema sends nothing for a frame without objects,
  so use the minimal schema (one message per analysed frame) or camera health
  will see silence.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from inference_workers.classmap import ClassMap
from schemas.records import SCHEMA_VERSION, FrameDetections, Quality, RecordError, decode, encode

DEFAULT_FRAME_SIZE = (1920, 1080)
# Dict-valued keys of a full-schema object that are not its label block.
_FULL_NON_LABEL_KEYS = {"bbox", "location", "coordinate", "pose", "embedding", "signature"}
# Tracking ids that mean "not tracked" (UNTRACKED_OBJECT_ID, as uint64 and as int).
_UNTRACKED = {"", "-1", "18446744073709551615"}
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


class DeepStreamPayloadError(ValueError):
    """A payload that cannot become a bk.detections.v1 record; the message says why."""


class ObjectError(ValueError):
    """One object of a payload that cannot be read; its frame keeps the others."""


class _Box(NamedTuple):
    """What ClassMap.apply reads: the model label, score and normalised box."""

    label: str
    score: float
    box: tuple[float, float, float, float]


class Converted(NamedTuple):
    """A frame's record and the reasons of the objects dropped from it."""

    record: FrameDetections
    dropped: list[str]


def parse_timestamp(value: Any) -> float:
    """RFC 3339 (``2026-11-02T08:00:00.000Z``, up to 9 fraction digits) -> Unix seconds."""
    if not isinstance(value, str):
        raise DeepStreamPayloadError(f"@timestamp is not a string: {value!r}")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python reads at most 6 fraction digits; DeepStream 9 writes 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DeepStreamPayloadError(f"@timestamp is not RFC 3339: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def parse_frame_size(text: Any) -> tuple[int, int]:
    """``"1280x720"`` or ``[1280, 720]`` -> (1280, 720)."""
    if isinstance(text, list | tuple) and len(text) == 2:
        w, h = text
    else:
        m = _SIZE.match(str(text))
        if m is None:
            raise ValueError(f"frame size {text!r} is not WIDTHxHEIGHT")
        w, h = m.groups()
    try:
        w, h = int(w), int(h)
    except (TypeError, ValueError):
        raise ValueError(f"frame size {text!r} is not WIDTHxHEIGHT") from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise ValueError(f"frame size {text!r} is outside 1..16384")
    return w, h


def load_frame_sizes(path: str | Path) -> dict[str, tuple[int, int]]:
    """A JSON or YAML mapping ``sensor id -> "WIDTHxHEIGHT"`` (or ``[w, h]``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        cfg = yaml.safe_load(text)
    else:
        cfg = json.loads(text)
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{path}: frame sizes must be a mapping sensor id -> WIDTHxHEIGHT")
    return {str(k): parse_frame_size(v) for k, v in cfg.items()}


def _quality(payload: Mapping[str, Any]) -> Quality | None:
    for entry in payload.get("customMessage") or ():
        try:
            blob = json.loads(entry) if isinstance(entry, str) else entry
        except json.JSONDecodeError:
            continue
        if isinstance(blob, dict) and "bk_quality" in blob:
            try:
                return decode(Quality, json.dumps(blob["bk_quality"]))
            except RecordError as exc:
                raise DeepStreamPayloadError(f"customMessage bk_quality: {exc}") from None
    return None  # stock DeepStream: no quality measured


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _frame_id(value: Any) -> int | None:
    """A numeric frame id, else None (``"frame-id"`` is nvmsgconv's placeholder)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class DeepStreamAdapter:
    """Converts nvmsgconv payloads to FrameDetections records."""

    def __init__(
        self,
        class_map: ClassMap | None = None,
        frame_sizes: Mapping[str, tuple[int, int]] | None = None,
        default_frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE,
        worker_id: str = "deepstream",
        model: str = "deepstream",
        unknown_confidence: float = 0.5,
    ) -> None:
        # The model's labels are unknown: no absence rule (no invented no_hat).
        self.class_map = class_map if class_map is not None else ClassMap.default().for_model(())
        self.frame_sizes = dict(frame_sizes or {})
        self.default_frame_size = default_frame_size
        self.worker_id = worker_id
        self.model = model
        self.unknown_confidence = unknown_confidence
        self._track_scores: dict[tuple[str, str], float] = {}
        self.objects_dropped = 0

    # -- pieces ------------------------------------------------------------------
    def _normalise(self, sensor: str, left, top, right, bottom) -> tuple[float, ...]:
        w, h = self.frame_sizes.get(sensor, self.default_frame_size)
        raw = [left, top, right, bottom]
        nums = [_number(v) for v in raw]
        if any(n is None for n in nums):
            raise ObjectError(f"box is not numeric: {raw}")
        coords = [nums[0] / w, nums[1] / h, nums[2] / w, nums[3] / h]
        x1, y1, x2, y2 = (min(1.0, max(0.0, c)) for c in coords)
        return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    def _score(self, sensor: str, track: str, confidence: float | None) -> float:
        """The confidence, or the track's last one when DeepStream sent none (-0.1, missing)."""
        key = (sensor, track)
        if confidence is not None and confidence >= 0.0:
            score = min(1.0, confidence)
            if track not in _UNTRACKED:
                if len(self._track_scores) > 100_000:
                    self._track_scores.clear()
                self._track_scores[key] = score
            return score
        if track not in _UNTRACKED and key in self._track_scores:
            return self._track_scores[key]
        return self.unknown_confidence

    def _record(
        self, sensor: str, ts: float, seq: int, boxes: list[_Box], quality: Quality | None
    ) -> FrameDetections:
        w, h = self.frame_sizes.get(sensor, self.default_frame_size)
        record = FrameDetections(
            v=SCHEMA_VERSION,
            camera_id=sensor,
            frame_ts=ts,
            seq=seq,
            worker_id=self.worker_id,
            model=self.model,
            width=w,
            height=h,
            quality=quality,
            detections=self.class_map.apply(boxes),
        )
        # Round-trip through the strict decoder: the bridge publishes only what
        # the stream apps accept.
        try:
            return decode(FrameDetections, encode(record))
        except RecordError as exc:
            raise DeepStreamPayloadError(str(exc)) from None

    def _minimal_object(self, sensor: str, text: Any) -> _Box:
        if not isinstance(text, str):
            raise ObjectError(f"object is not a string: {text!r}")
        parts = text.split("|")
        if len(parts) < 6:
            raise ObjectError(f"object {text!r} has fewer than 6 fields")
        label = parts[5].strip()
        if not label:
            raise ObjectError(f"object {text!r} has no label")
        confidence = None
        if len(parts) > 6:
            if parts[6] != "#":
                raise ObjectError(f"object {text!r}: '#' expected after the label")
            rest = parts[7:]
            # Attributes end at the next section (|#|embedding|…, |#|pose2D|…).
            attrs = rest[: rest.index("#")] if "#" in rest else rest
            while attrs and attrs[-1] == "":
                attrs = attrs[:-1]  # a trailing '|' and empty attributes
            # The confidence is the last attribute; none (``#||||||``) or a
            # non-number there means DeepStream sent no confidence.
            confidence = _number(attrs[-1]) if attrs else None
        box = self._normalise(sensor, *parts[1:5])
        return _Box(label, self._score(sensor, parts[0].strip(), confidence), box)

    def _full_object(self, sensor: str, obj: Any) -> _Box:
        if not isinstance(obj, Mapping):
            raise ObjectError(f"object is not a JSON object: {obj!r}")
        bbox = obj.get("bbox")
        labels = [
            k for k, v in obj.items() if k not in _FULL_NON_LABEL_KEYS and isinstance(v, dict)
        ]
        if not isinstance(bbox, Mapping) or not bbox:
            raise ObjectError(f"object {obj.get('id')!r} has no bbox")
        if len(labels) != 1:
            what = "no label block" if not labels else f"{len(labels)} label blocks {labels}"
            raise ObjectError(f"object {obj.get('id')!r} has {what}")
        attrs = obj[labels[0]]
        confidence = None
        if "confidence" in attrs:
            confidence = _number(attrs["confidence"])
            if confidence is None:
                raise ObjectError(f"confidence is not a number: {attrs['confidence']!r}")
        box = self._normalise(
            sensor,
            bbox.get("topleftx"),
            bbox.get("toplefty"),
            bbox.get("bottomrightx"),
            bbox.get("bottomrighty"),
        )
        return _Box(labels[0], self._score(sensor, str(obj.get("id", "")), confidence), box)

    # -- payloads ----------------------------------------------------------------
    def convert_minimal(self, payload: Mapping[str, Any]) -> Converted:
        """One minimal-schema message (one frame, any number of objects)."""
        sensor = payload.get("sensorId")
        if not isinstance(sensor, str) or not sensor.strip():
            raise DeepStreamPayloadError("minimal payload without a sensorId")
        ts = parse_timestamp(payload.get("@timestamp"))
        objects = payload.get("objects")
        if objects is None:
            objects = []
        if not isinstance(objects, list):
            raise DeepStreamPayloadError("objects is not a list")
        seq = _frame_id(payload.get("id"))
        if seq is None:  # no usable frame number: the frame's time in ms
            seq = int(round(ts * 1000))
        boxes, dropped = [], []
        for text in objects:
            try:
                boxes.append(self._minimal_object(sensor, text))
            except ObjectError as exc:
                dropped.append(str(exc))
        self.objects_dropped += len(dropped)
        return Converted(self._record(sensor, ts, seq, boxes, _quality(payload)), dropped)

    def convert_full(self, messages: list[Mapping[str, Any]]) -> Converted:
        """The full-schema messages of one frame (one object each)."""
        if not messages:
            raise DeepStreamPayloadError("no messages for the frame")
        first = messages[0]
        sensor = _full_sensor(first)
        if not sensor:
            raise DeepStreamPayloadError("full payload without sensor.id")
        ts = parse_timestamp(first.get("@timestamp"))
        boxes, dropped = [], []
        for msg in messages:
            try:
                boxes.append(self._full_object(sensor, msg.get("object")))
            except ObjectError as exc:
                dropped.append(str(exc))
        self.objects_dropped += len(dropped)
        seq = _frame_id(first.get("frameId", first.get("frame_id")))
        if seq is None:
            seq = int(round(ts * 1000))
        quality = next((q for q in map(_quality, messages) if q is not None), None)
        return Converted(self._record(sensor, ts, seq, boxes, quality), dropped)

    def from_minimal(self, payload: Mapping[str, Any]) -> FrameDetections:
        return self.convert_minimal(payload).record

    def from_full(self, messages: list[Mapping[str, Any]]) -> FrameDetections:
        return self.convert_full(messages).record


def _full_sensor(message: Mapping[str, Any]) -> str | None:
    sensor = message.get("sensor")
    sid = sensor.get("id") if isinstance(sensor, Mapping) else None
    return sid if isinstance(sid, str) and sid.strip() else None


def schema_of(payload: Mapping[str, Any]) -> str:
    """ "minimal" or "full", from the payload's shape."""
    if "sensorId" in payload and "objects" in payload:
        return "minimal"
    if "sensor" in payload and "object" in payload:
        return "full"
    raise DeepStreamPayloadError("neither a minimal (sensorId, objects) nor a full payload")
