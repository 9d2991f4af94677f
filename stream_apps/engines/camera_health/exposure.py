"""Exposure: dark and blurred, judged within opening hours.

- **dark**: brightness below ``dark_ratio`` of the camera's baseline *and* the
  structure lost (signature farther than ``angle_distance`` from its baseline,
  or contrast-normalised sharpness below ``blur_ratio``), sustained, within
  opening hours. An IR switch or dimmed lights change brightness but keep the
  structure, so they are not dark.
- **blurred**: contrast-normalised sharpness (sharpness / brightness^2, which
  does not move when only the exposure does) below ``blur_ratio`` of its
  baseline, sustained, within opening hours.
"""

from __future__ import annotations

import math
from datetime import datetime

from schemas.records import CameraEvent
from stream_apps.engines.camera_health.params import INF
from stream_apps.engines.camera_health.state import _Camera, _Episode, _update_suppress


class ExposureMixin:
    """Opening hours, dark and blurred (part of ``CameraHealthEngine``)."""

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
