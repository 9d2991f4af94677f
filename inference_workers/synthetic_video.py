"""Synthetic H.264 clips for tests and benchmarks (PyAV, libx264 or the built-in encoder).

Each frame shows a moving bright square on a gradient, so consecutive frames
differ and key frames fall exactly every `gop` frames.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xx * 255 // max(width - 1, 1)).astype(np.uint8)
    img[..., 1] = (yy * 255 // max(height - 1, 1)).astype(np.uint8)
    img[..., 2] = 96
    s = max(4, min(width, height) // 6)
    x = (i * 7) % max(width - s, 1)
    y = (i * 3) % max(height - s, 1)
    img[y : y + s, x : x + s] = 255
    return img


def write_h264(
    path: str | Path,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    gop: int = 25,
    width: int = 320,
    height: int = 240,
    container_format: str | None = None,
) -> Path:
    """Write an H.264 clip with a fixed GOP (no B-frames, like most IP cameras)."""
    import av

    path = Path(path)
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, fps)
        stream.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "bf": "0",
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "g": str(gop),
        }
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
