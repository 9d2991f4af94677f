"""Quality measures: hand-computed values, and batched torch equal to the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inference_workers.quality import (  # noqa: E402
    SIGNATURE_LEN,
    quality_numpy,
    quality_torch,
)


def nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None]


def test_flat_grey_frame_has_its_luma_as_brightness_no_sharpness_and_zero_signature():
    img = np.full((16, 16, 3), 51, dtype=np.uint8)  # 51/255 = 0.2
    q = quality_torch(nchw(img)).rows()[0]
    assert q[0] == pytest.approx(0.2, abs=1e-6)
    assert q[1] == pytest.approx(0.0, abs=1e-6)
    assert q[2] == [0.0] * SIGNATURE_LEN
    assert quality_numpy(img)[0] == pytest.approx(0.2)


def test_brightness_weights_channels_by_bt601_luma():
    img = np.zeros((4, 4, 3), dtype=np.uint8)
    img[..., 1] = 255  # pure green
    assert quality_torch(nchw(img)).rows()[0][0] == pytest.approx(0.587, abs=1e-6)


def test_sharpness_of_a_single_bright_pixel_is_the_hand_computed_laplacian_variance():
    # A 5x5 black frame with one white pixel in the middle: the valid 3x3 Laplacian
    # map is [[0,255,0],[255,-1020,255],[0,255,0]] (scaled grey 0..255).
    img = np.zeros((5, 5, 3), dtype=np.uint8)
    img[2, 2] = 255
    vals = np.array([0, 255, 0, 255, -1020, 255, 0, 255, 0], dtype=np.float64)
    expected = float(vals.var())
    assert quality_torch(nchw(img)).rows()[0][1] == pytest.approx(expected, rel=1e-5)
    assert quality_numpy(img)[1] == pytest.approx(expected)


def test_signature_is_zero_mean_unit_norm_and_ignores_global_brightness_and_gain():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.6, (64, 80, 3))
    base[:, :40] *= 0.5  # some structure: a darker left half
    sig = np.array(quality_torch(torch.from_numpy(base).permute(2, 0, 1)[None]).rows()[0][2])
    assert sig.shape == (64,)
    assert abs(sig.sum()) < 1e-5  # float32 arithmetic
    assert np.linalg.norm(sig) == pytest.approx(1.0, abs=1e-6)
    brighter = base * 1.4 + 0.1  # IR switch: gain and offset
    sig2 = np.array(quality_torch(torch.from_numpy(brighter).permute(2, 0, 1)[None]).rows()[0][2])
    assert np.abs(sig - sig2).max() < 1e-5


@pytest.mark.parametrize("shape", [(37, 53), (8, 8), (120, 90), (2, 7)])
def test_torch_batch_matches_numpy_reference(shape):
    rng = np.random.default_rng(sum(shape))
    imgs = rng.integers(0, 256, (3, *shape, 3), dtype=np.uint8)
    imgs[1, : shape[0] // 2] //= 4  # frames differ in structure and brightness
    batch = torch.from_numpy(imgs).permute(0, 3, 1, 2)
    rows = quality_torch(batch).rows()
    for img, (b, s, g) in zip(imgs, rows, strict=True):
        rb, rs, rg = quality_numpy(img)
        assert b == pytest.approx(rb, abs=1e-6)
        assert s == pytest.approx(rs, rel=1e-4, abs=1e-3)
        assert np.abs(np.array(g) - np.array(rg)).max() < 1e-4


def test_float_and_uint8_inputs_agree():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a = quality_torch(nchw(img)).rows()[0]
    b = quality_torch(nchw(img).float() / 255.0).rows()[0]
    assert a[0] == pytest.approx(b[0], abs=1e-6)
    assert a[1] == pytest.approx(b[1], rel=1e-4)
