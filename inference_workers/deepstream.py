"""DeepStream interop: ``nvmsgconv`` payloads in, ``bk.detections.v1`` records out.

Cities that already run NVIDIA DeepStream keep their pipelines and point
``nvmsgbroker`` at a Kafka topic; this bridge republishes what arrives there in
the contract's form. Both payload schemas of ``Gst-nvmsgconv`` are read:

- **minimal** (``payload-type=1``), one message per frame::

    {"version": "4.0", "id": 1234, "@timestamp": "2026-11-02T08:00:00.000Z",
     "sensorId": "cam-1", "objects": ["17|100|50|300|400|mouse|#|0.92", ...]}

  each object is ``trackingId|left|top|right|bottom|label`` in source-frame
  pixels, optionally ``|#|classifier labels...|confidence``;
- **full** (``payload-type=0``), one message per *object*::

    {"messageid": ..., "@timestamp": ..., "sensor": {"id": "cam-1", ...},
     "object": {"id": "17", "mouse": {"confidence": 0.92}, "bbox": {"topleftx": 100,
                "toplefty": 50, "bottomrightx": 300, "bottomrighty": 400}, ...}}

  where the object's label is the key of its attribute block; messages with
  the same sensor and ``@timestamp`` are one frame (:class:`FullSchemaFrames`).

What DeepStream does not send, the bridge cannot invent:

- **Frame size**: boxes are pixels; ``frame_sizes`` (per sensor, default
  1920x1080) normalises them to 0..1.
- **Quality** (brightness, sharpness, structure signature) that camera health
  needs: a DeepStream probe must attach it as a ``customMessage`` entry
  ``{"bk_quality": {"brightness": ..., "sharpness": ..., "signature": [64 floats]}}``
  (computed as in ``inference_workers/quality.py``). A payload without it is
  rejected with that reason (dead-lettered by the bridge), never published
  with made-up values that would raise or hide camera-health events.
- **Empty frames**: the full schema sends nothing for a frame without objects,
  so use the minimal schema (one message per analysed frame) or camera health
  will see silence.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from inference_workers.classmap import ClassMap
from schemas.records import SCHEMA_VERSION, FrameDetections, Quality, RecordError, decode, encode

DEFAULT_FRAME_SIZE = (1920, 1080)
_FULL_OBJECT_KEYS = {"id", "speed", "direction", "orientation", "bbox", "location", "coordinate"}


class DeepStreamPayloadError(ValueError):
    """A payload that cannot become a bk.detections.v1 record; the message says why."""


class _Box(NamedTuple):
    """What ClassMap.apply reads: the model label, score and normalised box."""

    label: str
    score: float
    box: tuple[float, float, float, float]


def parse_timestamp(value: Any) -> float:
    """RFC 3339 (``2026-11-02T08:00:00.000Z``) -> Unix seconds."""
    if not isinstance(value, str):
        raise DeepStreamPayloadError(f"@timestamp is not a string: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DeepStreamPayloadError(f"@timestamp is not RFC 3339: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _quality(payload: Mapping[str, Any]) -> Quality:
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
    raise DeepStreamPayloadError(
        "no bk_quality block in customMessage: attach brightness, sharpness and the "
        "64-float signature with a DeepStream probe (see inference_workers/deepstream.py)"
    )


class DeepStreamAdapter:
    """Converts nvmsgconv payloads to FrameDetections records."""

    def __init__(
        self,
        class_map: ClassMap | None = None,
        frame_sizes: Mapping[str, tuple[int, int]] | None = None,
        default_frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE,
        worker_id: str = "deepstream",
        model: str = "deepstream",
    ) -> None:
        self.class_map = class_map or ClassMap.default()
        self.frame_sizes = dict(frame_sizes or {})
        self.default_frame_size = default_frame_size
        self.worker_id = worker_id
        self.model = model

    def _normalise(self, sensor: str, left, top, right, bottom) -> tuple[float, ...]:
        w, h = self.frame_sizes.get(sensor, self.default_frame_size)
        try:
            coords = [float(left) / w, float(top) / h, float(right) / w, float(bottom) / h]
        except (TypeError, ValueError):
            raise DeepStreamPayloadError(
                f"box is not numeric: {[left, top, right, bottom]}"
            ) from None
        if not all(map(math.isfinite, coords)):
            raise DeepStreamPayloadError(f"box is not finite: {[left, top, right, bottom]}")
        x1, y1, x2, y2 = (min(1.0, max(0.0, c)) for c in coords)
        return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    def _record(
        self, sensor: str, ts: float, seq: int, boxes: list[_Box], quality: Quality
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

    def from_minimal(self, payload: Mapping[str, Any]) -> FrameDetections:
        """One minimal-schema message (one frame, any number of objects)."""
        sensor = payload.get("sensorId")
        if not isinstance(sensor, str) or not sensor:
            raise DeepStreamPayloadError("minimal payload without a sensorId")
        ts = parse_timestamp(payload.get("@timestamp"))
        try:
            seq = int(payload.get("id", 0))
        except (TypeError, ValueError):
            raise DeepStreamPayloadError(
                f"frame id is not a number: {payload.get('id')!r}"
            ) from None
        boxes = []
        for text in payload.get("objects") or ():
            parts = str(text).split("|")
            if len(parts) < 6:
                raise DeepStreamPayloadError(f"object {text!r} has fewer than 6 fields")
            score = 1.0  # the minimal schema carries a confidence only with classifiers
            if "#" in parts[6:]:
                try:
                    score = float(parts[-1])
                except ValueError:
                    raise DeepStreamPayloadError(
                        f"confidence of {text!r} is not a number"
                    ) from None
            box = self._normalise(sensor, *parts[1:5])
            boxes.append(_Box(parts[5], min(1.0, max(0.0, score)), box))
        return self._record(sensor, ts, max(seq, 0), boxes, _quality(payload))

    def from_full(self, messages: list[Mapping[str, Any]]) -> FrameDetections:
        """The full-schema messages of one frame (one object each)."""
        if not messages:
            raise DeepStreamPayloadError("no messages for the frame")
        first = messages[0]
        sensor = (first.get("sensor") or {}).get("id")
        if not isinstance(sensor, str) or not sensor:
            raise DeepStreamPayloadError("full payload without sensor.id")
        ts = parse_timestamp(first.get("@timestamp"))
        boxes = []
        for msg in messages:
            obj = msg.get("object") or {}
            bbox = obj.get("bbox") or {}
            labels = [
                k for k, v in obj.items() if k not in _FULL_OBJECT_KEYS and isinstance(v, dict)
            ]
            if len(labels) != 1 or not bbox:
                raise DeepStreamPayloadError(f"object without one label block and a bbox: {obj}")
            attrs = obj[labels[0]]
            try:
                score = float(attrs.get("confidence", 1.0))
            except (TypeError, ValueError):
                raise DeepStreamPayloadError(f"confidence is not a number: {attrs}") from None
            box = self._normalise(
                sensor,
                bbox.get("topleftx"),
                bbox.get("toplefty"),
                bbox.get("bottomrightx"),
                bbox.get("bottomrighty"),
            )
            boxes.append(_Box(labels[0], min(1.0, max(0.0, score)), box))
        seq = int(round(ts * 1000)) % (1 << 31)  # no frame number in the full schema
        return self._record(sensor, ts, seq, boxes, _quality(first))


class FullSchemaFrames:
    """Groups full-schema messages into frames: same sensor and @timestamp.

    Messages of one frame arrive together; a frame is complete when a message
    of a later frame of the same sensor arrives, or on :meth:`flush`.
    """

    def __init__(self) -> None:
        self._open: dict[str, tuple[Any, list[Mapping[str, Any]]]] = {}

    def add(self, message: Mapping[str, Any]) -> Iterator[list[Mapping[str, Any]]]:
        sensor = (message.get("sensor") or {}).get("id")
        stamp = message.get("@timestamp")
        current = self._open.get(sensor)
        if current is not None and current[0] != stamp:
            yield current[1]
            current = None
        if current is None:
            current = self._open[sensor] = (stamp, [])
        current[1].append(message)

    def flush(self) -> Iterator[list[Mapping[str, Any]]]:
        for _, messages in self._open.values():
            yield messages
        self._open.clear()


def schema_of(payload: Mapping[str, Any]) -> str:
    """ "minimal" or "full", from the payload's shape."""
    if "sensorId" in payload and "objects" in payload:
        return "minimal"
    if "sensor" in payload and "object" in payload:
        return "full"
    raise DeepStreamPayloadError("neither a minimal (sensorId, objects) nor a full payload")


def run_bridge(
    bootstrap: str,
    source_topic: str,
    adapter: DeepStreamAdapter | None = None,
    client_config: Mapping[str, str] | None = None,
    group_id: str = "bk-deepstream-bridge",
    stop: Any = None,
    idle_flush_s: float = 1.0,
) -> dict[str, int]:
    """Consume ``source_topic``, publish bk.detections.v1 (bad payloads to bk.dlq.v1).

    Runs until ``stop`` (a threading.Event) is set. Offsets are committed after
    the produced records are delivered (at-least-once; the stream apps drop
    duplicate frames). Returns counts.
    """
    import threading
    import time

    from confluent_kafka import Consumer, Producer

    from schemas.records import TOPIC_DETECTIONS, TOPIC_DLQ, DeadLetter

    adapter = adapter or DeepStreamAdapter()
    stop = stop or threading.Event()
    conf = {"bootstrap.servers": bootstrap, **(client_config or {})}
    consumer = Consumer(
        {**conf, "group.id": group_id, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    producer = Producer(
        {**conf, "partitioner": "murmur2_random", "enable.idempotence": True, "linger.ms": 20}
    )
    consumer.subscribe([source_topic])
    frames = FullSchemaFrames()
    counts = {"payloads": 0, "frames": 0, "dead_letters": 0}
    last_full = time.monotonic()

    def publish(record: FrameDetections) -> None:
        producer.produce(TOPIC_DETECTIONS, key=record.camera_id, value=encode(record))
        counts["frames"] += 1

    def reject(reason: str, partition: int, offset: int, key, value: bytes) -> None:
        letter = DeadLetter(
            v=SCHEMA_VERSION,
            reason=f"deepstream: {reason}",
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key else None,
            value=value[:8192].decode("utf-8", "replace"),
            app="deepstream",
            ts=time.time(),
        )
        producer.produce(TOPIC_DLQ, key=letter.key, value=encode(letter))
        counts["dead_letters"] += 1

    try:
        while not stop.is_set():
            msgs = consumer.consume(num_messages=1000, timeout=0.2)
            for msg in msgs:
                if msg.error():
                    continue
                counts["payloads"] += 1
                try:
                    payload = json.loads(msg.value())
                    if not isinstance(payload, dict):
                        raise DeepStreamPayloadError("payload is not a JSON object")
                    if schema_of(payload) == "minimal":
                        publish(adapter.from_minimal(payload))
                    else:
                        for frame in frames.add(payload):
                            publish(adapter.from_full(frame))
                        last_full = time.monotonic()
                except (DeepStreamPayloadError, ValueError) as exc:
                    reject(str(exc), msg.partition(), msg.offset(), msg.key(), msg.value() or b"")
            if time.monotonic() - last_full >= idle_flush_s:
                for frame in frames.flush():
                    try:
                        publish(adapter.from_full(frame))
                    except DeepStreamPayloadError as exc:
                        # A grouped frame has no single source offset.
                        reject(str(exc), -1, -1, None, json.dumps(frame).encode())
                last_full = time.monotonic()
            if msgs:
                producer.flush(30)
                consumer.commit(asynchronous=False)
    finally:
        producer.flush(30)
        consumer.close()
    return counts
