"""The evidence arithmetic of a (camera, class) track: motion, the same object,
weighted hits. Pure functions of a track's recent hits and its ClassParams."""

from __future__ import annotations

import math
from typing import Any

from stream_apps.engines.violations.params import ClassParams


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
