"""Frozen: the same picture over and over.

- **frozen**: consecutive frames whose brightness, sharpness and signature are
  the same within ``frozen_tolerance`` for ``frozen_after_s``.

The comparison with the run's reference frame is inline in
``CameraHealthEngine._process`` (hot path); opening lives here.
"""

from __future__ import annotations

from stream_apps.engines.camera_health.state import _Camera, _Episode, _update_suppress


class FrozenMixin:
    """Frozen episodes (part of ``CameraHealthEngine``)."""

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
