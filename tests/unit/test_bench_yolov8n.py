"""The timing stand-in for YOLOv8n has YOLOv8n's size and output format."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from bench import yolov8n  # noqa: E402


def test_it_has_yolov8ns_parameters_and_head():
    model = yolov8n.build()
    params = sum(p.numel() for p in model.parameters())
    assert 3.1e6 < params < 3.2e6  # Ultralytics reports 3.2 M (3,151,904 fused)
    with torch.inference_mode():
        out = model(torch.rand(2, 3, 320, 320))
    assert out.shape == (2, 4 + 80, 40 * 40 + 20 * 20 + 10 * 10)
    boxes, scores = out[:, :4], out[:, 4:]
    assert bool((scores >= 0).all() and (scores <= 1).all())
    assert bool((boxes[:, 2:] > 0).all())  # positive widths and heights in pixels
    # The Ultralytics class-bias prior: random weights still give few confident scores.
    assert float((scores > 0.25).float().mean()) < 0.01
