"""The violation engine: reorder buffer, hysteresis per (camera, class), snapshots
(see the package docstring for the rules)."""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import msgspec

from schemas.records import (
    SCHEMA_VERSION,
    Detection,
    Evidence,
    FrameDetections,
    Quality,
    Record,
    RegistryEntry,
    Violation,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.reorder import DUPLICATE, ReorderBuffer
from stream_apps.engines.violations.evidence import (
    _enough_evidence,
    _floor,
    _motion,
    _near,
    _score_of,
)
from stream_apps.engines.violations.params import (
    ClassParams,
    ViolationParams,
)


def violation_id(camera_id: str, cls: str, started_at: float) -> str:
    """Deterministic id of an episode: same camera, class and start -> same id."""
    return stable_id(camera_id, cls, started_at)


class _Track:
    """Hysteresis state of one (camera, class)."""

    __slots__ = (
        "hits",
        "open",
        "started_at",
        "detected_at",
        "last_present",
        "peak_score",
        "peak_ts",
        "peak_box",
        "peak_snapshot",
        "frames",
    )

    def __init__(self) -> None:
        # Recent hits as (ts, score, box, snapshot URI of their frame or None);
        # the window depends on the state. peak_ts/box/snapshot: the evidence frame.
        self.hits: list[tuple[float, float, tuple[float, float, float, float], str | None]] = []
        self.open = False
        self.started_at = 0.0
        self.detected_at = 0.0
        self.last_present = 0.0
        self.peak_score = 0.0
        self.peak_ts = 0.0
        self.peak_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.peak_snapshot: str | None = None  # image URI of the evidence frame
        self.frames = 0

    def to_dict(self) -> dict[str, Any]:
        d = {s: getattr(self, s) for s in self.__slots__}
        d["hits"] = [
            {"ts": t, "score": sc, "box": list(b), "snapshot": snap} for t, sc, b, snap in self.hits
        ]
        d["peak_box"] = list(self.peak_box)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Track:
        t = cls()
        for s in cls.__slots__:
            setattr(t, s, d[s])
        t.hits = [(h["ts"], h["score"], tuple(h["box"]), h.get("snapshot")) for h in t.hits]
        t.peak_box = tuple(t.peak_box)
        return t


class _Picture:
    """A quality block restored from a checkpoint: brightness, sharpness and a
    digest of the signature, all the engine compares (the same picture again).
    Checkpoints carry this instead of the 64 signature values (~1.3 KB a frame)."""

    __slots__ = ("brightness", "sharpness", "digest")

    def __init__(self, brightness: float, sharpness: float, digest: str) -> None:
        self.brightness = brightness
        self.sharpness = sharpness
        self.digest = digest


def _signature_digest(signature: list[float]) -> str:
    packed = struct.pack(f"<{len(signature)}d", *signature)
    return hashlib.blake2b(packed, digest_size=16).hexdigest()


def _digest_of(picture: Quality | _Picture) -> str:
    return picture.digest if isinstance(picture, _Picture) else _signature_digest(picture.signature)


def _same_picture(a: Quality | _Picture, b: Quality | _Picture) -> bool:
    if a.sharpness != b.sharpness or a.brightness != b.brightness:
        return False
    if isinstance(a, Quality) and isinstance(b, Quality):
        return a.signature == b.signature
    return _digest_of(a) == _digest_of(b)  # one side restored from a checkpoint


# What waits in the reorder buffer: the detections and the frame's quality
# block, compared with the previous frame's (equal blocks: the same picture again).
_Payload = tuple[list[Detection], Quality | _Picture | None, str | None]  # + snapshot URI


class _Camera:
    """Reorder buffer and tracks of one camera."""

    __slots__ = ("buf", "last_picture", "tracks")

    def __init__(self) -> None:
        self.buf: ReorderBuffer[_Payload] = ReorderBuffer()
        self.last_picture: Quality | _Picture | None = None
        self.tracks: dict[str, _Track] = {}


@dataclass
class ViolationCounters:
    """Plain counters the shell exports as metrics."""

    frames: int = 0
    duplicates: int = 0
    late_dropped: int = 0
    unknown_class: int = 0
    suppressed_frames: int = 0
    ignored_input: int = 0
    """Records of a type this engine does not handle (counted, never raised)."""
    repeated_frames: int = 0
    stationary_held: int = 0
    opened: int = 0
    closed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ViolationEngine:
    """Debounces per-frame detections into violation episodes (see module doc)."""

    def __init__(
        self,
        params: ViolationParams | None = None,
        suppressed_by: Callable[[str], str | None] | None = None,
    ) -> None:
        self.params = params or ViolationParams()
        gap = self.params.merge_gap_s
        self._class = {
            cls: p if p.close_after_s is not None else replace(p, close_after_s=gap)
            for cls, p in self.params.classes.items()
        }
        # The lowest score a track takes in: weak_score where the evidence score is on.
        self._floor = {cls: _floor(p) for cls, p in self._class.items()}
        self._min_close_s = min(
            (p.close_after_s for p in self._class.values()), default=self.params.merge_gap_s
        )
        self._suppressed_by = suppressed_by
        self._repeats = self.params.repeated_frames_are_one
        self._cameras: dict[str, _Camera] = {}
        # No camera needs advance() before this event time (a lower bound: a
        # camera's next action only moves later as its frames come in), so a
        # watermark step that reaches no deadline costs nothing at 10^5 cameras.
        self._wake_at = -math.inf
        self._operator: dict[str, str] = {}
        self.counters = ViolationCounters()
        self._snap: str | None = None  # snapshot URI of the frame being processed

    # -- registry -----------------------------------------------------------
    def set_registry(self, entry: RegistryEntry) -> None:
        self._operator[entry.camera_id] = entry.operator_id

    # -- lifecycle -----------------------------------------------------------
    def feed(self, frame: FrameDetections) -> list[Violation]:
        """One frame in; the episodes it opened or closed out."""
        if not isinstance(frame, FrameDetections):
            return self._feed_other(frame)
        cam = self._cameras.get(frame.camera_id)
        if cam is None:
            cam = self._cameras[frame.camera_id] = _Camera()
        buf = cam.buf
        ts = frame.frame_ts
        if ts > buf.max_ts and ts > buf.released_ts:
            # The common case, in order: append without the buffer's checks.
            buf.pending.append((ts, frame.seq, (frame.detections, frame.quality, frame.snapshot)))
            buf.max_ts = ts
        else:
            got = buf.offer(ts, frame.seq, (frame.detections, frame.quality, frame.snapshot))
            if got:
                if got == DUPLICATE:
                    self.counters.duplicates += 1
                else:
                    self.counters.late_dropped += 1
                return []
        if buf.max_ts + self._min_close_s < self._wake_at:
            self._wake_at = buf.max_ts + self._min_close_s
        pending = buf.pending
        horizon = buf.max_ts - self.params.lateness_s
        if pending[0][0] > horizon:
            return []
        out: list[Violation] = []
        camera_id = frame.camera_id
        while pending and pending[0][0] <= horizon:
            rts, rseq, payload = pending.pop(0)
            buf.released_ts = rts
            buf.released_seq = rseq
            self._process(camera_id, cam, rts, payload, out)
        return out

    def _feed_other(self, record: Record) -> list[Violation]:
        """The engine contract: registry entries are taken, anything else counted."""
        if isinstance(record, RegistryEntry):
            self.set_registry(record)
        else:
            self.counters.ignored_input += 1
        return []

    def advance(self, now: float) -> list[Violation]:
        """Watermark moved to ``now``: close episodes of cameras gone silent.

        A camera whose newest frame is older than ``now`` minus its close time
        has its reorder buffer flushed and its open episodes closed at the last
        frame they were present; a long-silent idle camera is forgotten.
        """
        out: list[Violation] = []
        if now < self._wake_at:
            return out
        expiry = self.params.idle_expiry_s
        forget: list[str] = []
        wake = math.inf
        for camera_id, cam in self._cameras.items():
            last = cam.buf.max_ts
            silent_for = now - last
            if silent_for < self._min_close_s:
                wake = min(wake, last + self._min_close_s)
                continue
            if cam.buf.pending:
                for rts, _rseq, payload in cam.buf.drain():
                    self._process(camera_id, cam, rts, payload, out)
            if cam.tracks:
                for cls in list(cam.tracks):
                    tr = cam.tracks[cls]
                    if not tr.open:
                        continue  # nothing for advance() to do until frames come
                    close_after_s = self._class[cls].close_after_s
                    if silent_for >= close_after_s and now - tr.last_present >= close_after_s:
                        out.append(self._close(camera_id, cls, tr))
                        del cam.tracks[cls]
                    else:
                        wake = min(wake, max(last, tr.last_present) + close_after_s)
                if not cam.tracks:  # the last one closed: idle from now on
                    wake = min(wake, last + expiry)
            elif silent_for >= expiry:
                forget.append(camera_id)
            else:
                wake = min(wake, last + expiry)
        for camera_id in forget:
            del self._cameras[camera_id]
        self._wake_at = wake
        return out

    def snapshot(self) -> dict[str, Any]:
        cams = {camera_id: self.snapshot_camera(camera_id) for camera_id in self._cameras}
        return {"version": SNAPSHOT_VERSION, "cameras": cams, "operators": dict(self._operator)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        _check_version(snapshot.get("version"))
        self._operator.update(snapshot.get("operators", {}))
        for camera_id, c in snapshot["cameras"].items():
            self.restore_camera(camera_id, c)

    def snapshot_camera(self, camera_id: str) -> dict[str, Any] | None:
        """One camera's state (``None`` if the engine holds none), for incremental checkpoints."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            operator_id = self._operator.get(camera_id)
            if operator_id is None:
                return None
            return {"version": SNAPSHOT_VERSION, "operator_id": operator_id}
        return {
            "version": SNAPSHOT_VERSION,
            "buffer": cam.buf.to_dict(_encode_payload),
            "last_picture": _encode_picture(cam.last_picture),
            "tracks": {cls: tr.to_dict() for cls, tr in cam.tracks.items()},
            "operator_id": self._operator.get(camera_id),
        }

    def restore_camera(self, camera_id: str, c: dict[str, Any] | None) -> None:
        if c is None:
            self._cameras.pop(camera_id, None)
            return
        _check_version(c.get("version"))
        if c.get("operator_id") is not None:
            self._operator[camera_id] = c["operator_id"]
        if "tracks" not in c:  # only the owner is known
            self._cameras.pop(camera_id, None)
            return
        cam = _Camera()
        cam.buf = ReorderBuffer.from_dict(c["buffer"], _decode_payload)
        cam.last_picture = _decode_picture(c["last_picture"])
        cam.tracks = {cls: _Track.from_dict(t) for cls, t in c["tracks"].items()}
        self._cameras[camera_id] = cam
        self._wake_at = -math.inf  # its deadlines are not in the bound yet

    # -- queries for shells and tests ---------------------------------------
    def open_episodes(self) -> int:
        return sum(tr.open for cam in self._cameras.values() for tr in cam.tracks.values())

    def cameras(self) -> int:
        return len(self._cameras)

    # -- the machine -----------------------------------------------------------
    def _process(
        self,
        camera_id: str,
        cam: _Camera,
        ts: float,
        payload: _Payload,
        out: list[Violation],
    ) -> None:
        self.counters.frames += 1
        detections, picture, self._snap = payload
        if self._repeats and picture is not None:  # stock payloads carry no quality
            last = cam.last_picture
            if last is not None and _same_picture(picture, last):
                # The same picture again: one observation, already counted.
                if detections:
                    self.counters.repeated_frames += 1
                detections = _NO_DETECTIONS
            cam.last_picture = picture
        best: dict[str, Any] = {}
        if detections:
            if self._suppressed_by is not None and self._suppressed_by(camera_id):
                # The picture is meaningless (dark, frozen, turned away): its
                # detections are not evidence; an empty frame still counts as
                # absence so open episodes can close.
                self.counters.suppressed_frames += 1
                return
            floors = self._floor
            for det in detections:
                floor = floors.get(det.cls)
                if floor is None:
                    self.counters.unknown_class += 1
                elif det.score >= floor:
                    b = best.get(det.cls)
                    if b is None or det.score > b.score:
                        best[det.cls] = det
        tracks = cam.tracks
        if not tracks and not best:
            return
        for cls in list(tracks):
            tr = tracks[cls]
            det = best.pop(cls, None)
            p = self._class[cls]
            if det is None:
                if tr.open:
                    if ts - tr.last_present >= p.close_after_s:
                        out.append(self._close(camera_id, cls, tr))
                        del tracks[cls]
                else:
                    limit = ts - p.open_window_s
                    hits = tr.hits
                    while hits and hits[0][0] < limit:
                        hits.pop(0)
                    if not hits:
                        del tracks[cls]
            else:
                if tr.open and ts - tr.last_present >= p.close_after_s:
                    out.append(self._close(camera_id, cls, tr))
                    tr = tracks[cls] = _Track()
                self._hit(camera_id, cls, tr, p, ts, det.score, det.box, out)
        for cls, det in best.items():
            tr = tracks[cls] = _Track()
            self._hit(camera_id, cls, tr, self._class[cls], ts, det.score, det.box, out)

    def _hit(
        self,
        camera_id: str,
        cls: str,
        tr: _Track,
        p: ClassParams,
        ts: float,
        score: float,
        box: tuple[float, float, float, float],
        out: list[Violation],
    ) -> None:
        hits = tr.hits
        hits.append((ts, score, box, self._snap))
        if tr.open:
            limit = ts - p.keep_window_s
            while hits[0][0] < limit:
                hits.pop(0)
            tr.frames += 1
            new_peak = score > tr.peak_score
            # The evidence frame follows the peak, except that a frame with an
            # image beats one without (the worker rate-limits images per camera).
            if (new_peak or self._snap) and (tr.peak_snapshot is None or (new_peak and self._snap)):
                tr.peak_ts, tr.peak_box, tr.peak_snapshot = ts, box, self._snap
            if new_peak:
                tr.peak_score = score
            if (
                len(hits) >= p.keep_hits
                if p.weak_score is None
                else _enough_evidence(hits, p, p.keep_hits)
            ):
                tr.last_present = ts
            return
        limit = ts - p.open_window_s
        while hits[0][0] < limit:
            hits.pop(0)
        if p.track_radius > 0.0 and len(hits) > 1:
            # Only the hits of this object (near the newest) are its evidence; the
            # others stay in the window for a later hit near them.
            hits = _near(hits, box, p.track_radius)
        if p.weak_score is None:
            if len(hits) < p.open_hits:
                return
        elif not _enough_evidence(hits, p, p.open_hits):
            return
        if p.min_motion > 0.0 and _motion(hits) < p.min_motion:
            # A stationary look-alike (a bag read as a rodent, a ladle as a
            # cigarette): its hits are kept, so a moving object opens at once.
            self.counters.stationary_held += 1
            return
        tr.open = True
        tr.started_at = hits[0][0]
        tr.detected_at = ts
        tr.last_present = ts
        tr.frames = len(hits)
        peak = max(hits, key=_score_of)
        # Evidence: the best hit that has an image, else the best hit.
        evidence = max((h for h in hits if h[3]), key=_score_of, default=peak)
        tr.peak_score = peak[1]
        tr.peak_ts, tr.peak_box, tr.peak_snapshot = evidence[0], evidence[2], evidence[3]
        if p.keep_hits > 1:
            klimit = ts - p.keep_window_s
            tr.hits = [h for h in hits if h[0] >= klimit]
        else:
            tr.hits = []
        self.counters.opened += 1
        out.append(self._record(camera_id, cls, tr, "open", None))

    def _close(self, camera_id: str, cls: str, tr: _Track) -> Violation:
        self.counters.closed += 1
        return self._record(camera_id, cls, tr, "closed", tr.last_present)

    def _record(
        self, camera_id: str, cls: str, tr: _Track, state: str, ended_at: float | None
    ) -> Violation:
        return Violation(
            v=SCHEMA_VERSION,
            violation_id=violation_id(camera_id, cls, tr.started_at),
            camera_id=camera_id,
            operator_id=self._operator.get(camera_id),
            cls=cls,
            severity=self.params.severity_of(cls),
            state=state,
            started_at=tr.started_at,
            detected_at=tr.detected_at,
            ended_at=ended_at,
            peak_score=tr.peak_score,
            frames=tr.frames,
            evidence=Evidence(frame_ts=tr.peak_ts, box=tr.peak_box, snapshot=tr.peak_snapshot),
        )


SNAPSHOT_VERSION = 3
"""Version of what ``snapshot``/``snapshot_camera`` write (named fields throughout).
3: quality blocks as brightness, sharpness and a signature digest; 2 (still
read): the whole block."""
_NO_DETECTIONS: list[Detection] = []


def _check_version(version: Any) -> None:
    check_snapshot_version("violation engine", version, SNAPSHOT_VERSION, "camera", also=(2,))


def _encode_picture(picture: Quality | _Picture | None) -> dict[str, Any] | None:
    if picture is None:
        return None
    return {
        "brightness": picture.brightness,
        "sharpness": picture.sharpness,
        "signature_digest": _digest_of(picture),
    }


def _decode_picture(d: dict[str, Any] | None) -> Quality | _Picture | None:
    if d is None:
        return None
    if "signature_digest" in d:
        return _Picture(d["brightness"], d["sharpness"], d["signature_digest"])
    return msgspec.convert(d, Quality)  # version 2: the whole block


def _encode_payload(payload: _Payload) -> dict[str, Any]:
    return {
        "detections": msgspec.to_builtins(payload[0]),
        "quality": _encode_picture(payload[1]),
        "snapshot": payload[2],
    }


def _decode_payload(d: dict[str, Any]) -> _Payload:
    return (
        msgspec.convert(d["detections"], list[Detection]),
        _decode_picture(d["quality"]),
        d.get("snapshot"),
    )
