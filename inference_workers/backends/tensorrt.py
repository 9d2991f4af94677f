"""TensorRT backend (TensorRT 10 API), used only where the `tensorrt` package imports.

The engine must have one input [N,3,S,S] and one YOLO-format output
[N,4+C,A]; buffers are torch CUDA tensors, so no pycuda is needed. Labels must
be given (a serialized engine carries no Ultralytics metadata we rely on).
Not exercised by CI (no GPU there); kept small on purpose.
"""

from __future__ import annotations

from pathlib import Path

import torch

from inference_workers.backends.base import DecodeParams, Detector

try:  # pragma: no cover - only on GPU hosts
    import tensorrt as trt
except ImportError:  # pragma: no cover
    trt = None


class TensorRTDetector(Detector):  # pragma: no cover - needs a GPU and TensorRT
    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        labels: list[str] | None = None,
        input_size: int | None = None,
        decode: DecodeParams | None = None,
        name: str | None = None,
    ) -> None:
        if trt is None:
            raise RuntimeError("the tensorrt package is not installed; use an .onnx or .pt model")
        if not torch.cuda.is_available():
            raise RuntimeError("TensorRT needs a CUDA device")
        super().__init__(decode)
        self.device = torch.device(device or "cuda")
        logger = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as f, trt.Runtime(logger) as runtime:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        modes = {n: self.engine.get_tensor_mode(n) for n in names}
        self._input = next(n for n in names if modes[n] == trt.TensorIOMode.INPUT)
        self._output = next(n for n in names if modes[n] == trt.TensorIOMode.OUTPUT)
        shape = self.engine.get_tensor_shape(self._input)
        self.input_size = int(input_size or (shape[-1] if shape[-1] > 0 else 640))
        self._half = self.engine.get_tensor_dtype(self._input) == trt.DataType.HALF
        self.labels = list(labels or [])
        self.name = name or Path(path).stem

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device, non_blocking=True)
        x = (x.half() if self._half else x.float()).contiguous()
        self.context.set_input_shape(self._input, tuple(x.shape))
        out_shape = tuple(self.context.get_tensor_shape(self._output))
        dtype = torch.float16 if self._half else torch.float32
        out = torch.empty(out_shape, dtype=dtype, device=self.device)
        self.context.set_tensor_address(self._input, x.data_ptr())
        self.context.set_tensor_address(self._output, out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        self.context.execute_async_v3(stream.cuda_stream)
        return out.float()
