"""Violation debouncer: per-frame detections in, one open + one closed per episode out.

The detector flickers: it misses frames inside a real episode and fires
single false positives outside one. Per (camera, class) the engine keeps a
tiny hysteresis machine on event time (``frame_ts``):

- **idle -> open**: at least ``open_hits`` frames with the class at or above
  ``min_score`` within ``open_window_s``. With ``weak_score`` set the evidence
  is a score instead: each hit counts (score - weak_score) / (min_score -
  weak_score) frames, at most ``max_weight``, and ``open_hits`` of it from two
  frames or more opens. With ``track_radius`` set only the hits whose box
  centre lies that close to the newest hit's count (the same object; false
  positives land anywhere). ``started_at`` is the first of those frames,
  ``detected_at`` the frame that completed the evidence.
- **still present**: a hit extends the episode only when it is backed by
  ``keep_hits`` hits within ``keep_window_s`` (with ``weak_score``: ``keep_hits``
  of evidence from two frames or more), so a lone false positive after the real
  end does not stretch it.
- **open -> closed**: nothing present for ``close_after_s`` (defaults to the
  merge gap, 60 s): episodes closer than the merge gap are one episode, so
  closing any earlier would mean a second ``open`` for the same episode.
  ``ended_at`` is the last frame the class was present.

Frames are released to the machine in event-time order through a per-camera
reorder buffer of ``lateness_s``; duplicates (same ``seq`` and ``frame_ts``)
and frames later than the buffer allows are dropped and counted. So a replay
with the contract's disorder gives exactly the answer of an ordered one.

Evidence (``evidence.frame_ts``, ``box``, ``snapshot``) is the highest-scoring
hit of the episode, preferring frames that carry a stored image: the worker
keeps at most one image per camera per few seconds, so the peak frame itself
may have none. At ``open`` it is the best hit with an image (else the best hit);
later, a new peak replaces it only if it has an image or the evidence has none,
and a frame with an image replaces evidence without one. ``peak_score`` is the
episode's highest score whatever the image.

Ids are a hash of camera, class and ``started_at``; ``snapshot()`` carries the
buffers and open episodes so a restarted worker continues without a second
``open``.
"""

from __future__ import annotations

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
    Quality,
    Record,
    RegistryEntry,
    Violation,
)
from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.ids import stable_id
from stream_apps.engines.reorder import DUPLICATE, ReorderBuffer


@dataclass(frozen=True)
class ClassParams:
    """How much evidence opens, keeps and closes an episode of one class."""

    min_score: float = field(
        default=0.5,
        metadata={"help": "A detection scored below this is not evidence.", "ge": 0, "le": 1},
    )
    open_hits: int = field(
        default=4,
        metadata={"help": "Frames with the class needed within open_window_s to open.", "ge": 1},
    )
    open_window_s: float = field(
        default=12.0, metadata={"help": "Window in which open_hits must fall (s).", "gt": 0}
    )
    keep_hits: int = field(
        default=2,
        metadata={"help": "Hits within keep_window_s for a hit to extend an episode.", "ge": 1},
    )
    keep_window_s: float = field(
        default=15.0, metadata={"help": "Window of keep_hits (s).", "gt": 0}
    )
    close_after_s: float | None = field(
        default=None,
        metadata={"help": "Absence that closes an episode (s); empty means the merge gap."},
    )
    weak_score: float | None = field(
        default=None,
        metadata={
            "help": (
                "Evidence score: with it set, a hit counts (score - weak_score) / "
                "(min_score - weak_score) frames towards open_hits, capped at max_weight: "
                "a hit at min_score counts one frame, a weaker one (down to weak_score) a "
                "part of one, a confident one more. An episode then opens on open_hits of "
                "evidence from at least two frames (one if open_hits is 1), and a hit "
                "keeps it present when keep_hits of evidence back it. "
                "Empty: every hit at or above min_score counts one frame, nothing else."
            ),
            "ge": 0,
            "le": 1,
        },
    )
    max_weight: float = field(
        default=1.0,
        metadata={
            "help": "With weak_score: the most one frame counts towards open_hits.",
            "gt": 0,
        },
    )
    track_radius: float = field(
        default=0.0,
        metadata={
            "help": (
                "Same object: hits count together towards open_hits (and the motion prior) "
                "only when their box centres lie within this distance (share of the "
                "frame) of the newest hit's; false positives scattered over the picture "
                "do not add up. 0 turns it off."
            ),
            "ge": 0,
            "le": 2,
        },
    )
    min_motion: float = field(
        default=0.0,
        metadata={
            "help": (
                "Motion prior: median step of the box centre between consecutive hits "
                "(share of the frame) below which the object is stationary and does not "
                "open; 0 turns it off. Rodents and animals move several % a second, a "
                "cigarette or phone in a hand jitters 1-3 %, a bag, mop head, ladle or "
                "phone-shaped box on a shelf stays within 0.5 %."
            ),
            "ge": 0,
            "le": 1,
        },
    )


# Per-class defaults. Rodents and animals open on two confident frames (the
# motion prior costs them nothing: two frames of a moving animal already show
# it moving). Small held objects (phone, cigarette, gloves) are seen on only
# 30-65 % of frames, often scored just under min_score, so their evidence is a
# score: a hit at 0.5 counts one frame, one at 0.35-0.5 a part of one, a
# confident one (0.65 and up) two, and two frames or more of the same object
# (box centres within track_radius) that add up to two open; the motion prior
# keeps the stationary look-alikes out. A missing hat or mask must persist a
# little longer.
_SMALL = {"weak_score": 0.35, "max_weight": 2.0, "track_radius": 0.15}
DEFAULT_CLASS_PARAMS: dict[str, ClassParams] = {
    "rodent": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1,
                          min_motion=0.008, track_radius=0.25),
    "animal": ClassParams(min_score=0.6, open_hits=2, open_window_s=10.0, keep_hits=1,
                          min_motion=0.008, track_radius=0.25),
    "smoking": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, min_motion=0.005,
                           **_SMALL),
    "phone_use": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, min_motion=0.005,
                             **_SMALL),
    "no_gloves": ClassParams(min_score=0.5, open_hits=2, open_window_s=10.0, **_SMALL),
    "trash_uncovered": ClassParams(min_score=0.5, open_hits=5, open_window_s=15.0),
    "no_hat": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
    "no_mask": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
    "no_uniform": ClassParams(min_score=0.5, open_hits=4, open_window_s=10.0),
}  # fmt: skip


@dataclass(frozen=True)
class ViolationParams:
    """Settings of the violation engine; every default is the documented one."""

    merge_gap_s: float = field(
        default=60.0,
        metadata={"help": "Episodes of one class on one camera closer than this are one (s).",
                  "gt": 0},
    )  # fmt: skip
    lateness_s: float = field(
        default=5.0,
        metadata={"help": "How late (event time) a frame may arrive and still count (s).",
                  "ge": 0},
    )  # fmt: skip
    idle_expiry_s: float = field(
        default=3600.0,
        metadata={"help": "A camera silent this long with nothing open is forgotten (s).",
                  "gt": 0},
    )  # fmt: skip
    repeated_frames_are_one: bool = field(
        default=True,
        metadata={
            "help": (
                "A frame whose quality (brightness, sharpness, signature) is identical to "
                "the previous frame's is the same picture again (a stuck encoder): its "
                "detections are not new evidence, so a run of identical frames counts once."
            )
        },
    )
    classes: dict[str, ClassParams] = field(default_factory=lambda: dict(DEFAULT_CLASS_PARAMS))
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def severity_of(self, cls: str) -> str:
        return self.severity.get(cls, "minor")


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


# What waits in the reorder buffer: the detections and a key of the frame's
# quality block (equal blocks: the same picture again).
_Payload = tuple[list[Detection], Quality | None, str | None]  # detections, quality, snapshot


class _Camera:
    """Reorder buffer and tracks of one camera."""

    __slots__ = ("buf", "last_picture", "tracks")

    def __init__(self) -> None:
        self.buf: ReorderBuffer[_Payload] = ReorderBuffer()
        self.last_picture: Quality | None = None
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
        expiry = self.params.idle_expiry_s
        forget: list[str] = []
        for camera_id, cam in self._cameras.items():
            silent_for = now - cam.buf.max_ts
            if silent_for < self._min_close_s:
                continue
            if cam.buf.pending:
                for rts, _rseq, payload in cam.buf.drain():
                    self._process(camera_id, cam, rts, payload, out)
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
            elif silent_for >= expiry:
                forget.append(camera_id)
        for camera_id in forget:
            del self._cameras[camera_id]
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
            "last_picture": None
            if cam.last_picture is None
            else msgspec.to_builtins(cam.last_picture),
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
        lp = c["last_picture"]
        cam.last_picture = None if lp is None else msgspec.convert(lp, Quality)
        cam.tracks = {cls: _Track.from_dict(t) for cls, t in c["tracks"].items()}
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
        payload: _Payload,
        out: list[Violation],
    ) -> None:
        self.counters.frames += 1
        detections, picture, self._snap = payload
        if self._repeats and picture is not None:  # stock payloads carry no quality
            last = cam.last_picture
            if (
                last is not None
                and picture.sharpness == last.sharpness
                and picture.brightness == last.brightness
                and picture.signature == last.signature
            ):
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


SNAPSHOT_VERSION = 2
"""Version of what ``snapshot``/``snapshot_camera`` write (named fields throughout)."""
_NO_DETECTIONS: list[Detection] = []


def _check_version(version: Any) -> None:
    check_snapshot_version("violation engine", version, SNAPSHOT_VERSION, "camera")


def _encode_payload(payload: _Payload) -> dict[str, Any]:
    return {
        "detections": msgspec.to_builtins(payload[0]),
        "quality": msgspec.to_builtins(payload[1]),
        "snapshot": payload[2],
    }


def _decode_payload(d: dict[str, Any]) -> _Payload:
    return (
        msgspec.convert(d["detections"], list[Detection]),
        msgspec.convert(d["quality"], Quality | None),
        d.get("snapshot"),
    )


def _motion(hits: list[tuple[float, float, tuple[float, float, float, float]]]) -> float:
    """Median step of the box centre between consecutive hits (share of the frame).

    Per-frame box jitter of a static object gives steps of a few tenths of a
    per cent whatever the gap; a moving or hand-held object steps further. The
    median ignores one jump (a second object briefly the best box)."""
    steps = []
    prev = hits[0][2]
    px, py = prev[0] + prev[2], prev[1] + prev[3]
    for h in hits[1:]:
        b = h[2]
        x, y = b[0] + b[2], b[1] + b[3]
        steps.append(math.hypot(x - px, y - py) * 0.5)
        px, py = x, y
    steps.sort()
    n = len(steps)
    return steps[n // 2] if n % 2 else (steps[n // 2 - 1] + steps[n // 2]) * 0.5


def _near(
    hits: list[tuple[float, float, tuple[float, float, float, float], Any]],
    box: tuple[float, float, float, float],
    radius: float,
) -> list[tuple[float, float, tuple[float, float, float, float], Any]]:
    """The hits whose box centre is within ``radius`` of ``box``'s (both as shares of
    the frame), in order."""
    cx, cy = box[0] + box[2], box[1] + box[3]  # twice the centre
    r2 = 4.0 * radius * radius
    out = []
    for h in hits:
        b = h[2]
        dx = b[0] + b[2] - cx
        dy = b[1] + b[3] - cy
        if dx * dx + dy * dy <= r2:
            out.append(h)
    return out


def _floor(p: ClassParams) -> float:
    """The lowest score that is evidence for the class."""
    if p.weak_score is not None and p.weak_score < p.min_score:
        return p.weak_score
    return p.min_score


def _enough_evidence(hits: list[tuple[float, float, Any, Any]], p: ClassParams, need: int) -> bool:
    """The evidence score: each hit counts (score - weak_score) / (min_score - weak_score)
    frames, at most ``max_weight``; ``need`` of it (``open_hits`` or ``keep_hits``),
    from two frames or more (one frame is never enough unless ``need`` is 1)."""
    if len(hits) < min(2, need):
        return False
    weak = p.weak_score
    top = p.min_score
    if weak is None or weak >= top:
        return len(hits) >= need
    scale = 1.0 / (top - weak)
    cap = p.max_weight
    goal = need - 1e-9
    total = 0.0
    for h in hits:
        w = (h[1] - weak) * scale
        total += w if w < cap else cap
        if total >= goal:
            return True
    return False


def _score_of(hit: tuple[float, float, Any]) -> float:
    return hit[1]


__all__ = [
    "VIOLATION_CLASSES",
    "ClassParams",
    "DEFAULT_CLASS_PARAMS",
    "SNAPSHOT_VERSION",
    "ViolationCounters",
    "ViolationEngine",
    "ViolationParams",
    "violation_id",
]
