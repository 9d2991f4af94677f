"""Detector backends behind one interface (`Detector`), and the YOLO decode/NMS they share.

`load_detector(path)` picks the backend from the file: `.onnx` -> ONNX Runtime,
`.pt`/`.torchscript` -> PyTorch (TorchScript), `.pt2` ->
PyTorch (`torch.export`), `.engine`/`.plan` -> TensorRT
(only where the `tensorrt` package imports).
"""

from __future__ import annotations

from inference_workers.backends.base import Detector, LabeledBox
from inference_workers.backends.loader import load_detector

__all__ = ["Detector", "LabeledBox", "load_detector"]
