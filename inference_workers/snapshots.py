"""Evidence snapshots: a JPEG of every frame that carries a violation-class detection.

The inference worker encodes the sampled frame (RGB, as the detector saw it,
at most ``max_side`` pixels) with each violation box drawn in red, stores it in
an object store and sets ``snapshot`` on the frame's ``bk.detections.v1``
record; the violation engine keeps the URI of its peak frame in
``evidence.snapshot``.

Stores:

- :class:`LocalStore`: a folder (the embedded default ``bk-data/snapshots``),
  URIs ``file:///abs/path/<camera>/<date>/<ms>-<seq>.jpg``;
- :class:`S3Store`: any S3-compatible store (AWS, MinIO, Ceph; credentials
  from the usual AWS environment/config), URIs ``s3://bucket/prefix/...``.

Rate limit: at most one image per camera per ``min_interval_s`` seconds of
frame time (``BK_SNAPSHOT_MIN_INTERVAL_S``, default 5 s); a violation frame
inside the interval keeps ``snapshot`` null and is counted in ``skipped``
(``bk_worker_snapshots_skipped_total``). A frame time that goes backwards
(a camera clock reset) starts a new interval.

Retention: :meth:`Snapshotter.purge` deletes images older than
``retention_s`` (run by the worker at most once an hour).

Links: ``inference_workers.snapshot_links`` maps stored URIs to browsable ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import msgspec
import numpy as np

from schemas.records import VIOLATION_CLASSES, FrameDetections

log = logging.getLogger(__name__)
_VIOLATION = frozenset(VIOLATION_CLASSES)


class SnapshotStore(Protocol):
    def put(self, key: str, data: bytes) -> str: ...

    def get(self, uri: str) -> bytes: ...

    def purge(self, older_than: float) -> int: ...


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def put(self, key: str, data: bytes) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path.as_uri()

    def get(self, uri: str) -> bytes:
        return Path(unquote(urlparse(uri).path)).read_bytes()

    def purge(self, older_than: float) -> int:
        n = 0
        for path in self.root.rglob("*.jpg"):
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n


class S3Store:
    def __init__(
        self, bucket: str, prefix: str = "", endpoint_url: str | None = None, client: Any = None
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> str:
        full = self._key(key)
        self.client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentType="image/jpeg")
        return f"s3://{self.bucket}/{full}"

    def get(self, uri: str) -> bytes:
        u = urlparse(uri)
        return self.client.get_object(Bucket=u.netloc, Key=u.path.lstrip("/"))["Body"].read()

    def purge(self, older_than: float) -> int:
        n = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            old = [
                {"Key": o["Key"]}
                for o in page.get("Contents", ())
                if o["LastModified"].timestamp() < older_than
            ]
            for i in range(0, len(old), 1000):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": old[i : i + 1000]}
                )
                n += len(old[i : i + 1000])
        return n


def open_store(spec: str | None, s3_endpoint: str | None = None) -> SnapshotStore:
    """``None`` -> bk-data/snapshots; a folder or ``file:///``; ``s3://bucket/prefix``."""
    if not spec:
        return LocalStore("bk-data/snapshots")
    if spec.startswith("s3://"):
        u = urlparse(spec)
        if not u.netloc:
            raise ValueError(f"snapshot store {spec!r} has no bucket")
        return S3Store(u.netloc, u.path, s3_endpoint)
    if spec.startswith("file://"):
        return LocalStore(unquote(urlparse(spec).path))
    return LocalStore(spec)


def draw_boxes(image: np.ndarray, boxes, colour=(255, 0, 0), thickness: int = 2) -> np.ndarray:
    """A copy of an RGB image with normalised boxes outlined."""
    img = np.array(image, dtype=np.uint8, copy=True)
    h, w = img.shape[:2]
    t = max(1, thickness)
    for x1, y1, x2, y2 in boxes:
        a, b = int(x1 * (w - 1)), int(y1 * (h - 1))
        c, d = int(round(x2 * (w - 1))), int(round(y2 * (h - 1)))
        img[b : min(b + t, h), a : c + 1] = colour
        img[max(d - t + 1, 0) : d + 1, a : c + 1] = colour
        img[b : d + 1, a : min(a + t, w)] = colour
        img[b : d + 1, max(c - t + 1, 0) : c + 1] = colour
    return img


def encode_jpeg(image: np.ndarray, quality: int = 4) -> bytes:
    """RGB uint8 [H, W, 3] -> JPEG bytes (FFmpeg's mjpeg; ``quality`` is its qscale 2..31)."""
    import av

    h, w = image.shape[:2]
    # yuvj420p needs even sizes.
    image = image[: h - h % 2 or h, : w - w % 2 or w]
    h, w = image.shape[:2]
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"qmin": str(quality), "qmax": str(quality)}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    packets = ctx.encode(frame.reformat(format="yuvj420p")) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)


def snapshot_key(record: FrameDetections) -> str:
    day = dt.datetime.fromtimestamp(record.frame_ts, dt.UTC).strftime("%Y-%m-%d")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in record.camera_id)
    return f"{safe}/{day}/{int(record.frame_ts * 1000)}-{record.seq}.jpg"


class Snapshotter:
    """Stores a JPEG for records with a violation-class detection, at most one per
    camera per ``min_interval_s`` of frame time; purges old ones."""

    def __init__(
        self,
        store: SnapshotStore,
        retention_s: float = 90 * 86400.0,
        purge_every_s: float = 3600.0,
        clock=time.time,
        min_interval_s: float = 5.0,
    ) -> None:
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        self.store = store
        self.retention_s = retention_s
        self.min_interval_s = min_interval_s
        self._last_stored: dict[str, float] = {}  # camera -> frame_ts of its last image
        self.skipped = 0
        self.purge_every_s = purge_every_s
        self.clock = clock
        self._next_purge = 0.0
        self.stored = 0
        self.bytes = 0
        self.failed = 0
        self.purged = 0

    def __call__(self, image: np.ndarray, record: FrameDetections) -> FrameDetections:
        boxes = [d.box for d in record.detections if d.cls in _VIOLATION]
        if boxes and self._too_soon(record):
            self.skipped += 1
            boxes = []
        if boxes:
            try:
                data = encode_jpeg(draw_boxes(image, boxes))
                uri = self.store.put(snapshot_key(record), data)
            except Exception as exc:  # noqa: BLE001 - a store outage must not stop detection
                self.failed += 1
                log.warning("snapshot of %s not stored: %s", record.camera_id, exc)
            else:
                self.stored += 1
                self.bytes += len(data)
                self._last_stored[record.camera_id] = record.frame_ts
                record = msgspec.structs.replace(record, snapshot=uri)
        now = self.clock()
        if now >= self._next_purge:
            self._next_purge = now + self.purge_every_s
            self.purge(now)
        return record

    def _too_soon(self, record: FrameDetections) -> bool:
        last = self._last_stored.get(record.camera_id)
        return last is not None and 0.0 <= record.frame_ts - last < self.min_interval_s

    def purge(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        try:
            n = self.store.purge(now - self.retention_s)
        except Exception as exc:  # noqa: BLE001
            log.warning("snapshot purge failed: %s", exc)
            return 0
        self.purged += n
        return n
