"""YOLO (v8-style) output decoding and batched NMS, vectorised in torch.

Raw output is [N, 4+C, A]: per anchor cx, cy, w, h in input pixels and C class
scores (already sigmoid-ed, as exported by Ultralytics). Each anchor keeps its
best class. NMS is exact greedy per-class NMS, computed for the whole batch at
once: the IoU matrix [N,K,K] of the top-K candidates of each image, then the
greedy recurrence "a box survives if no surviving higher-scored box of its class
overlaps it more than the threshold" solved by fixed-point iteration (each pass
settles at least one more box of every suppression chain, and in practice a few
passes settle all). torchvision is not needed.
"""

from __future__ import annotations

import torch


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def box_iou_batched(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of [N,K,4] and [N,M,4] xyxy boxes -> [N,K,M]."""
    area_a = (a[..., 2] - a[..., 0]).clamp_min(0) * (a[..., 3] - a[..., 1]).clamp_min(0)
    area_b = (b[..., 2] - b[..., 0]).clamp_min(0) * (b[..., 3] - b[..., 1]).clamp_min(0)
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = (rb - lt).clamp_min(0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return inter / union.clamp_min(1e-9)


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    classes: torch.Tensor,
    valid: torch.Tensor,
    iou_threshold: float,
) -> torch.Tensor:
    """Greedy per-class NMS for a batch; returns the keep mask [N,K].

    boxes [N,K,4] xyxy, scores [N,K] sorted descending along K, classes [N,K],
    valid [N,K] (padding / below-threshold candidates are False and never
    suppress anything).
    """
    n, k = scores.shape
    if k == 0:
        return valid
    iou = box_iou_batched(boxes, boxes)
    same = classes[:, :, None] == classes[:, None, :]
    higher = torch.ones(k, k, dtype=torch.bool, device=boxes.device).triu(1)  # i before j
    # could_suppress[n, i, j]: candidate i (higher score) would suppress j if i survives.
    could = (iou > iou_threshold) & same & higher & valid[:, :, None]
    keep = valid.clone()
    for _ in range(k):
        suppressed = (could & keep[:, :, None]).any(dim=1)
        new_keep = valid & ~suppressed
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def decode_yolo(
    out: torch.Tensor,
    *,
    min_score: float = 0.25,
    iou_threshold: float = 0.45,
    max_candidates: int = 1024,
    max_detections: int = 300,
) -> list[torch.Tensor]:
    """[N, 4+C, A] raw output -> per image [K,6] (x1, y1, x2, y2, score, class), best first."""
    if out.ndim != 3 or out.shape[1] < 5:
        raise ValueError(f"expected YOLO output [N, 4+C, A], got {tuple(out.shape)}")
    out = out.float()
    n, _, a = out.shape
    boxes = cxcywh_to_xyxy(out[:, :4].transpose(1, 2))  # [N,A,4]
    scores, classes = out[:, 4:].max(dim=1)  # [N,A]
    k = min(max_candidates, a)
    top_scores, idx = scores.topk(k, dim=1)  # sorted descending
    # Only the candidates above min_score enter NMS: trim K to the most any image has
    # (the IoU matrix is K x K, so this is most of the decode cost).
    k = int((top_scores >= min_score).sum(dim=1).max()) if n else 0
    top_scores, idx = top_scores[:, :k], idx[:, :k]
    top_boxes = boxes.gather(1, idx[..., None].expand(n, k, 4))
    top_classes = classes.gather(1, idx)
    valid = top_scores >= min_score
    keep = batched_nms(top_boxes, top_scores, top_classes, valid, iou_threshold)
    # Keep the first max_detections survivors of each image (they are in score order).
    keep &= keep.cumsum(dim=1) <= max_detections
    dets = torch.cat((top_boxes, top_scores[..., None], top_classes[..., None].float()), dim=2)
    counts = keep.sum(dim=1).tolist()  # the one host sync of the decode
    flat = dets[keep]
    return list(flat.split(counts))
