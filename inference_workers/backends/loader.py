"""Load a model file with the backend its suffix names.

Separate from ``base`` so that imports point one way: every backend imports
``base``; only this loader imports the backends (lazily, so ONNX Runtime,
PyTorch and TensorRT load only when a model of theirs is used).
"""

from __future__ import annotations

from pathlib import Path

from inference_workers.backends.base import DecodeParams, Detector


def load_detector(
    path: str | Path,
    *,
    device: str | None = None,
    labels: list[str] | None = None,
    input_size: int | None = None,
    decode: DecodeParams | None = None,
    name: str | None = None,
    compile: str = "off",
) -> Detector:
    """Load a model file with the backend its suffix names (.onnx, .pt/.torchscript, .engine).

    ``compile`` ("off", "compile", "cuda-graph") applies to the PyTorch backend
    only; ONNX Runtime and TensorRT optimise the graph themselves.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    kw = dict(device=device, labels=labels, input_size=input_size, decode=decode, name=name)
    if compile != "off" and suffix not in (".pt", ".torchscript", ".pth", ".pt2"):
        raise ValueError(f"compile={compile!r} needs a PyTorch model (.pt, .pt2), not {p.name}")
    if suffix == ".onnx":
        from inference_workers.backends.onnx import OnnxDetector

        return OnnxDetector(p, **kw)
    if suffix in (".pt", ".torchscript", ".pth"):
        from inference_workers.backends.pytorch import TorchDetector

        return TorchDetector.from_torchscript(p, compile=compile, **kw)
    if suffix == ".pt2":
        from inference_workers.backends.pytorch import TorchDetector

        return TorchDetector.from_export(p, compile=compile, **kw)
    if suffix in (".engine", ".plan", ".trt"):
        from inference_workers.backends.tensorrt import TensorRTDetector

        return TensorRTDetector(p, **kw)
    raise ValueError(f"unknown model format {suffix!r} for {p.name} (want .onnx, .pt, .engine)")
