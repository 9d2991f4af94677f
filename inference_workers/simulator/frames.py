"""The frame model: quality (brightness, sharpness, view signature) under the
health scenarios, and the detector's detections per frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from inference_workers.simulator.config import FleetConfig
from inference_workers.simulator.plan import _CameraPlan
from schemas.records import Detection

_CHUNK = 512
_SIG_NOISE = 0.02  # per-cell noise of the signature: correlation with the view ~0.987


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _base_view(nrng: np.random.Generator) -> np.ndarray:
    """An 8x8 grid of gradient magnitude: counters and shelves give strong rows/columns."""
    g = nrng.gamma(2.0, 1.0, (8, 8))
    for _ in range(nrng.integers(1, 4)):
        g[nrng.integers(0, 8), :] += nrng.uniform(1.5, 4.0)
    for _ in range(nrng.integers(0, 3)):
        g[:, nrng.integers(0, 8)] += nrng.uniform(1.0, 3.0)
    return _unit(g.reshape(64))


def _detections_for(
    cam: _CameraPlan, config: FleetConfig, rng: random.Random
) -> dict[int, list[Detection]]:
    """Per-frame detections: flickering true episodes plus false positives."""
    out: dict[int, list[Detection]] = {}
    det = config.detector
    fps = config.fps
    ph = config.phenomena
    for cls, i0, i1 in cam.episodes:
        prof = config.classes[cls]
        n_ep = i1 - i0 + 1
        hit_rate = prof.hit_rate
        if cls in ph.small_classes:
            hit_rate = rng.uniform(*ph.small_hit_rate)
        hand = rng.uniform(*ph.hand_jitter) if cls in ph.held_classes else 0.0
        p_vis = min(det.visible_hit_prob, hit_rate)
        f_vis = min(1.0, hit_rate / p_vis) if p_vis > 0 else 0.0
        max_occ = max(2, int(round(prof.max_miss_run_s * fps)))
        mean_occ = (2 + max_occ) / 2
        # Mean visible run V with V / (V + mean_occ) = f_vis.
        p_occ = 0.0 if f_vis >= 1.0 else (1.0 - f_vis) / (f_vis * mean_occ)
        hits: list[int] = []
        occluded = 0 if rng.random() < f_vis else rng.randint(2, max_occ)
        for i in range(i0, i1 + 1):
            if occluded > 0:
                occluded -= 1
                continue
            if rng.random() < p_occ:
                occluded = rng.randint(2, max_occ) - 1
                continue
            if rng.random() < p_vis:
                hits.append(i)
        need = min(det.min_hits_per_episode, n_ep)
        if len(hits) < need:
            extra = [i for i in range(i0, i1 + 1) if i not in hits]
            hits = sorted(hits + rng.sample(extra, need - len(hits)))
        hit_set = set(hits)
        mean = rng.uniform(*prof.score_mean)
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        cx, cy = (
            rng.uniform(w / 2 + 0.02, 1 - w / 2 - 0.02),
            rng.uniform(h / 2 + 0.02, 0.95 - h / 2),
        )
        vx = vy = 0.0
        err = 0.0
        for i in range(i0, i1 + 1):
            # The object moves whether or not the detector sees it.
            if prof.box_speed > 0:
                vx = 0.85 * vx + rng.gauss(0, prof.box_speed * 0.5 / fps)
                vy = 0.85 * vy + rng.gauss(0, prof.box_speed * 0.3 / fps)
                cx += vx / fps
                cy += vy / fps
                if not w / 2 <= cx <= 1 - w / 2:
                    vx = -vx
                    cx = min(max(cx, w / 2), 1 - w / 2)
                if not h / 2 <= cy <= 1 - h / 2:
                    vy = -vy
                    cy = min(max(cy, h / 2), 1 - h / 2)
            err = 0.5 * err + rng.gauss(0, prof.score_sd)
            if i not in hit_set:
                continue
            score = round(min(0.97, max(0.30, mean + err)), 3)
            jx, jy = rng.gauss(0, 0.004), rng.gauss(0, 0.004)
            if hand:
                # Held in a hand: the object jitters on every frame.
                jx += rng.uniform(-hand / 2, hand / 2)
                jy += rng.uniform(-hand / 2, hand / 2)
            box = _box(cx + jx, cy + jy, w * rng.uniform(0.95, 1.05), h * rng.uniform(0.95, 1.05))
            out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    for cls, i, score in cam.false_positives:
        prof = config.classes[cls]
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        box = _box(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), w, h)
        out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    wander = ph.lookalike_wander
    for cls, i0, i1, p in cam.lookalikes:
        # A static object: the box centre stays within +-wander/2 (detector jitter
        # and a slow drift of the box edges), the score moderate.
        prof = config.classes[cls]
        w = rng.uniform(*prof.box_size)
        h = min(0.9, w * rng.uniform(0.8, 1.6))
        dx = dy = 0.0
        err = 0.0
        for i in range(i0, min(i1, len(cam.frame_ts))):
            dx = min(wander / 4, max(-wander / 4, dx + rng.gauss(0, wander / 20)))
            dy = min(wander / 4, max(-wander / 4, dy + rng.gauss(0, wander / 20)))
            err = 0.6 * err + rng.gauss(0, 0.04)
            if rng.random() >= p["hit_rate"]:
                continue
            jx = rng.uniform(-wander / 4, wander / 4)
            jy = rng.uniform(-wander / 4, wander / 4)
            lo, hi = config.phenomena.lookalike_score
            score = round(min(hi, max(lo, p["score"] + err)), 3)
            box = _box(p["cx"] + dx + jx, p["cy"] + dy + jy, w, h)
            out.setdefault(i, []).append(Detection(cls=cls, score=score, box=box))
    for s in cam.scenarios:
        fp = s.params.get("false_positive")
        if fp is not None:
            # The last live frame holds the false detection; the frozen frames repeat it.
            cls, score = fp
            w = rng.uniform(*config.classes[cls].box_size)
            box = _box(rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), w, w)
            out[s.i0 - 1] = [Detection(cls=cls, score=score, box=box)]
    return out


def _box(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float]:
    x1 = min(max(cx - w / 2, 0.0), 1.0)
    y1 = min(max(cy - h / 2, 0.0), 1.0)
    x2 = min(max(cx + w / 2, x1), 1.0)
    y2 = min(max(cy + h / 2, y1), 1.0)
    return (round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4))


@dataclass
class _FrameModel:
    """Per-frame quality inputs for one camera after the health scenarios are applied."""

    emit: np.ndarray  # a frame is published
    frozen: np.ndarray  # repeats the previous frame's quality exactly
    brightness: np.ndarray
    sharpness: np.ndarray
    view: np.ndarray  # index into views
    mix: np.ndarray  # weight of the view in the signature (structure lost in the dark)
    noise: np.ndarray  # signature noise sd
    views: np.ndarray
    crossings: list[tuple[int, int, float]]


def _apply_health(cam: _CameraPlan, config: FleetConfig, nrng: np.random.Generator) -> _FrameModel:
    n = len(cam.frame_ts)
    ts = np.asarray(cam.frame_ts)
    t = ts - config.start_ts
    b0 = cam.brightness0
    brightness = (
        b0
        + 0.015 * np.sin(2 * np.pi * t / 1800.0 + nrng.uniform(0, 2 * np.pi))
        + nrng.normal(0, 0.008, n)
    )
    sharpness = cam.sharpness0 * np.exp(nrng.normal(0, 0.08, n))
    emit = np.ones(n, dtype=bool)
    frozen = np.zeros(n, dtype=bool)
    view = np.zeros(n, dtype=np.int64)
    mix = np.ones(n)
    noise = np.full(n, _SIG_NOISE)
    views = [_base_view(nrng)]
    crossings: list[tuple[int, int, float]] = []
    for s in cam.scenarios:
        sl = slice(s.i0, s.i1)
        m = s.i1 - s.i0
        p = s.params
        if s.name in ("offline", "blip"):
            emit[sl] = False  # nothing: no frames, no streaming status
        elif s.name == "frozen":
            frozen[sl] = True
        elif s.name in ("blurred", "steam"):
            sharpness[sl] *= p["sharp"]
            noise[sl] = _SIG_NOISE * 1.5
        elif s.name == "dark":
            brightness[sl] = b0 * p["factor"] * np.exp(nrng.normal(0, 0.05, m))
            sharpness[sl] *= 0.6
            mix[sl], noise[sl] = 0.5, 0.12  # sensor noise swamps the structure
        elif s.name == "lights_off":
            brightness[sl] = p["level"] + nrng.normal(0, 0.003, m)
            sharpness[sl] *= 0.5
            mix[sl], noise[sl] = 0.5, 0.12
        elif s.name == "ir_switch":
            # The IR cut filter flips: brightness jumps, the structure stays.
            brightness[sl] = b0 * p["factor"] + nrng.normal(0, 0.008, m)
            sharpness[sl] *= p["sharp"]
        elif s.name == "angle_change":
            new = _unit(p["view_mix"] * views[-1] + _base_view(nrng))
            views.append(new)
            view[s.i0 :] = len(views) - 1
            brightness[s.i0 :] += nrng.uniform(-0.08, 0.08)
            sharpness[s.i0 :] *= nrng.uniform(0.7, 1.3)
        elif s.name == "people_crossing":
            crossings.append((s.i0, s.i1, p["amp"]))
    np.clip(brightness, 0.0, 1.0, out=brightness)
    return _FrameModel(
        emit, frozen, brightness.round(4), sharpness.round(2), view, mix, noise,
        np.asarray(views), crossings,
    )  # fmt: skip


def _signatures(fm: _FrameModel, i0: int, i1: int, nrng: np.random.Generator) -> list[list[float]]:
    m = i1 - i0
    raw = fm.views[fm.view[i0:i1]] * fm.mix[i0:i1, None]
    raw = raw + nrng.standard_normal((m, 64)) * fm.noise[i0:i1, None]
    for c0, c1, amp in fm.crossings:
        if c1 <= i0 or c0 >= i1:
            continue
        for i in range(max(c0, i0), min(c1, i1)):
            # A person (2x3 cells) walks across the grid, adding gradients where they are.
            col = int((i - c0) / max(1, c1 - c0) * 7)
            row = 3 + (c0 % 3)
            raw[i - i0].reshape(8, 8)[row : row + 3, col : col + 2] += amp
    return _unit(raw).round(5).tolist()
