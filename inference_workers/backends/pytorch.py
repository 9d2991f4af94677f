"""PyTorch backend: a TorchScript file or any nn.Module with YOLO-format output.

On CUDA the model runs in fp16 with channels_last memory format (what tensor
cores want); on CPU in fp32. Inference runs under `torch.inference_mode`.

``compile`` removes per-kernel launch overhead, which dominates small models at
batch sizes that fit the 1 fps camera feed:

- ``"off"``: eager (TorchScript's own executor for .pt files);
- ``"compile"``: `torch.compile` (Inductor) for a fixed shape, on CPU or CUDA;
  not for TorchScript modules (Dynamo cannot trace them: export with
  `torch.export` to .pt2 instead);
- ``"cuda-graph"``: the whole forward captured once per input shape in a CUDA
  graph and replayed from a static input buffer; any module, CUDA only. The
  worker always pads batches to `batch_size` rows, so there is one shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from inference_workers.backends.base import DecodeParams, Detector, parse_names

COMPILE_MODES = ("off", "compile", "cuda-graph")


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
        compile: str = "off",
    ) -> None:
        super().__init__(decode)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cuda = self.device.type == "cuda"
        if compile not in COMPILE_MODES:
            raise ValueError(f"compile={compile!r}: want one of {', '.join(COMPILE_MODES)}")
        if compile == "cuda-graph" and not cuda:
            raise ValueError(f"compile='cuda-graph' needs a CUDA device, not {self.device}")
        if compile == "compile" and isinstance(module, torch.jit.ScriptModule):
            raise ValueError(
                f"{name}: torch.compile cannot trace a TorchScript module; use "
                "compile='cuda-graph' on CUDA or a torch.export (.pt2) model"
            )
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
        self.compile = compile
        self._run: Callable[[torch.Tensor], torch.Tensor] = self._eager
        if compile == "compile":
            self._run = torch.compile(self._eager, dynamic=False)
        elif compile == "cuda-graph":
            self._run = CudaGraphRunner(self._eager)
        self.labels = list(labels)
        self.input_size = int(input_size)
        self.name = name
        if warmup and compile == "off":  # compiled modes build for the first real shape
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
        compile: str = "off",
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
            compile=compile,
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
        compile: str = "off",
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
            compile=compile,
        )

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self._run(batch.to(self.device, non_blocking=True))

    def _eager(self, x: torch.Tensor) -> torch.Tensor:
        """Cast, lay out, run, take the YOLO head: what every compile mode runs."""
        x = x.half() if self.half else x.float()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float()


class CudaGraphRunner:
    """Replays ``fn`` from a CUDA graph captured per input shape.

    Capture follows the PyTorch recipe: a few warm-up calls on a side stream (so
    cuDNN picks its algorithms and the caching allocator settles), then one
    captured call writing into a static output. A replay copies the batch into
    the static input, replays, and hands back a clone: the next replay
    overwrites the static output.
    """

    WARMUP_CALLS = 3

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.fn = fn
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.dtype)
        if key not in self.graphs:
            self.graphs[key] = self._capture(x)
        graph, static_in, static_out = self.graphs[key]
        static_in.copy_(x, non_blocking=True)
        graph.replay()
        return static_out.clone()

    def _capture(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = x.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.WARMUP_CALLS):
                self.fn(static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.fn(static_in)
        return graph, static_in, static_out
