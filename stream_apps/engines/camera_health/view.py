"""View: the signature baseline and angle_changed; baseline helpers.

- **angle_changed**: the signature farther than ``angle_distance`` from the
  baseline on every readable sample for ``angle_sustained_s``. Acknowledging
  it, or ``rebaseline_after_s`` without acknowledgement, makes the new view the
  baseline and closes it.

Baselines are learned online per camera (clamped EWMA, candidate frames
excluded) after ``warmup_frames``: brightness and sharpness in
``CameraHealthEngine._process``, the signature here; ``_quantile`` starts the
brightness/sharpness baselines from the warm-up frames and ``_use_reference``
starts the signature from the registry's reference view.
"""

from __future__ import annotations

import math

from schemas.records import CameraEvent
from stream_apps.engines.camera_health.params import HealthParams
from stream_apps.engines.camera_health.state import _Camera, _Episode, _normalised, _update_suppress


class ViewMixin:
    """Signature sampling, angle changes and rebaselining (part of ``CameraHealthEngine``)."""

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


def _blend(base: list[float], sig: list[float], a: float) -> list[float]:
    return _normalised([x + a * (y - x) for x, y in zip(base, sig, strict=True)])


def _quantile(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


def _use_reference(cam: _Camera, p: HealthParams) -> None:
    """The registry's reference view (set at installation) is the signature
    baseline from the first frame: a camera turned before we ever saw it is caught."""
    assert cam.reg is not None and cam.reg.reference is not None
    cam.sig = list(cam.reg.reference)
    cam.sig_n = p.signature_warmup_samples
