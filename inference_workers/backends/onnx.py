"""ONNX Runtime backend: CUDA (or TensorRT) execution provider where present, else CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from inference_workers.backends.base import DecodeParams, Detector, parse_names

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


class OnnxDetector(Detector):
    """A YOLO-format ONNX model ([N,3,S,S] float in, [N,4+C,A] out) run by ONNX Runtime.

    Labels come from the Ultralytics `names` metadata unless given. On a GPU
    provider the batch is bound on the device (IO binding, no host copy).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        labels: list[str] | None = None,
        input_size: int | None = None,
        decode: DecodeParams | None = None,
        name: str | None = None,
        providers: list[str] | None = None,
        intra_op_threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        super().__init__(decode)
        path = Path(path)
        if providers is None:
            available = ort.get_available_providers()
            want_gpu = device is None or device.startswith("cuda")
            providers = [p for p in _GPU_PROVIDERS if want_gpu and p in available]
            providers.append("CPUExecutionProvider")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        self.providers = self.session.get_providers()
        on_gpu = self.providers[0] in _GPU_PROVIDERS and torch.cuda.is_available()
        self.device = torch.device("cuda" if on_gpu else "cpu")
        inp = self.session.get_inputs()[0]
        self._input_name = inp.name
        self._fp16 = inp.type == "tensor(float16)"
        # Many exports fix the batch dimension (often to 1): run such a model per image.
        self._fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self._output_name = self.session.get_outputs()[0].name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.labels = list(labels) if labels else parse_names(meta.get("names"))
        fixed = inp.shape[-1] if isinstance(inp.shape[-1], int) else None
        imgsz = meta.get("imgsz")
        self.input_size = int(input_size or fixed or (_first_int(imgsz) if imgsz else None) or 640)
        version = meta.get("version", "")
        self.name = name or (f"{path.stem}@{version}" if version else path.stem)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        fb = self._fixed_batch
        if fb and batch.shape[0] != fb:
            if fb != 1:
                raise ValueError(f"{self.name} takes batches of exactly {fb}")
            return torch.cat([self._run(x[None]) for x in batch])
        return self._run(batch)

    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.half() if self._fp16 else batch.float()
        x = x.contiguous()
        if self.device.type == "cuda":
            x = x.to(self.device)
            binding = self.session.io_binding()
            binding.bind_input(
                self._input_name,
                "cuda",
                0,
                np.float16 if self._fp16 else np.float32,
                tuple(x.shape),
                x.data_ptr(),
            )
            binding.bind_output(self._output_name, "cuda")
            self.session.run_with_iobinding(binding)
            out = binding.get_outputs()[0].numpy()
            return torch.from_numpy(out).to(self.device)
        out = self.session.run([self._output_name], {self._input_name: x.cpu().numpy()})[0]
        return torch.from_numpy(out)


def _first_int(imgsz: str) -> int | None:
    """'[320, 320]' -> 320."""
    digits = "".join(c if c.isdigit() else " " for c in imgsz).split()
    return int(digits[0]) if digits else None
