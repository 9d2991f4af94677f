"""Violation debouncer: per-frame detections in, one open + one closed per episode out.

The detector flickers: it misses frames inside a real episode and fires
single false positives outside one. Per (camera, class) the engine keeps a
tiny hysteresis machine on event time (``frame_ts``):

- **idle -> open**: at least ``open_hits`` frames with the class at or above
  ``min_score`` within ``open_window_s``. ``started_at`` is the first of those
  frames, ``detected_at`` the frame that completed the evidence.
- **still present**: a hit extends the episode only when it is backed by
  ``keep_hits`` hits within ``keep_window_s``, so a lone false positive after
  the real end does not stretch it.
- **open -> closed**: nothing present for ``close_after_s`` (defaults to the
  merge gap, 60 s): episodes closer than the merge gap are one episode, so
  closing any earlier would mean a second ``open`` for the same episode.
  ``ended_at`` is the last frame the class was present.

Frames are released to the machine in event-time order through a per-camera
reorder buffer of ``lateness_s``; duplicates (same ``seq`` and ``frame_ts``)
and frames later than the buffer allows are dropped and counted. So a replay
with the contract's disorder gives exactly the answer of an ordered one.

Ids are a hash of camera, class and ``started_at``; ``snapshot()`` carries the
buffers and open episodes so a restarted worker continues without a second
``open``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import msgspec

from schemas.records import (
    DEFAULT_SEVERITY,
    SCHEMA_VERSION,
    VIOLATION_CLASSES,
    Detection,
    Evidence,
    FrameDetections,
    Record,
    RegistryEntry,
    Violation,
)


@dataclass(frozen=True)
class ClassParams:
    """How much evidence opens, keeps and closes an episode of one class."""

    min_score: float = 0.5
    """A detection below this score is not evidence at all."""
    open_hits: int = 4
    """Frames with the class needed within ``open_window_s`` to open."""
    open_window_s: float = 12.0
    keep_hits: int = 2
    """Hits within ``keep_window_s`` needed for a hit to extend an open episode."""
    keep_window_s: float = 15.0
    close_after_s: float | None = None
    """Absence that closes an episode; ``None`` means the merge gap."""


# Per-class defaults: fast classes open on little evidence, a missing hat or
# mask must persist before anyone is paged.
DEFAULT_CLASS_PARAMS: dict[str, ClassParams] = {
    "rodent": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1),
    "animal": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1),
    "smoking": ClassParams(min_score=0.5, open_hits=3, open_window_s=10.0),
    "phone_use": ClassParams(min_score=0.5, open_hits=4, open_window_s=12.0),
    "trash_uncovered": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_hat": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_mask": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_uniform": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_gloves": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
}


@dataclass(frozen=True)
class ViolationParams:
    """Settings of the violation engine; every default is the documented one."""

    merge_gap_s: float = 60.0
    """Episodes of one class on one camera closer than this are one episode."""
    lateness_s: float = 5.0
    """How late (event time) a frame may arrive and still count."""
    idle_expiry_s: float = 3600.0
    """A camera silent this long (watermark time) with nothing open is forgotten."""
    classes: dict[str, ClassParams] = field(default_factory=lambda: dict(DEFAULT_CLASS_PARAMS))
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def severity_of(self, cls: str) -> str:
        return self.severity.get(cls, "minor")


def violation_id(camera_id: str, cls: str, started_at: float) -> str:
    """Deterministic id of an episode: same camera, class and start -> same id."""
    raw = f"{camera_id}|{cls}|{started_at:.3f}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


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
        "frames",
        "peak_snapshot",
    )

    def __init__(self) -> None:
        # Recent hits as (ts, score, box); the window depends on the state.
        self.hits: list[tuple[float, float, tuple[float, float, float, float]]] = []
        self.open = False
        self.started_at = 0.0
        self.detected_at = 0.0
        self.last_present = 0.0
        self.peak_score = 0.0
        self.peak_ts = 0.0
        self.peak_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.frames = 0
        self.peak_snapshot: str | None = None  # image URI of the peak frame

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Track:
        t = cls()
        for s in cls.__slots__:
            setattr(t, s, d.get(s))  # peak_snapshot: absent in older checkpoints
        t.hits = [(h[0], h[1], tuple(h[2]), h[3] if len(h) > 3 else None) for h in t.hits]
        t.peak_box = tuple(t.peak_box)
        return t


class _Camera:
    """Reorder buffer and tracks of one camera."""

    __slots__ = ("pending", "max_ts", "released_ts", "released_seq", "tracks", "snaps")

    def __init__(self) -> None:
        # (frame_ts, seq, detections): only what the machine needs, so the
        # snapshot stays small.
        self.pending: list[tuple[float, int, list[Detection]]] = []
        self.max_ts = float("-inf")
        self.released_ts = float("-inf")
        self.released_seq = -1
        self.tracks: dict[str, _Track] = {}
        # (frame_ts, seq) -> snapshot URI of pending frames that carry one.
        self.snaps: dict[tuple[float, int], str] = {}


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
        self._min_close_s = min(
            (p.close_after_s for p in self._class.values()), default=self.params.merge_gap_s
        )
        self._suppressed_by = suppressed_by
        self._cameras: dict[str, _Camera] = {}
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
        ts = frame.frame_ts
        seq = frame.seq
        if ts < cam.released_ts or (ts == cam.released_ts and seq == cam.released_seq):
            if ts == cam.released_ts and seq == cam.released_seq:
                self.counters.duplicates += 1
            else:
                self.counters.late_dropped += 1
            return []
        pending = cam.pending
        item = (ts, seq, frame.detections)
        if not pending or ts > pending[-1][0]:
            pending.append(item)
        else:
            for p in pending:
                if p[0] == ts and p[1] == seq:
                    self.counters.duplicates += 1
                    return []
            bisect.insort(pending, item, key=_pending_key)
        if frame.snapshot is not None:
            cam.snaps[(ts, seq)] = frame.snapshot
        if ts > cam.max_ts:
            cam.max_ts = ts
        horizon = cam.max_ts - self.params.lateness_s
        if pending[0][0] > horizon:
            return []
        out: list[Violation] = []
        camera_id = frame.camera_id
        while pending and pending[0][0] <= horizon:
            rts, rseq, dets = pending.pop(0)
            cam.released_ts = rts
            cam.released_seq = rseq
            self._snap = cam.snaps.pop((rts, rseq), None) if cam.snaps else None
            self._process(camera_id, cam, rts, dets, out)
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
        expiry = self.params.idle_expiry_s
        forget: list[str] = []
        for camera_id, cam in self._cameras.items():
            silent_for = now - cam.max_ts
            if silent_for < self._min_close_s:
                continue
            if cam.pending:
                for rts, rseq, dets in cam.pending:
                    cam.released_ts = rts
                    cam.released_seq = rseq
                    self._snap = cam.snaps.pop((rts, rseq), None) if cam.snaps else None
                    self._process(camera_id, cam, rts, dets, out)
                cam.pending.clear()
            if cam.tracks:
                for cls in list(cam.tracks):
                    tr = cam.tracks[cls]
                    close_after_s = self._class[cls].close_after_s
                    if (
                        tr.open
                        and silent_for >= close_after_s
                        and now - tr.last_present >= close_after_s
                    ):
                        out.append(self._close(camera_id, cls, tr))
                        del cam.tracks[cls]
            elif not cam.pending and silent_for >= expiry:
                forget.append(camera_id)
        for camera_id in forget:
            del self._cameras[camera_id]
        return out

    def snapshot(self) -> dict[str, Any]:
        cams = {camera_id: self.snapshot_camera(camera_id) for camera_id in self._cameras}
        return {"version": 1, "cameras": cams, "operators": dict(self._operator)}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._operator.update(snapshot.get("operators", {}))
        for camera_id, c in snapshot["cameras"].items():
            self.restore_camera(camera_id, c)

    def snapshot_camera(self, camera_id: str) -> dict[str, Any] | None:
        """One camera's state (``None`` if the engine holds none), for incremental checkpoints."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            operator_id = self._operator.get(camera_id)
            return None if operator_id is None else {"operator_id": operator_id}
        return {
            "pending": [(ts, seq, msgspec.to_builtins(dets)) for ts, seq, dets in cam.pending],
            # JSON has no infinity: a camera with nothing released yet says null.
            "max_ts": _finite_or_none(cam.max_ts),
            "released_ts": _finite_or_none(cam.released_ts),
            "released_seq": cam.released_seq,
            "tracks": {cls: tr.to_dict() for cls, tr in cam.tracks.items()},
            "snaps": [[ts, seq, uri] for (ts, seq), uri in cam.snaps.items()],
            "operator_id": self._operator.get(camera_id),
        }

    def restore_camera(self, camera_id: str, c: dict[str, Any] | None) -> None:
        if c is None:
            self._cameras.pop(camera_id, None)
            return
        if c.get("operator_id") is not None:
            self._operator[camera_id] = c["operator_id"]
        if "tracks" not in c:  # only the owner is known
            self._cameras.pop(camera_id, None)
            return
        cam = _Camera()
        cam.pending = [
            (ts, seq, msgspec.convert(dets, list[Detection])) for ts, seq, dets in c["pending"]
        ]
        cam.max_ts = _NEG_INF if c["max_ts"] is None else c["max_ts"]
        cam.released_ts = _NEG_INF if c["released_ts"] is None else c["released_ts"]
        cam.released_seq = c["released_seq"]
        cam.tracks = {cls: _Track.from_dict(t) for cls, t in c["tracks"].items()}
        cam.snaps = {(ts, seq): uri for ts, seq, uri in c.get("snaps", ())}
        self._cameras[camera_id] = cam

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
        detections: list[Detection],
        out: list[Violation],
    ) -> None:
        self.counters.frames += 1
        best: dict[str, Any] = {}
        if detections:
            if self._suppressed_by is not None and self._suppressed_by(camera_id):
                # The picture is meaningless (dark, frozen, turned away): its
                # detections are not evidence; an empty frame still counts as
                # absence so open episodes can close.
                self.counters.suppressed_frames += 1
                return
            classes = self._class
            for det in detections:
                p = classes.get(det.cls)
                if p is None:
                    self.counters.unknown_class += 1
                elif det.score >= p.min_score:
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
            if score > tr.peak_score:
                tr.peak_score, tr.peak_ts, tr.peak_box = score, ts, box
                tr.peak_snapshot = self._snap
            if len(hits) >= p.keep_hits:
                tr.last_present = ts
            return
        limit = ts - p.open_window_s
        while hits[0][0] < limit:
            hits.pop(0)
        if len(hits) < p.open_hits:
            return
        tr.open = True
        tr.started_at = hits[0][0]
        tr.detected_at = ts
        tr.last_present = ts
        tr.frames = len(hits)
        peak = max(hits, key=_score_of)
        tr.peak_score, tr.peak_ts, tr.peak_box = peak[1], peak[0], peak[2]
        tr.peak_snapshot = peak[3]
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


_NEG_INF = float("-inf")


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _pending_key(item: tuple[float, int, list[Detection]]) -> tuple[float, int]:
    return (item[0], item[1])


def _score_of(hit: tuple[float, float, Any]) -> float:
    return hit[1]


__all__ = [
    "VIOLATION_CLASSES",
    "ClassParams",
    "DEFAULT_CLASS_PARAMS",
    "ViolationCounters",
    "ViolationEngine",
    "ViolationParams",
    "violation_id",
]
