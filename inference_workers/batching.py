"""Frames from many cameras -> fixed-shape letterboxed batches on the inference device.

Two pieces:

- `FrameQueue`: the bounded hand-off between the decoding threads and the
  inference loop. Live video values freshness over completeness, so when the
  consumer falls behind a `put` never blocks: it drops the OLDEST frame and
  counts the drop (per camera too), which the worker exports as a metric. That
  is the explicit backpressure policy; nothing is lost silently.
- `Batcher`: letterboxes frames of any size into one [B,3,S,S] float batch
  (aspect ratio kept, padding grey 114/255 as YOLO models are trained with).
  Each frame crosses to the device once as uint8 (through a pinned host buffer
  with a non-blocking copy when CUDA is present) and is resized there, so a
  1080p frame costs 6 MB of PCIe traffic and no host-side resize.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
PAD_VALUE = 114 / 255.0


class FrameQueue(Generic[T]):
    """Thread-safe bounded queue; a put on a full queue evicts the oldest item.

    `key` (e.g. the camera id of an item) lets drops be counted per camera.
    """

    def __init__(self, maxsize: int, key=None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._key = key
        self.dropped = 0
        self.dropped_by_key: Counter[str] = Counter()
        self.put_count = 0

    def put(self, item: T) -> T | None:
        """Enqueue; return the evicted oldest item, or None when there was room."""
        with self._cond:
            evicted = None
            if len(self._items) >= self.maxsize:
                evicted = self._items.popleft()
                self.dropped += 1
                if self._key is not None:
                    self.dropped_by_key[self._key(evicted)] += 1
            self._items.append(item)
            self.put_count += 1
            self._cond.notify()
            return evicted

    def get_batch(self, max_items: int, timeout: float, linger: float = 0.0) -> list[T]:
        """Up to max_items items, oldest first.

        Waits at most `timeout` for the first item; once one is there, waits at
        most `linger` more for the batch to fill (latency vs batch size).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)
            if linger > 0 and len(self._items) < max_items:
                fill_deadline = time.monotonic() + linger
                while len(self._items) < max_items:
                    left = fill_deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            n = min(max_items, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass(frozen=True)
class Letterbox:
    """Where a src_w x src_h frame landed in the square input: scale, then pad offset."""

    src_w: int
    src_h: int
    scale: float
    pad_x: int
    pad_y: int

    @classmethod
    def fit(cls, src_w: int, src_h: int, size: int) -> Letterbox:
        scale = min(size / src_w, size / src_h)
        nw, nh = max(1, round(src_w * scale)), max(1, round(src_h * scale))
        return cls(src_w, src_h, scale, (size - nw) // 2, (size - nh) // 2)

    @property
    def new_size(self) -> tuple[int, int]:
        return max(1, round(self.src_w * self.scale)), max(1, round(self.src_h * self.scale))

    def unmap(self, dets: torch.Tensor) -> torch.Tensor:
        """[K,>=4] boxes in input pixels -> same tensor with boxes normalised to the source frame.

        Boxes are clipped to the frame (they may reach into the padding).
        """
        out = dets.clone()
        xs, ys = out[:, [0, 2]], out[:, [1, 3]]
        out[:, [0, 2]] = ((xs - self.pad_x) / self.scale / self.src_w).clamp(0.0, 1.0)
        out[:, [1, 3]] = ((ys - self.pad_y) / self.scale / self.src_h).clamp(0.0, 1.0)
        return out


class Batcher:
    """Builds [B,3,S,S] letterboxed batches on `device` from HxWx3 uint8 RGB frames."""

    def __init__(self, input_size: int, device: str | torch.device = "cpu") -> None:
        import torch

        self.size = int(input_size)
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"

    def _to_device(self, frame: np.ndarray) -> torch.Tensor:
        import torch

        host = torch.from_numpy(np.ascontiguousarray(frame))
        if not self.cuda:
            return host
        # pin_memory() draws from torch's caching host allocator, which does not hand a
        # block out again until the copy that reads it has finished, so the copy can be
        # asynchronous without a sync per frame.
        return host.pin_memory().to(self.device, non_blocking=True)

    def device_frames(self, frames: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Each frame as a [3,H,W] float tensor in 0..1 on the device (for quality measures)."""
        return [self._to_device(f).permute(2, 0, 1).float().div_(255.0) for f in frames]

    def letterbox(
        self, frames: Sequence[torch.Tensor], batch_size: int | None = None
    ) -> tuple[torch.Tensor, list[Letterbox]]:
        """[3,H,W] float frames on the device -> ([B,3,S,S] batch, letterbox per frame).

        The batch has `batch_size` rows when given (the rest stay padding), so a
        model compiled or captured for a fixed shape sees only that shape.
        """
        import torch
        import torch.nn.functional as F

        b = max(len(frames), batch_size or 0)
        s = self.size
        batch = torch.full((b, 3, s, s), PAD_VALUE, dtype=torch.float32, device=self.device)
        boxes = []
        for i, f in enumerate(frames):
            _, h, w = f.shape
            lb = Letterbox.fit(w, h, s)
            nw, nh = lb.new_size
            if (nw, nh) != (w, h):
                f = F.interpolate(
                    f[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=True
                )[0]
            batch[i, :, lb.pad_y : lb.pad_y + nh, lb.pad_x : lb.pad_x + nw] = f
            boxes.append(lb)
        return batch, boxes
