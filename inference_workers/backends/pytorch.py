"""PyTorch backend: a TorchScript file or any nn.Module with YOLO-format output.

On CUDA the model runs in fp16 with channels_last memory format (what tensor
cores want); on CPU in fp32. Inference runs under `torch.inference_mode`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from inference_workers.backends.base import DecodeParams, Detector, parse_names


class TorchDetector(Detector):
    """Wraps a module whose forward maps [N,3,S,S] -> [N,4+C,A] (or a tuple led by it)."""

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        labels: list[str],
        input_size: int = 640,
        device: str | None = None,
        decode: DecodeParams | None = None,
        name: str = "torch-model",
        half: bool | None = None,
        warmup: bool = True,
    ) -> None:
        super().__init__(decode)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cuda = self.device.type == "cuda"
        self.half = cuda if half is None else half
        self.channels_last = cuda
        if not isinstance(module, torch.fx.GraphModule):  # torch.export's refuse .eval()
            module = module.eval()
        module = module.to(self.device)
        if self.half:
            module = module.half()
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        self.labels = list(labels)
        self.input_size = int(input_size)
        self.name = name
        if warmup:
            self.forward(torch.zeros(1, 3, self.input_size, self.input_size))

    @classmethod
    def from_torchscript(
        cls,
        path: str | Path,
        *,
        device: str | None = None,
        labels: list[str] | None = None,
        input_size: int | None = None,
        decode: DecodeParams | None = None,
        name: str | None = None,
    ) -> TorchDetector:
        """Load a TorchScript export; labels and size from Ultralytics' `config.txt` extra."""
        import json

        extra = {"config.txt": ""}
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        meta = {}
        if extra["config.txt"]:
            try:
                meta = json.loads(extra["config.txt"])
            except ValueError:
                meta = {}
        imgsz = meta.get("imgsz")
        if isinstance(imgsz, list):
            imgsz = imgsz[0]
        return cls(
            module,
            labels=list(labels) if labels else parse_names(meta.get("names")),
            input_size=int(input_size or imgsz or 640),
            device=device,
            decode=decode,
            name=name or Path(path).stem,
        )

    @classmethod
    def from_export(
        cls,
        path: str | Path,
        *,
        device: str | None = None,
        labels: list[str] | None = None,
        input_size: int | None = None,
        decode: DecodeParams | None = None,
        name: str | None = None,
    ) -> TorchDetector:
        """Load a `torch.export` program (.pt2); labels must be given (no metadata there)."""
        if not labels:
            raise ValueError(f"{path}: a .pt2 model needs its labels in the model settings")
        program = torch.export.load(str(path))
        return cls(
            program.module(),
            labels=labels,
            input_size=int(input_size or 640),
            device=device,
            decode=decode,
            name=name or Path(path).stem,
        )

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, non_blocking=True)
        x = x.half() if self.half else x.float()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float()
