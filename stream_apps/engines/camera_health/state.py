"""Per-camera state: registry entry, episodes, the camera record, and their snapshot form.

Everything here is plain data with ``__slots__``; the detectors (offline,
frozen, exposure, view) mutate it. ``encode_camera``/``decode_camera`` write
and read one camera's checkpoint (``SNAPSHOT_VERSION``, checked on read).
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any
from zoneinfo import ZoneInfo

from stream_apps.engines.base import check_snapshot_version
from stream_apps.engines.camera_health.params import INF, SUPPRESSING_KINDS
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.reorder import ReorderBuffer

_SIG = struct.Struct("<64d")
_Quality = tuple[float, float, list[float]]  # brightness, sharpness, signature
SNAPSHOT_VERSION = 2
"""Version of what ``snapshot``/``snapshot_camera`` write (named fields throughout)."""


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


def _check_version(version: Any) -> None:
    check_snapshot_version("camera-health", version, SNAPSHOT_VERSION, "camera")


def _encode_quality(q: _Quality) -> dict[str, Any]:
    return {"brightness": q[0], "sharpness": q[1], "signature": _pack(q[2])}


def _decode_quality(d: dict[str, Any]) -> _Quality:
    return (d["brightness"], d["sharpness"], _unpack(d["signature"]) or [])


def encode_camera(c: _Camera) -> dict[str, Any]:
    """One camera's state as JSON (``CameraHealthEngine._camera_state`` form)."""
    return {
        "version": SNAPSHOT_VERSION,
        "buffer": c.buf.to_dict(_encode_quality),
        "last_ts": finite_or_none(c.last_ts),
        "last_alive": finite_or_none(c.last_alive),
        "bad": {
            "ts": finite_or_none(c.bad_ts),
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
            "learn_ts": finite_or_none(c.learn_ts),
            "brightness": c.base_b,
            "sharpness": c.base_s,
            "norm_sharpness": c.base_ns,
            "signature": _pack(c.sig),
            "signature_samples": c.sig_n,
            "readable_frames": c.n_sig,
            "next_signature_ts": finite_or_none(c.next_sig),
            "warmup": (
                None
                if c.warm is None
                else {"brightness": c.warm[0], "sharpness": c.warm[1], "norm": c.warm[2]}
            ),
        },
        "episodes": {kind: ep.to_dict() for kind, ep in _episodes(c) if ep is not None},
        "view": {"signature": _pack(c.view), "samples": c.view_n},
    }


def decode_camera(cid: str, d: dict[str, Any], reg: _Reg | None) -> _Camera:
    """What ``encode_camera`` wrote, back as a camera (its version checked)."""
    _check_version(d.get("version"))
    c = _Camera(cid, reg)
    c.buf = ReorderBuffer.from_dict(d["buffer"], _decode_quality)
    c.last_ts = inf_from_none(d["last_ts"])
    c.last_alive = inf_from_none(d["last_alive"])
    bad = d["bad"]
    c.bad_ts = inf_from_none(bad["ts"])
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
    c.learn_ts = inf_from_none(bl["learn_ts"])
    c.base_b, c.base_s, c.base_ns = bl["brightness"], bl["sharpness"], bl["norm_sharpness"]
    c.sig = _unpack(bl["signature"])
    c.sig_n, c.n_sig = bl["signature_samples"], bl["readable_frames"]
    c.next_sig = inf_from_none(bl["next_signature_ts"])
    w = bl["warmup"]
    c.warm = None if w is None else [w["brightness"], w["sharpness"], w["norm"]]
    eps = d["episodes"]
    for kind, attr in _EPISODE_ATTRS:
        if kind in eps:
            setattr(c, attr, _Episode.from_dict(eps[kind]))
    c.view, c.view_n = _unpack(d["view"]["signature"]), d["view"]["samples"]
    _update_suppress(c)
    return c
