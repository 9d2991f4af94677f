"""Offline: silence decided on the engine's clock, and idle cameras expired.

- **offline**: no frame and no ``streaming`` status for ``offline_after_s``.
  Decided on the engine's clock (the newest event time fed, or ``now`` given
  to ``advance``) once it is ``offline_after_s + lateness_s`` past the last
  sign of life, so a sign of life that is still allowed to arrive late cannot
  be missed. ``started_at`` is the last sign of life; ``detected_at`` is that
  deadline (``started_at + offline_after_s + lateness_s``), the earliest clock
  at which the silence was decidable, so the answer does not depend on how
  often the shell calls ``advance``. Closed by the first frame that returns.
  Non-streaming statuses only make ``detail`` precise.

Deadlines live in a heap of ``(due, camera_id)`` with at most one live entry
per camera; a camera silent for ``idle_expiry_s`` is dropped or reduced to
what closes its open episodes.
"""

from __future__ import annotations

import heapq

from schemas.records import CameraEvent
from stream_apps.engines.camera_health.state import (
    _EPISODE_ATTRS,
    INF,
    _Camera,
    _Episode,
    _episodes,
    _update_suppress,
)
from stream_apps.engines.camera_health.view import _use_reference


class OfflineMixin:
    """Offline detection and camera expiry (part of ``CameraHealthEngine``)."""

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

    def _close_offline(self, cam: _Camera, ts: float, out: list[CameraEvent]) -> None:
        ep = cam.offline
        assert ep is not None
        ended = max(ts, ep.started_at)
        why = f"frames returned after {ended - ep.started_at:.0f} s"
        self._close(cam, "offline", ep, ended, why, out)
        cam.offline = None
        self._arm(cam, cam.last_alive + self._offline_wait)
