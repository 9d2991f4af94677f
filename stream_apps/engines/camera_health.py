"""Camera health: offline, frozen, blurred, dark, turned away - without false alarms.

Inputs are ``bk.detections.v1`` frames (only their ``quality`` block is read)
and ``bk.camera-status.v1``; outputs are ``CameraEvent`` records, one ``open``
and one ``closed`` per episode. Everything runs on event time.

- **offline**: no frame and no ``streaming`` status for ``offline_after_s``.
  Decided on the engine's clock (the newest event time fed, or ``now`` given
  to ``advance``) once it is ``offline_after_s + lateness_s`` past the last
  sign of life, so a sign of life that is still allowed to arrive late cannot
  be missed. ``started_at`` is the last sign of life; ``detected_at`` is that
  deadline (``started_at + offline_after_s + lateness_s``), the earliest clock
  at which the silence was decidable, so the answer does not depend on how
  often the shell calls ``advance``. Closed by the first frame that returns.
  Non-streaming statuses only make ``detail`` precise.
- **frozen**: consecutive frames whose brightness, sharpness and signature are
  the same within ``frozen_tolerance`` for ``frozen_after_s``.
- **dark**: brightness below ``dark_ratio`` of the camera's baseline *and* the
  structure lost (signature farther than ``angle_distance`` from its baseline,
  or contrast-normalised sharpness below ``blur_ratio``), sustained, within
  opening hours. An IR switch or dimmed lights change brightness but keep the
  structure, so they are not dark.
- **blurred**: contrast-normalised sharpness (sharpness / brightness^2, which
  does not move when only the exposure does) below ``blur_ratio`` of its
  baseline, sustained, within opening hours.
- **angle_changed**: the signature farther than ``angle_distance`` from the
  baseline on every readable sample for ``angle_sustained_s``. Acknowledging
  it, or ``rebaseline_after_s`` without acknowledgement, makes the new view the
  baseline and closes it.

Baselines are learned online per camera (clamped EWMA, candidate frames
excluded) after ``warmup_frames``. Frames go through a per-camera reorder
buffer of ``lateness_s`` (duplicates by ``(seq, frame_ts)`` and frames older
than what was released are dropped and counted), so the contract's disorder
does not change the answer. Event ids hash camera, kind and ``started_at``.
See docs/camera-health.md for the rules and why.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import math
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.records import (
    SCHEMA_VERSION,
    CameraEvent,
    CameraStatus,
    FrameDetections,
    RegistryEntry,
)
from stream_apps.engines.reorder import DUPLICATE, ReorderBuffer

INF = math.inf
# Kinds whose open episode makes the camera's detections meaningless.
SUPPRESSING_KINDS = ("frozen", "dark", "angle_changed")
_SIG = struct.Struct("<64d")
_Quality = tuple[float, float, list[float]]  # brightness, sharpness, signature
SNAPSHOT_VERSION = 2
"""Version of what ``snapshot``/``snapshot_camera`` write (named fields throughout)."""


@dataclass(frozen=True)
class HealthParams:
    """Thresholds of the camera-health engine; every default is the documented one."""

    offline_after_s: float = field(
        default=60.0,
        metadata={
            "help": "Silence (no frame, no ``streaming`` status) longer than this is offline."
        },
    )
    lateness_s: float = field(
        default=5.0,
        metadata={
            "help": (
                "How late (event time) a record may arrive and still count; frames wait "
                "this long in the reorder buffer and the offline deadline includes it."
            )
        },
    )
    frozen_after_s: float = field(
        default=120.0, metadata={"help": "The picture unchanged this long is frozen."}
    )
    frozen_min_frames: int = field(
        default=5,
        metadata={"help": "...and over at least this many frames (a slow camera is not frozen)."},
    )
    frozen_tolerance: float = field(
        default=1e-4,
        metadata={
            "help": (
                "Two frames are the same picture when brightness (absolute, 0..1), "
                "sharpness (relative) and signature (L2) differ by no more than this. "
                "Sensor noise on a live static scene moves sharpness by ~0.3 %, far more."
            )
        },
    )
    featureless_brightness: float = field(
        default=0.02,
        metadata={
            "help": (
                "Frames darker than this (lights off, lens capped) carry no picture to "
                "compare and never count as frozen."
            )
        },
    )
    dark_ratio: float = field(
        default=0.3,
        metadata={
            "help": (
                "Dark: brightness below this fraction of the camera's baseline (and the "
                "structure lost)."
            )
        },
    )
    blur_ratio: float = field(
        default=0.25,
        metadata={
            "help": ("Blurred: contrast-normalised sharpness below this fraction of its baseline.")
        },
    )
    sustained_s: float = field(
        default=120.0,
        metadata={"help": "Dark and blurred must hold on every frame this long before they open."},
    )
    recover_s: float = field(
        default=30.0,
        metadata={
            "help": (
                "Dark, blurred and angle_changed close after this long back to normal; "
                "``ended_at`` is the first normal frame."
            )
        },
    )
    run_gap_s: float = field(
        default=30.0,
        metadata={
            "help": (
                "A sustained run (or a recovery) is broken by a gap longer than this "
                "without a qualifying frame (camera silent, unreadable, out of hours)."
            )
        },
    )
    hours_margin_s: float = field(
        default=600.0,
        metadata={
            "help": (
                "Dark and blurred are judged, and brightness/sharpness baselines learned, "
                "only from opening + margin to closing - margin: lights go on a little "
                "after the declared opening and off a little before closing."
            )
        },
    )
    angle_distance: float = field(
        default=0.6,
        metadata={
            "help": (
                "Signature L2 distance from the baseline beyond which the view differs "
                "(unit vectors: 0 same, ~1.41 unrelated; people crossing give ~0.2-0.4)."
            )
        },
    )
    angle_sustained_s: float = field(
        default=300.0, metadata={"help": "The view must differ on every readable sample this long."}
    )
    rebaseline_after_s: float = field(
        default=3600.0,
        metadata={
            "help": (
                "An angle change not acknowledged this long after detection becomes the "
                "new baseline and the event closes."
            )
        },
    )
    signature_every_s: float = field(
        default=5.0,
        metadata={
            "help": "Signature checked against its baseline (and learned) at most this often."
        },
    )
    warmup_frames: int = field(
        default=300,
        metadata={
            "help": (
                "Frames learned before any quality event can fire (5 min at 1 fps). The "
                "brightness and sharpness baselines start from an upper quantile "
                "(``warmup_quantile``) of these frames, so a lens blurred or dark from "
                "minute two of a cold start is still judged against the normal picture."
            )
        },
    )
    warmup_quantile: float = field(
        default=0.85,
        metadata={
            "help": (
                "Quantile of the warm-up frames' brightness and sharpness that starts the "
                "baselines: robust to a camera that turns blurred or dark within its "
                "warm-up, as long as a sixth of the warm-up saw the normal picture."
            )
        },
    )
    signature_warmup_samples: int = field(
        default=6,
        metadata={
            "help": (
                "Readable signature samples (``signature_every_s`` apart: 30 s) averaged "
                "before the view is judged. The view is learned and judged at any hour, "
                "opening hours or not, whenever the frame is readable."
            )
        },
    )
    readable_brightness: float = field(
        default=0.08,
        metadata={
            "help": (
                "A frame this bright or more has a view to learn or judge even before any "
                "brightness baseline exists (lights off, a capped lens are darker)."
            )
        },
    )
    baseline_time_s: float = field(
        default=1800.0, metadata={"help": "Time constant of the baselines' EWMA (event seconds)."}
    )
    idle_expiry_s: float = field(
        default=7 * 86400.0,
        metadata={
            "help": (
                "A camera with no sign of life this long is dropped from the engine's "
                "state (its baselines are learned again when it returns); one with an "
                "open episode (offline, typically) keeps just enough to close it."
            )
        },
    )

    def __post_init__(self) -> None:
        positive = (
            "offline_after_s",
            "frozen_after_s",
            "sustained_s",
            "angle_sustained_s",
            "rebaseline_after_s",
            "signature_every_s",
            "baseline_time_s",
            "idle_expiry_s",
            "angle_distance",
            "frozen_tolerance",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"HealthParams.{name} must be > 0")
        for name in (
            "lateness_s",
            "recover_s",
            "run_gap_s",
            "hours_margin_s",
            "warmup_frames",
            "signature_warmup_samples",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"HealthParams.{name} must be >= 0")
        if not 0 < self.warmup_quantile <= 1:
            raise ValueError("HealthParams.warmup_quantile must be in (0, 1]")
        if not (0 < self.dark_ratio < 1 and 0 < self.blur_ratio < 1):
            raise ValueError("HealthParams: dark_ratio and blur_ratio must be in (0, 1)")


def camera_event_id(camera_id: str, kind: str, started_at: float) -> str:
    """Deterministic id of an episode: same camera, kind and start -> same id."""
    raw = f"{camera_id}|{kind}|{started_at:.3f}".encode()
    return hashlib.sha1(raw).hexdigest()[:32]


class _Reg:
    """What the engine keeps of a registry entry."""

    __slots__ = ("operator_id", "timezone", "tz", "hours", "ranges", "active", "reference")

    def __init__(
        self,
        operator_id: str,
        timezone: str,
        hours: list[list[str]],
        active: bool,
        reference: list[float] | None = None,
    ) -> None:
        self.operator_id = operator_id
        self.reference = _normalised(reference) if reference else None
        self.timezone = timezone
        self.hours = [list(h) for h in hours]
        self.active = active
        try:
            self.tz: ZoneInfo | None = ZoneInfo(timezone)
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            self.tz = None
        self.ranges = [(_minutes(a), _minutes(b)) for a, b in hours]

    def to_dict(self) -> dict[str, Any]:
        return {
            "operator_id": self.operator_id,
            "timezone": self.timezone,
            "opening_hours": self.hours,
            "active": self.active,
            "reference_signature": _pack(self.reference),
        }

    @classmethod
    def from_dict(cls, r: dict[str, Any]) -> _Reg:
        return cls(
            r["operator_id"],
            r["timezone"],
            r["opening_hours"],
            r["active"],
            _unpack(r.get("reference_signature")),
        )


class _Episode:
    """A run towards opening (``open`` False) or towards closing (``open`` True).

    ``since``/``last``: first and latest qualifying frame of the current run
    (``since`` is None when no run is under way).
    """

    __slots__ = ("since", "last", "open", "started_at", "detected_at", "detail")

    def __init__(self) -> None:
        self.since: float | None = None
        self.last = 0.0
        self.open = False
        self.started_at = 0.0
        self.detected_at = 0.0
        self.detail = ""

    def to_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Episode:
        e = cls()
        for s in cls.__slots__:
            setattr(e, s, d[s])
        return e


class _Camera:
    """Everything the engine knows about one camera."""

    __slots__ = (
        "camera_id",
        "reg",
        # reorder buffer of (brightness, sharpness, signature)
        "buf",
        "last_ts",
        # offline
        "last_alive",
        "bad_ts",
        "bad_state",
        "bad_worker",
        "bad_detail",
        "offline",
        # frozen: the reference picture of the current run of same pictures
        "fz_b",
        "fz_s",
        "fz_sig",
        "fz_since",
        "fz_n",
        "frozen",
        # baselines
        "n_frames",
        "n_learn",
        "learn_ts",
        "base_b",
        "base_s",
        "base_ns",
        "sig",
        "sig_n",
        "n_sig",
        "next_sig",
        "warm",
        # opening hours cache for the current UTC minute
        "h_from",
        "h_until",
        "in_hours",
        # quality episodes (None when idle)
        "dark",
        "blur",
        "angle",
        "view",
        "view_n",
        "suppress",
        "due",
    )

    def __init__(self, camera_id: str, reg: _Reg | None) -> None:
        self.camera_id = camera_id
        self.reg = reg
        self.buf: ReorderBuffer[_Quality] = ReorderBuffer()
        self.last_ts = -INF
        self.last_alive = -INF
        self.bad_ts = -INF
        self.bad_state = ""
        self.bad_worker = ""
        self.bad_detail = ""
        self.offline: _Episode | None = None
        self.fz_b = -1.0
        self.fz_s = -1.0
        self.fz_sig: list[float] = []
        self.fz_since = 0.0
        self.fz_n = 0
        self.frozen: _Episode | None = None
        self.n_frames = 0
        self.n_learn = 0
        self.learn_ts = -INF
        self.base_b = 0.0
        self.base_s = 0.0
        self.base_ns = 0.0
        self.sig: list[float] | None = None
        self.sig_n = 0  # signature samples learned
        self.n_sig = 0  # readable frames seen (signature warm-up)
        self.next_sig = -INF
        # warm-up samples (brightness, sharpness, normalised sharpness) until the
        # baselines start; then None
        self.warm: list[list[float]] | None = [[], [], []]
        self.h_from = INF
        self.h_until = -INF
        self.in_hours = False
        self.dark: _Episode | None = None
        self.blur: _Episode | None = None
        self.angle: _Episode | None = None
        self.view: list[float] | None = None
        self.view_n = 0
        self.suppress: str | None = None
        self.due = INF  # deadline of this camera's live heap entry


class CameraHealthEngine:
    """Turns frame quality and stream status into camera-health episodes (see module doc).

    Lifecycle (stream_apps/engines/base.py): ``feed`` a frame or status,
    ``advance(now)`` when the watermark moves, ``snapshot``/``restore`` on
    checkpoint and assignment. Also ``set_registry`` (operator, opening hours),
    ``acknowledge`` (an inspector accepted an angle change) and ``suppressing``
    (for the violation engine).
    """

    def __init__(self, params: HealthParams | None = None) -> None:
        self.params = p = params or HealthParams()
        self._cams: dict[str, _Camera] = {}
        self._reg: dict[str, _Reg] = {}
        self._clock = -INF
        # Deadlines as a heap of (due, camera_id): at most one live entry per
        # camera (``_Camera.due``; others are stale and skipped), so deciding
        # silence costs O(log n) per camera and deadline, not a scan of all.
        self._due: list[tuple[float, str]] = []
        self._idle_expiry = p.idle_expiry_s
        self._n_expired = 0
        # False: only advance() moves the clock (the camera pipeline's robust
        # partition clock), so one camera's future frames cannot move it.
        self.self_clocked = True
        self._offline_wait = p.offline_after_s + p.lateness_s
        self._n_frames = 0
        self._n_statuses = 0
        self._n_dup = 0
        self._n_no_quality = 0
        self._n_late = 0
        self._n_unregistered = 0
        self._n_opened = 0
        self._n_closed = 0
        self._n_acks = 0
        self._n_acks_ignored = 0
        self._n_inactive = 0
        self._n_ignored = 0

    # -- registry and queries --------------------------------------------------
    def set_registry(self, entry: RegistryEntry) -> None:
        """Operator, opening hours and timezone of a camera (latest entry wins)."""
        reg = _Reg(
            entry.operator_id,
            entry.timezone,
            entry.opening_hours,
            entry.active,
            entry.reference_signature,
        )
        old = self._reg.get(entry.camera_id)
        self._reg[entry.camera_id] = reg
        cam = self._cams.get(entry.camera_id)
        if cam is not None:
            cam.reg = reg
            cam.h_from, cam.h_until = INF, -INF  # recompute opening hours
            if reg.reference is not None and cam.sig is None:
                _use_reference(cam, self.params)
            if reg.active and old is not None and not old.active:
                self._arm(cam, cam.last_alive + self._offline_wait)

    def suppressing(self, camera_id: str) -> str | None:
        """The kind of the open episode that makes this camera's detections
        meaningless (frozen, dark, angle_changed), or None."""
        cam = self._cams.get(camera_id)
        return cam.suppress if cam is not None else None

    @property
    def counters(self) -> dict[str, int]:
        """Plain counters for metrics."""
        return {
            "frames": self._n_frames,
            "statuses": self._n_statuses,
            "duplicates": self._n_dup,
            "frames_without_quality": self._n_no_quality,
            "late_dropped": self._n_late,
            "unregistered_frames": self._n_unregistered,
            "opened": self._n_opened,
            "closed": self._n_closed,
            "acknowledged": self._n_acks,
            "acks_ignored": self._n_acks_ignored,
            "inactive_suppressed": self._n_inactive,
            "ignored_input": self._n_ignored,
            "expired": self._n_expired,
            "cameras": len(self._cams),
        }

    def open_events(self) -> list[tuple[str, str]]:
        """(camera_id, kind) of every open episode."""
        out = []
        for cid, cam in self._cams.items():
            for kind, ep in _episodes(cam):
                if ep is not None and ep.open:
                    out.append((cid, kind))
        return out

    # -- lifecycle -------------------------------------------------------------
    def feed(self, record: FrameDetections | CameraStatus) -> list[CameraEvent]:
        """One frame or status in; the episodes it opened or closed out."""
        if type(record) is FrameDetections:
            return self._feed_frame(record)
        if isinstance(record, CameraStatus):
            return self._feed_status(record)
        if isinstance(record, FrameDetections):
            return self._feed_frame(record)
        if isinstance(record, RegistryEntry):
            self.set_registry(record)
            return []
        self._n_ignored += 1  # the engine contract: counted, never raised
        return []

    def advance(self, now: float) -> list[CameraEvent]:
        """The watermark moved to ``now``: decide what silence decides (offline)."""
        if now > self._clock:
            self._clock = now
        out: list[CameraEvent] = []
        if self._due and self._due[0][0] <= self._clock:
            self._scan(out)
        return out

    def has_camera(self, camera_id: str) -> bool:
        """Whether this engine holds the camera's state (it owns the camera)."""
        return camera_id in self._cams

    def acknowledge(
        self, camera_id: str, ts: float, event_ids: set[str] | None = None
    ) -> list[CameraEvent]:
        """An inspector accepted the camera's angle change at ``ts``: the new view
        becomes the baseline and the event closes (returned). No-op otherwise,
        and when ``event_ids`` is given but does not hold the open event's id
        (the acknowledgement was of an earlier angle change)."""
        cam = self._cams.get(camera_id)
        ep = cam.angle if cam is not None else None
        if ep is None or not ep.open:
            self._n_acks_ignored += 1
            return []
        if event_ids is not None and (
            camera_event_id(camera_id, "angle_changed", ep.started_at) not in event_ids
        ):
            self._n_acks_ignored += 1
            return []
        self._n_acks += 1
        out: list[CameraEvent] = []
        self._rebaseline(cam, max(ts, ep.started_at), "acknowledged", out)
        return out

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state: per camera a handful of floats, the baseline
        signature and the frames still in the reorder buffer."""
        return {
            "version": SNAPSHOT_VERSION,
            "clock": _num(self._clock),
            "registry": {cid: r.to_dict() for cid, r in self._reg.items()},
            "cameras": {cid: self._camera_state(c) for cid, c in self._cams.items()},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load state written by ``snapshot``; records it covers that are fed
        again are ignored (duplicates or older than what was released)."""
        _check_version(snapshot.get("version"))
        for cid, r in snapshot.get("registry", {}).items():
            self._reg[cid] = _Reg.from_dict(r)
        self.restore_cameras(snapshot["cameras"], _inf(snapshot.get("clock"), -INF))

    def snapshot_camera(self, camera_id: str) -> dict[str, Any] | None:
        """One camera's state and registry entry, for incremental checkpoints."""
        c = self._cams.get(camera_id)
        reg = self._reg.get(camera_id)
        if c is None and reg is None:
            return None
        return {
            "registry": reg.to_dict() if reg is not None else None,
            "state": self._camera_state(c) if c is not None else None,
        }

    def restore_cameras(
        self, cameras: dict[str, dict[str, Any] | None], clock: float = -INF
    ) -> None:
        """Load camera states (``_camera_state`` form, ``None`` = forget) and the clock."""
        if clock > self._clock:
            self._clock = clock
        for cid, d in cameras.items():
            if d is None:
                self._cams.pop(cid, None)
                continue
            self._cams[cid] = self._load_camera(cid, d)
        self._recompute_due()

    def restore_camera_entries(
        self, entries: dict[str, dict[str, Any] | None], clock: float = -INF
    ) -> None:
        """Load what ``snapshot_camera`` wrote, for many cameras at once."""
        for cid, e in entries.items():
            if e is not None and e["registry"] is not None:
                self._reg[cid] = _Reg.from_dict(e["registry"])
        self.restore_cameras(
            {cid: (e["state"] if e is not None else None) for cid, e in entries.items()}, clock
        )

    @property
    def clock(self) -> float:
        return self._clock

    @staticmethod
    def _camera_state(c: _Camera) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "buffer": c.buf.to_dict(_encode_quality),
            "last_ts": _num(c.last_ts),
            "last_alive": _num(c.last_alive),
            "bad": {
                "ts": _num(c.bad_ts),
                "state": c.bad_state,
                "worker": c.bad_worker,
                "detail": c.bad_detail,
            },
            "frozen_ref": {
                "brightness": c.fz_b,
                "sharpness": c.fz_s,
                "signature": _pack(c.fz_sig),
                "since": c.fz_since,
                "frames": c.fz_n,
            },
            "baseline": {
                "frames": c.n_frames,
                "learned": c.n_learn,
                "learn_ts": _num(c.learn_ts),
                "brightness": c.base_b,
                "sharpness": c.base_s,
                "norm_sharpness": c.base_ns,
                "signature": _pack(c.sig),
                "signature_samples": c.sig_n,
                "readable_frames": c.n_sig,
                "next_signature_ts": _num(c.next_sig),
                "warmup": (
                    None
                    if c.warm is None
                    else {"brightness": c.warm[0], "sharpness": c.warm[1], "norm": c.warm[2]}
                ),
            },
            "episodes": {kind: ep.to_dict() for kind, ep in _episodes(c) if ep is not None},
            "view": {"signature": _pack(c.view), "samples": c.view_n},
        }

    def _load_camera(self, cid: str, d: dict[str, Any]) -> _Camera:
        _check_version(d.get("version"))
        c = _Camera(cid, self._reg.get(cid))
        c.buf = ReorderBuffer.from_dict(d["buffer"], _decode_quality)
        c.last_ts = _inf(d["last_ts"], -INF)
        c.last_alive = _inf(d["last_alive"], -INF)
        bad = d["bad"]
        c.bad_ts = _inf(bad["ts"], -INF)
        c.bad_state, c.bad_worker, c.bad_detail = bad["state"], bad["worker"], bad["detail"]
        fz = d["frozen_ref"]
        c.fz_b, c.fz_s, c.fz_since, c.fz_n = (
            fz["brightness"],
            fz["sharpness"],
            fz["since"],
            fz["frames"],
        )
        c.fz_sig = _unpack(fz["signature"]) or []
        bl = d["baseline"]
        c.n_frames, c.n_learn = bl["frames"], bl["learned"]
        c.learn_ts = _inf(bl["learn_ts"], -INF)
        c.base_b, c.base_s, c.base_ns = bl["brightness"], bl["sharpness"], bl["norm_sharpness"]
        c.sig = _unpack(bl["signature"])
        c.sig_n, c.n_sig = bl["signature_samples"], bl["readable_frames"]
        c.next_sig = _inf(bl["next_signature_ts"], -INF)
        w = bl["warmup"]
        c.warm = None if w is None else [w["brightness"], w["sharpness"], w["norm"]]
        eps = d["episodes"]
        for kind, attr in _EPISODE_ATTRS:
            if kind in eps:
                setattr(c, attr, _Episode.from_dict(eps[kind]))
        c.view, c.view_n = _unpack(d["view"]["signature"]), d["view"]["samples"]
        _update_suppress(c)
        return c

    # -- input -------------------------------------------------------------------
    def _camera(self, camera_id: str) -> _Camera:
        cam = self._cams[camera_id] = _Camera(camera_id, self._reg.get(camera_id))
        if cam.reg is not None and cam.reg.reference is not None:
            _use_reference(cam, self.params)
        return cam

    def _feed_frame(self, rec: FrameDetections) -> list[CameraEvent]:
        self._n_frames += 1
        cam = self._cams.get(rec.camera_id)
        if cam is None:
            cam = self._camera(rec.camera_id)
        if cam.reg is None:
            self._n_unregistered += 1
        ts = rec.frame_ts
        out: list[CameraEvent] = []
        if ts > self._clock and self.self_clocked:
            self._clock = ts
        if self._due and self._due[0][0] <= self._clock:
            # Before this frame counts as a sign of life: it may end a silence
            # that already was an outage.
            self._scan(out)
        q = rec.quality
        if q is None:
            # No quality measured (a stock DeepStream payload): a sign of life for
            # offline only; dark/blurred/frozen/angle_changed stay off for it.
            self._n_no_quality += 1
            if ts > cam.last_alive:
                cam.last_alive = ts
                if cam.offline is not None:
                    self._close_offline(cam, ts, out)  # frames are back
                elif cam.due == INF:
                    self._arm(cam, ts + self._offline_wait)
            return out
        buf = cam.buf
        newest = ts > buf.max_ts
        if newest and ts > buf.released_ts:
            # The common case, in order: append without the buffer's checks.
            buf.pending.append((ts, rec.seq, (q.brightness, q.sharpness, q.signature)))
            buf.max_ts = ts
        else:
            got = buf.offer(ts, rec.seq, (q.brightness, q.sharpness, q.signature))
            if got:
                if got == DUPLICATE:
                    self._n_dup += 1
                else:
                    self._n_late += 1
                return out
        if newest and ts > cam.last_alive:
            cam.last_alive = ts
            if cam.due == INF:
                self._arm(cam, ts + self._offline_wait)
        pending = buf.pending
        horizon = buf.max_ts - self.params.lateness_s
        while pending and pending[0][0] <= horizon:
            item = pending.pop(0)
            buf.released_ts, buf.released_seq = item[0], item[1]
            self._process(cam, item, out)
        return out

    def _feed_status(self, st: CameraStatus) -> list[CameraEvent]:
        self._n_statuses += 1
        cam = self._cams.get(st.camera_id)
        if cam is None:
            cam = self._camera(st.camera_id)
        ts = st.ts
        out: list[CameraEvent] = []
        if ts > self._clock and self.self_clocked:
            self._clock = ts
        if self._due and self._due[0][0] <= self._clock:
            self._scan(out)
        if st.state == "streaming":
            if ts > cam.last_alive:
                cam.last_alive = ts
                if cam.due == INF:
                    self._arm(cam, ts + self._offline_wait)
        elif ts > cam.bad_ts or (ts == cam.bad_ts and st.state > cam.bad_state):
            cam.bad_ts = ts
            cam.bad_state = st.state
            cam.bad_worker = st.worker_id
            cam.bad_detail = st.detail[:200]
        return out

    # -- offline -----------------------------------------------------------------
    def _arm(self, cam: _Camera, due: float) -> None:
        """Make sure the camera is looked at by ``due`` (an earlier entry stays)."""
        if due < cam.due:
            cam.due = due
            heapq.heappush(self._due, (due, cam.camera_id))

    def _scan(self, out: list[CameraEvent]) -> None:
        """Handle every deadline the clock has passed: O(log n) each."""
        heap = self._due
        clock = self._clock
        while heap and heap[0][0] <= clock:
            due, cid = heapq.heappop(heap)
            cam = self._cams.get(cid)
            if cam is None or cam.due != due:
                continue  # stale: the camera was re-armed or forgotten
            cam.due = INF
            self._check(cam, out)

    def _check(self, cam: _Camera, out: list[CameraEvent]) -> None:
        """A camera's deadline passed: open offline, flush, re-arm or forget it."""
        wait = self._offline_wait
        limit = self._clock - wait
        if cam.last_alive == -INF:
            return
        if cam.offline is None:
            if cam.last_alive > limit:
                self._arm(cam, cam.last_alive + wait)
                return
            self._flush(cam, out)
            if cam.offline is None and cam.last_alive <= limit:
                if cam.reg is not None and not cam.reg.active:
                    self._n_inactive += 1
                    self._expire_or_arm(cam)
                    return
                self._open_offline(cam, out)
        elif cam.buf.pending:
            if cam.buf.max_ts > limit:
                self._arm(cam, cam.buf.max_ts + wait)
                return
            self._flush(cam, out)
        self._expire_or_arm(cam)

    def _expire_or_arm(self, cam: _Camera) -> None:
        """A silent camera: after ``idle_expiry_s`` its learned state is dropped."""
        if self._clock < cam.last_alive + self._idle_expiry:
            self._arm(cam, cam.last_alive + self._idle_expiry)
            return
        self._n_expired += 1
        cid = cam.camera_id
        if cam.offline is None and not any(ep is not None and ep.open for _, ep in _episodes(cam)):
            del self._cams[cid]  # nothing open: forget it entirely
            return
        # Keep only what closes its open episodes when frames return; the
        # baselines are learned again (the view may have changed meanwhile).
        fresh = _Camera(cid, cam.reg)
        fresh.last_alive = fresh.last_ts = cam.last_alive
        fresh.buf.released_ts = cam.buf.released_ts
        fresh.buf.released_seq = cam.buf.released_seq
        fresh.buf.max_ts = cam.buf.max_ts
        fresh.bad_ts, fresh.bad_state = cam.bad_ts, cam.bad_state
        fresh.bad_worker, fresh.bad_detail = cam.bad_worker, cam.bad_detail
        fresh.offline = cam.offline
        for _kind, attr in _EPISODE_ATTRS[1:]:
            ep = getattr(cam, attr)
            if ep is not None and ep.open:
                setattr(fresh, attr, ep)
        _update_suppress(fresh)
        if fresh.reg is not None and fresh.reg.reference is not None:
            _use_reference(fresh, self.params)
        self._cams[cid] = fresh

    def _recompute_due(self) -> None:
        self._due = []
        wait = self._offline_wait
        for cam in self._cams.values():
            cam.due = INF
            if cam.last_alive != -INF:
                self._arm(cam, min(cam.last_alive, cam.buf.max_ts) + wait)

    def _flush(self, cam: _Camera, out: list[CameraEvent]) -> None:
        for item in cam.buf.drain():
            self._process(cam, item, out)

    def _open_offline(self, cam: _Camera, out: list[CameraEvent]) -> None:
        started = cam.last_alive
        ep = cam.offline = _Episode()
        ep.open = True
        ep.started_at = started
        ep.detected_at = started + self._offline_wait
        if cam.bad_ts >= started:
            what = f"worker {cam.bad_worker} reported {cam.bad_state}"
            if cam.bad_detail:
                what += f" ({cam.bad_detail})"
            ep.detail = (
                f"no frames or streaming status for {self.params.offline_after_s:.0f} s; "
                f"{what} {cam.bad_ts - started:.0f} s after the last sign of life"
            )
        else:
            ep.detail = (
                f"no frames or streaming status for {self.params.offline_after_s:.0f} s; "
                "silence: the worker reported nothing"
            )
        self._emit(cam, "offline", ep, "open", None, out)

    # -- the per-frame machine ---------------------------------------------------
    def _process(
        self,
        cam: _Camera,
        item: tuple[float, int, _Quality],
        out: list[CameraEvent],
    ) -> None:
        ts = item[0]
        b, s, sig = item[2]
        p = self.params
        if cam.offline is not None:
            self._close_offline(cam, ts, out)
        gap = ts - cam.last_ts
        cam.last_ts = ts
        cam.n_frames += 1

        # frozen: same picture as the run's reference frame?
        tol = p.frozen_tolerance
        d = b - cam.fz_b
        if (
            -tol <= d <= tol
            and abs(s - cam.fz_s) <= tol * cam.fz_s
            and b >= p.featureless_brightness
            and (sig == cam.fz_sig or math.dist(sig, cam.fz_sig) <= tol)
        ):
            cam.fz_n += 1
            if (
                cam.frozen is None
                and cam.fz_n >= p.frozen_min_frames
                and ts - cam.fz_since >= p.frozen_after_s
                and cam.n_frames >= p.warmup_frames
            ):
                self._open_frozen(cam, ts, b, s, out)
        else:
            if cam.frozen is not None:
                self._close(cam, "frozen", cam.frozen, ts, "the picture changed", out)
                cam.frozen = None
                _update_suppress(cam)
            cam.fz_b = b
            cam.fz_s = s
            cam.fz_sig = sig
            cam.fz_since = ts
            cam.fz_n = 1

        # opening hours (cached for the current UTC minute)
        if ts >= cam.h_until or ts < cam.h_from:
            self._hours(cam, ts)
        bb = b if b > 0.001 else 0.001
        ns = s / (bb * bb)
        if cam.n_learn >= p.warmup_frames:
            rb = b / cam.base_b
            rs = ns / cam.base_ns
            dark_ish = rb < p.dark_ratio
            blur_ish = rs < p.blur_ratio
            candidate = dark_ish or blur_ish
            if cam.in_hours:
                if candidate or cam.dark is not None or cam.blur is not None:
                    self._judge_exposure(cam, ts, gap, b, s, sig, rb, rs, dark_ish, out)
            elif cam.dark is not None or cam.blur is not None:
                self._out_of_hours(cam, ts, out)
            # Readable: not dark or blurred against the baseline, and lit at all
            # (outside hours the baseline says nothing about lights off).
            readable = not candidate and b >= p.readable_brightness
        else:
            candidate = False
            readable = b >= p.readable_brightness
        if readable and cam.frozen is None:
            # The view is learned and judged at any hour: the signature does
            # not depend on brightness, only on the frame being readable.
            cam.n_sig += 1
            if ts >= cam.next_sig:
                cam.next_sig = ts + p.signature_every_s
                self._sample_signature(cam, ts, sig, out)
        if candidate or not cam.in_hours or cam.frozen is not None:
            return
        # learn brightness and sharpness baselines: an upper quantile of the
        # warm-up frames, then a clamped EWMA
        n = cam.n_learn = cam.n_learn + 1
        warm = cam.warm
        if warm is not None:
            warm[0].append(bb)
            warm[1].append(s)
            warm[2].append(ns)
            if n >= p.warmup_frames:
                q = p.warmup_quantile
                cam.base_b = max(_quantile(warm[0], q), 1e-3)
                cam.base_s = max(_quantile(warm[1], q), 1e-9)
                cam.base_ns = max(_quantile(warm[2], q), 1e-9)
                cam.warm = None
        else:
            a = (ts - cam.learn_ts) / p.baseline_time_s
            if a < 1.0 / n:
                a = 1.0 / n
            elif a > 0.5:
                a = 0.5
            x = cam.base_b
            cam.base_b = x + a * (min(max(bb, 0.5 * x), 2.0 * x) - x)
            x = cam.base_s
            cam.base_s = x + a * (min(max(s, 0.5 * x), 2.0 * x) - x)
            x = cam.base_ns
            cam.base_ns = x + a * (min(max(ns, 0.5 * x), 2.0 * x) - x)
        cam.learn_ts = ts

    def _hours(self, cam: _Camera, ts: float) -> None:
        reg = cam.reg
        if reg is None or reg.tz is None or not reg.ranges:
            # Hours unknown: learn always, never judge dark/blurred.
            cam.h_from, cam.h_until = -INF, INF
            cam.in_hours = True
            cam.dark = cam.blur = None
            return
        m0 = math.floor(ts / 60.0) * 60.0
        cam.h_from, cam.h_until = m0, m0 + 60.0
        local = datetime.fromtimestamp(ts, reg.tz)
        minute = local.hour * 60 + local.minute
        margin = self.params.hours_margin_s / 60.0
        cam.in_hours = any(_within(minute, a, e, margin) for a, e in reg.ranges)

    def _judged(self, cam: _Camera) -> bool:
        reg = cam.reg
        return reg is not None and reg.tz is not None and bool(reg.ranges)

    def _judge_exposure(
        self,
        cam: _Camera,
        ts: float,
        gap: float,
        b: float,
        s: float,
        sig: list[float],
        rb: float,
        rs: float,
        dark_ish: bool,
        out: list[CameraEvent],
    ) -> None:
        if not self._judged(cam):
            return
        p = self.params
        dist = -1.0
        if dark_ish:
            structure_lost = False
            if cam.sig is not None and cam.sig_n >= p.signature_warmup_samples:
                dist = math.dist(sig, cam.sig)
                structure_lost = dist > p.angle_distance
            dark = structure_lost or rs < p.blur_ratio
            blurred = False
        else:
            dark = False
            blurred = rs < p.blur_ratio
        if dark or cam.dark is not None:
            if cam.dark is None:
                cam.dark = _Episode()
            if dist >= 0:
                why = f"structure distance {dist:.2f} from baseline (limit {p.angle_distance:.2f})"
            else:
                why = f"contrast-normalised sharpness {rs:.2f}x of baseline"
            detail = f"brightness {b:.3f} vs baseline {cam.base_b:.3f}; {why}"
            self._step(cam, "dark", cam.dark, ts, gap, dark, p.sustained_s, detail, out)
        if blurred or cam.blur is not None:
            if cam.blur is None:
                cam.blur = _Episode()
            detail = (
                f"sharpness {s:.1f} vs baseline {cam.base_s:.1f}; contrast-normalised "
                f"{rs:.2f}x of baseline (limit {p.blur_ratio:.2f}x)"
            )
            self._step(cam, "blurred", cam.blur, ts, gap, blurred, p.sustained_s, detail, out)

    def _out_of_hours(self, cam: _Camera, ts: float, out: list[CameraEvent]) -> None:
        for kind, attr in (("dark", "dark"), ("blurred", "blur")):
            ep = getattr(cam, attr)
            if ep is not None and ep.open:
                self._close(cam, kind, ep, ts, "opening hours ended", out)
            setattr(cam, attr, None)
        _update_suppress(cam)

    def _sample_signature(
        self, cam: _Camera, ts: float, sig: list[float], out: list[CameraEvent]
    ) -> None:
        p = self.params
        base = cam.sig
        if base is None:
            cam.sig = list(sig)
            cam.sig_n = 1
            return
        if cam.sig_n < p.signature_warmup_samples:
            cam.sig_n += 1
            cam.sig = _blend(base, sig, 1.0 / cam.sig_n)
            return
        dist = math.dist(sig, base)
        far = dist > p.angle_distance
        ep = cam.angle
        if far or ep is not None:
            if ep is None:
                ep = cam.angle = _Episode()
            gap = ts - ep.last if ep.since is not None else 0.0
            was_open = ep.open
            detail = (
                f"signature distance {dist:.2f} from baseline (limit {p.angle_distance:.2f}) "
                f"for {p.angle_sustained_s:.0f} s"
            )
            self._step(cam, "angle_changed", ep, ts, gap, far, p.angle_sustained_s, detail, out)
            if ep.open:
                if far:
                    if not was_open or cam.view is None:
                        cam.view, cam.view_n = list(sig), 1
                    else:
                        cam.view_n += 1
                        cam.view = _blend(cam.view, sig, max(1.0 / cam.view_n, 0.05))
                if ts - ep.detected_at >= p.rebaseline_after_s:
                    self._rebaseline(
                        cam, ts, f"not acknowledged within {p.rebaseline_after_s:.0f} s", out
                    )
                return
            if cam.angle is None:  # closed: the view came back
                cam.view = None
            elif ep.since is not None:
                return  # a run towards opening: do not learn from it
        if not far:
            cam.sig_n += 1
            a = max(p.signature_every_s / p.baseline_time_s, 1.0 / cam.sig_n)
            cam.sig = _blend(base, sig, a)

    def _rebaseline(self, cam: _Camera, ts: float, why: str, out: list[CameraEvent]) -> None:
        ep = cam.angle
        assert ep is not None
        if cam.view is not None:
            cam.sig = _normalised(cam.view)
        self._close(cam, "angle_changed", ep, ts, f"new view accepted as baseline ({why})", out)
        cam.angle = None
        cam.view = None
        cam.view_n = 0
        _update_suppress(cam)

    def _step(
        self,
        cam: _Camera,
        kind: str,
        ep: _Episode,
        ts: float,
        gap: float,
        candidate: bool,
        sustained_s: float,
        detail: str,
        out: list[CameraEvent],
    ) -> None:
        """One qualifying observation for a sustained episode (dark, blurred, angle)."""
        p = self.params
        if not ep.open:
            if candidate:
                if ep.since is None or ts - ep.last > p.run_gap_s or gap > p.run_gap_s:
                    ep.since = ts
                ep.last = ts
                if ts - ep.since >= sustained_s:
                    if cam.reg is not None and not cam.reg.active:
                        self._n_inactive += 1
                        return
                    ep.open = True
                    ep.started_at = ep.since
                    ep.detected_at = ts
                    ep.detail = detail
                    ep.since = None
                    _update_suppress(cam)
                    self._emit(cam, kind, ep, "open", None, out)
            else:
                _clear(cam, kind)
            return
        if candidate:
            ep.since = None
            return
        if ep.since is None or ts - ep.last > p.run_gap_s or gap > p.run_gap_s:
            ep.since = ts
        ep.last = ts
        if ts - ep.since >= p.recover_s:
            self._close(cam, kind, ep, ep.since, "back to normal", out)
            _clear(cam, kind)
            _update_suppress(cam)

    def _open_frozen(self, cam: _Camera, ts: float, b: float, s: float, out) -> None:
        ep = cam.frozen = _Episode()
        ep.open = True
        ep.started_at = cam.fz_since
        ep.detected_at = ts
        ep.detail = (
            f"picture unchanged for {ts - cam.fz_since:.0f} s over {cam.fz_n} frames "
            f"(brightness {b:.3f}, sharpness {s:.1f}, signature the same)"
        )
        if cam.reg is not None and not cam.reg.active:
            self._n_inactive += 1
            cam.frozen = None
            return
        _update_suppress(cam)
        self._emit(cam, "frozen", ep, "open", None, out)

    def _close_offline(self, cam: _Camera, ts: float, out: list[CameraEvent]) -> None:
        ep = cam.offline
        assert ep is not None
        ended = max(ts, ep.started_at)
        why = f"frames returned after {ended - ep.started_at:.0f} s"
        self._close(cam, "offline", ep, ended, why, out)
        cam.offline = None
        self._arm(cam, cam.last_alive + self._offline_wait)

    # -- output ------------------------------------------------------------------
    def _close(self, cam: _Camera, kind: str, ep: _Episode, ended_at: float, why: str, out) -> None:
        ep.detail = f"{ep.detail}; closed: {why}"
        self._emit(cam, kind, ep, "closed", ended_at, out)
        ep.open = False

    def _emit(
        self,
        cam: _Camera,
        kind: str,
        ep: _Episode,
        state: str,
        ended_at: float | None,
        out: list[CameraEvent],
    ) -> None:
        if state == "open":
            self._n_opened += 1
        else:
            self._n_closed += 1
        out.append(
            CameraEvent(
                v=SCHEMA_VERSION,
                event_id=camera_event_id(cam.camera_id, kind, ep.started_at),
                camera_id=cam.camera_id,
                operator_id=cam.reg.operator_id if cam.reg is not None else None,
                kind=kind,
                state=state,
                started_at=ep.started_at,
                detected_at=ep.detected_at,
                ended_at=ended_at,
                detail=ep.detail,
            )
        )


_EPISODE_ATTRS = (
    ("offline", "offline"),
    ("frozen", "frozen"),
    ("dark", "dark"),
    ("blurred", "blur"),
    ("angle_changed", "angle"),
)
_KIND_ATTR = dict(_EPISODE_ATTRS)


def _episodes(cam: _Camera) -> list[tuple[str, _Episode | None]]:
    return [(kind, getattr(cam, attr)) for kind, attr in _EPISODE_ATTRS]


def _clear(cam: _Camera, kind: str) -> None:
    setattr(cam, _KIND_ATTR[kind], None)


def _update_suppress(cam: _Camera) -> None:
    """Cache the suppressing kind (first open of SUPPRESSING_KINDS) for suppressing()."""
    for kind in SUPPRESSING_KINDS:
        ep = getattr(cam, _KIND_ATTR[kind])
        if ep is not None and ep.open:
            cam.suppress = kind
            return
    cam.suppress = None


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _within(minute: int, start: int, end: int, margin: float) -> bool:
    """Is ``minute`` of the local day inside [start + margin, end - margin)?
    ``end <= start`` wraps past midnight; ``start == end`` is all day."""
    if start == end or end - start >= 1440:
        return True
    if end < start:
        end += 1440
        if minute < start:
            minute += 1440
    return start + margin <= minute < end - margin


def _blend(base: list[float], sig: list[float], a: float) -> list[float]:
    return _normalised([x + a * (y - x) for x, y in zip(base, sig, strict=True)])


def _normalised(v: list[float]) -> list[float]:
    norm = math.hypot(*v)
    if norm <= 0.0:
        return list(v)
    return [x / norm for x in v]


def _pack(sig: list[float] | None) -> str | None:
    """A signature as base64 of 64 little-endian doubles: exact, half the JSON text."""
    if not sig:
        return None
    return base64.b64encode(_SIG.pack(*sig)).decode("ascii")


def _unpack(text: str | None) -> list[float] | None:
    if text is None:
        return None
    return list(_SIG.unpack(base64.b64decode(text)))


def _quantile(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


def _use_reference(cam: _Camera, p: HealthParams) -> None:
    """The registry's reference view (set at installation) is the signature
    baseline from the first frame: a camera turned before we ever saw it is caught."""
    assert cam.reg is not None and cam.reg.reference is not None
    cam.sig = list(cam.reg.reference)
    cam.sig_n = p.signature_warmup_samples


def _check_version(version: Any) -> None:
    if version != SNAPSHOT_VERSION:
        raise ValueError(
            f"camera-health snapshot version {version!r}: this engine reads version "
            f"{SNAPSHOT_VERSION} only; start the camera app without the old checkpoint"
        )


def _encode_quality(q: _Quality) -> dict[str, Any]:
    return {"brightness": q[0], "sharpness": q[1], "signature": _pack(q[2])}


def _decode_quality(d: dict[str, Any]) -> _Quality:
    return (d["brightness"], d["sharpness"], _unpack(d["signature"]) or [])


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _inf(x: float | None, default: float) -> float:
    return default if x is None else x


__all__ = [
    "SNAPSHOT_VERSION",
    "SUPPRESSING_KINDS",
    "CameraHealthEngine",
    "HealthParams",
    "camera_event_id",
]
