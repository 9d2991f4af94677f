"""Image-quality measures of the `bk.detections.v1` `quality` object.

The stream processors compare each camera against its own baseline, so what
matters is that a measure is computed the same way every time, on every
device. The definitions, shared by the batched torch code (CPU or CUDA, the
same ops) and the numpy reference:

- grey = 0.299 R + 0.587 G + 0.114 B (BT.601), on RGB in 0..1;
- `brightness` = mean grey, 0..1;
- `sharpness` = variance of the 3x3 Laplacian [[0,1,0],[1,-4,1],[0,1,0]] of
  grey scaled to 0..255 (the OpenCV `Laplacian(...).var()` convention, so the
  usual "below 100 is blurred" intuition holds), over the valid region
  (no padding, so the frame border adds no false edges);
- `signature` = the 3x3 Sobel gradient magnitude of grey (valid region),
  averaged over an 8x8 grid of cells (cell i spans
  [floor(i*H/8), ceil((i+1)*H/8)), as adaptive average pooling does), made
  zero-mean and L2-normalised: 64 floats that describe the static structure
  of the scene. An additive brightness change leaves gradients unchanged and
  a gain change only scales them, which the normalisation removes, so an IR
  day/night switch barely moves it. A flat frame gives all zeros.

Frames smaller than 3x3 have no Laplacian; they get sharpness 0 and a zero
signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

LUMA = (0.299, 0.587, 0.114)
GRID = 8
SIGNATURE_LEN = GRID * GRID
_LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_EPS = 1e-12


class QualityBatch(NamedTuple):
    """Per-frame measures of a batch of N frames."""

    brightness: torch.Tensor  # [N]
    sharpness: torch.Tensor  # [N]
    signature: torch.Tensor  # [N, 64]

    def rows(self) -> list[tuple[float, float, list[float]]]:
        """(brightness, sharpness, signature) per frame as plain floats, one device sync."""
        b = self.brightness.double().cpu().tolist()
        s = self.sharpness.double().cpu().tolist()
        g = self.signature.double().cpu().tolist()
        return [
            (min(max(bi, 0.0), 1.0), max(si, 0.0), gi) for bi, si, gi in zip(b, s, g, strict=True)
        ]


def grey_torch(frames: torch.Tensor) -> torch.Tensor:
    """[N,3,H,W] RGB (float 0..1, or uint8 0..255) -> [N,1,H,W] float32 grey in 0..1."""
    import torch

    x = frames.float()
    if frames.dtype == torch.uint8:
        x = x / 255.0
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def quality_torch(frames: torch.Tensor) -> QualityBatch:
    """Brightness, sharpness and signature of a batch [N,3,H,W] of same-size RGB frames.

    Works the same on CPU and CUDA; all frames are measured in a handful of
    batched kernels and nothing is copied to the host.
    """
    import torch
    import torch.nn.functional as F

    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected [N,3,H,W] RGB frames, got {tuple(frames.shape)}")
    grey = grey_torch(frames)
    n, _, h, w = grey.shape
    brightness = grey.mean(dim=(1, 2, 3))
    if h < 3 or w < 3:
        zeros = grey.new_zeros(n)
        return QualityBatch(brightness, zeros, grey.new_zeros(n, SIGNATURE_LEN))
    g = grey[:, 0] * 255.0  # [N,H,W]
    # Stencils as shifted slices rather than conv2d: memory-bound adds that are fast on
    # CPU and GPU alike (a 1-channel 3x3 conv2d is a poor fit for both).
    c = g[:, 1:-1, 1:-1]
    lap = g[:, :-2, 1:-1] + g[:, 2:, 1:-1] + g[:, 1:-1, :-2] + g[:, 1:-1, 2:] - 4.0 * c
    sharpness = lap.flatten(1).var(dim=1, unbiased=False)
    dx = g[:, :, 2:] - g[:, :, :-2]  # Sobel = [1,2,1] smoothing of a central difference
    gx = dx[:, :-2] + 2.0 * dx[:, 1:-1] + dx[:, 2:]
    dy = g[:, 2:, :] - g[:, :-2, :]
    gy = dy[:, :, :-2] + 2.0 * dy[:, :, 1:-1] + dy[:, :, 2:]
    mag = torch.sqrt(gx * gx + gy * gy).unsqueeze(1)
    cells = F.adaptive_avg_pool2d(mag, GRID).flatten(1)  # [N,64]
    cells = cells - cells.mean(dim=1, keepdim=True)
    norm = cells.norm(dim=1, keepdim=True)
    signature = torch.where(norm > 1e-6, cells / norm.clamp_min(_EPS), torch.zeros_like(cells))
    return QualityBatch(brightness, sharpness, signature)


# --- numpy reference -------------------------------------------------------------------------


def grey_numpy(image: np.ndarray) -> np.ndarray:
    """[H,W,3] RGB (uint8 or float 0..1) -> [H,W] float64 grey in 0..1."""
    x = image.astype(np.float64)
    if image.dtype == np.uint8:
        x /= 255.0
    return x @ np.asarray(LUMA, dtype=np.float64)


def _conv3_valid(img: np.ndarray, k: tuple[tuple[float, ...], ...]) -> np.ndarray:
    h, w = img.shape
    out = np.zeros((h - 2, w - 2), dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            if k[dy][dx]:
                out += k[dy][dx] * img[dy : dy + h - 2, dx : dx + w - 2]
    return out


def _cell_bounds(size: int) -> list[tuple[int, int]]:
    return [((i * size) // GRID, -((-(i + 1) * size) // GRID)) for i in range(GRID)]


def quality_numpy(image: np.ndarray) -> tuple[float, float, list[float]]:
    """Reference (brightness, sharpness, signature) of one [H,W,3] RGB frame; slow and plain."""
    grey = grey_numpy(image)
    brightness = float(grey.mean())
    h, w = grey.shape
    if h < 3 or w < 3:
        return brightness, 0.0, [0.0] * SIGNATURE_LEN
    g255 = grey * 255.0
    sharpness = float(_conv3_valid(g255, _LAPLACIAN).var())
    gx = _conv3_valid(g255, _SOBEL_X)
    gy = _conv3_valid(g255, tuple(zip(*_SOBEL_X, strict=True)))
    mag = np.sqrt(gx**2 + gy**2)
    mh, mw = mag.shape
    cells = np.array(
        [mag[y0:y1, x0:x1].mean() for y0, y1 in _cell_bounds(mh) for x0, x1 in _cell_bounds(mw)]
    )
    cells -= cells.mean()
    norm = np.linalg.norm(cells)
    sig = cells / norm if norm > 1e-6 else np.zeros_like(cells)
    return brightness, sharpness, sig.tolist()
