"""The camera-health engine: input, reorder buffer, the per-frame machine, snapshots.

Inputs are ``bk.detections.v1`` frames (only their ``quality`` block is read)
and ``bk.camera-status.v1``; outputs are ``CameraEvent`` records, one ``open``
and one ``closed`` per episode. Everything runs on event time.

Frames go through a per-camera reorder buffer of ``lateness_s`` (duplicates
by ``(seq, frame_ts)`` and frames older than what was released are dropped
and counted), so the contract's disorder does not change the answer. Event ids
hash camera, kind and ``started_at`` (``events.py``).

The detectors are mixins (offline, frozen, exposure, view, events); the hot
per-frame path (``_feed_frame``, ``_process``) stays here in one function.
"""

from __future__ import annotations

import math
from typing import Any

from schemas.records import CameraEvent, CameraStatus, FrameDetections, RegistryEntry
from stream_apps.engines.camera_health.events import EpisodeMixin, camera_event_id
from stream_apps.engines.camera_health.exposure import ExposureMixin
from stream_apps.engines.camera_health.frozen import FrozenMixin
from stream_apps.engines.camera_health.offline import OfflineMixin
from stream_apps.engines.camera_health.params import INF, HealthParams
from stream_apps.engines.camera_health.state import (
    SNAPSHOT_VERSION,
    _Camera,
    _check_version,
    _episodes,
    _Quality,
    _Reg,
    _update_suppress,
    decode_camera,
    encode_camera,
)
from stream_apps.engines.camera_health.view import ViewMixin, _quantile, _use_reference
from stream_apps.engines.infinity import finite_or_none, inf_from_none
from stream_apps.engines.reorder import DUPLICATE


class CameraHealthEngine(OfflineMixin, FrozenMixin, ExposureMixin, ViewMixin, EpisodeMixin):
    """Turns frame quality and stream status into camera-health episodes (see the package doc).

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
            "clock": finite_or_none(self._clock),
            "registry": {cid: r.to_dict() for cid, r in self._reg.items()},
            "cameras": {cid: self._camera_state(c) for cid, c in self._cams.items()},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load state written by ``snapshot``; records it covers that are fed
        again are ignored (duplicates or older than what was released)."""
        _check_version(snapshot.get("version"))
        for cid, r in snapshot.get("registry", {}).items():
            self._reg[cid] = _Reg.from_dict(r)
        self.restore_cameras(snapshot["cameras"], inf_from_none(snapshot.get("clock")))

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

    _camera_state = staticmethod(encode_camera)

    def _load_camera(self, cid: str, d: dict[str, Any]) -> _Camera:
        return decode_camera(cid, d, self._reg.get(cid))

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
                cam.base_b = base_b = max(_quantile(warm[0], q), 1e-3)
                # Sharpness only from frames lit like the baseline: a dark frame's
                # sharpness / brightness^2 is many times the normal picture's, so
                # a cold start dark for part of the warm-up would set the
                # contrast-normalised baseline far too high (and every normal
                # frame after it would read as blurred).
                lit = p.dark_ratio * base_b
                keep = [i for i, x in enumerate(warm[0]) if x >= lit]
                cam.base_s = max(_quantile([warm[1][i] for i in keep], q), 1e-9)
                cam.base_ns = max(_quantile([warm[2][i] for i in keep], q), 1e-9)
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
