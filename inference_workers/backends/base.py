"""The one interface every detector backend implements.

A backend takes a fixed-shape batch [N,3,S,S] of RGB floats in 0..1 (letterboxed
by `inference_workers.batching`) and returns, per image, the detections left
after decoding and NMS. `infer_raw` gives them as tensors in input pixels
(x1, y1, x2, y2, score, class index) so the worker can undo the letterbox on the
device; `infer` gives plain labelled boxes normalised to the input.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from inference_workers.backends.yolo import decode_yolo

if TYPE_CHECKING:
    import torch


class LabeledBox(NamedTuple):
    """One detection: the model's own label, score 0..1, box (x1, y1, x2, y2) normalised."""

    label: str
    score: float
    box: tuple[float, float, float, float]


@dataclass
class DecodeParams:
    """Post-processing of raw YOLO output; named after what they mean."""

    min_score: float = 0.25  # candidates below this are dropped before NMS
    iou_threshold: float = 0.45  # same-class boxes overlapping more than this are suppressed
    max_candidates: int = 1024  # top-scoring candidates per image that enter NMS
    max_detections: int = 300  # per image, after NMS


class Detector(ABC):
    """A loaded model. Lifecycle: construct (load + warm up), `infer` many times, `close`."""

    name: str  # model name and version, written to `bk.detections.v1.model`
    labels: list[str]  # model label per class index
    input_size: int  # the square input side S the model expects
    device: torch.device

    def __init__(self, decode: DecodeParams | None = None) -> None:
        self.decode = decode or DecodeParams()

    @abstractmethod
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Raw model output [N, 4+C, A] (v8-style: cx, cy, w, h in input pixels, class scores)."""

    def infer_raw(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Per image a [K,6] float tensor (x1, y1, x2, y2 in input pixels, score, class)."""
        out = self.forward(batch)
        d = self.decode
        return decode_yolo(
            out,
            min_score=d.min_score,
            iou_threshold=d.iou_threshold,
            max_candidates=d.max_candidates,
            max_detections=d.max_detections,
        )

    def infer(self, batch: torch.Tensor) -> list[list[LabeledBox]]:
        """Per image, the detections with boxes normalised to the input (0..1)."""
        h, w = batch.shape[-2:]
        return [to_labeled(dets, self.labels, w, h) for dets in self.infer_raw(batch)]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model; the default has nothing to release."""


def to_labeled(dets: torch.Tensor, labels: list[str], width: float, height: float):
    """[K,6] tensor in pixels of a width x height image -> LabeledBox list, clipped to 0..1."""
    rows = dets.double().cpu().tolist()
    out = []
    for x1, y1, x2, y2, score, cls in rows:
        c = int(cls)
        box = (
            min(max(x1 / width, 0.0), 1.0),
            min(max(y1 / height, 0.0), 1.0),
            min(max(x2 / width, 0.0), 1.0),
            min(max(y2 / height, 0.0), 1.0),
        )
        label = labels[c] if 0 <= c < len(labels) else str(c)
        out.append(LabeledBox(label, min(max(score, 0.0), 1.0), box))
    return out


def parse_names(value: str | dict | list | None) -> list[str]:
    """Class names from Ultralytics metadata ("{0: 'person', ...}") or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value, key=int)]
    return [str(v) for v in value]
