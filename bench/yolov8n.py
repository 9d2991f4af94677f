"""YOLOv8n's architecture in plain PyTorch, random weights: a stand-in for timing only.

No pretrained kitchen model exists offline, and a benchmark of the model stage
at 640 px needs a network of the size a deployment runs. This is YOLOv8n
(width 0.25, depth 0.33: ~3.2 M parameters, ~8.7 GFLOPs at 640 px) with its
batch norms already folded into the convolutions, as an export for inference
has them, and the same output as Ultralytics' detection head: [N, 4 + C, A]
(cx, cy, w, h in input pixels, then class scores; A = 8,400 anchors at
640 px). The weights are random, so its detections mean nothing; its speed is
YOLOv8n's.

    python -m bench.inference --model yolov8n-arch --compile off,compile
"""

from __future__ import annotations

import math

import torch
from torch import nn

NAME = "yolov8n-arch"
REG_MAX = 16
STRIDES = (8, 16, 32)


class Conv(nn.Module):
    """Conv + (folded) BN + SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=True)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1: int, c2: int, n: int, shortcut: bool) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c, 1), Conv(4 * c, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """Decoupled head with distribution focal loss boxes, decoded to cx, cy, w, h pixels."""

    def __init__(self, nc: int, ch: tuple[int, ...]) -> None:
        super().__init__()
        self.nc = nc
        c2, c3 = max(16, ch[0] // 4, REG_MAX * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * REG_MAX, 1))
            for x in ch
        )
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch
        )
        self.register_buffer("bins", torch.arange(REG_MAX, dtype=torch.float32), persistent=False)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        n = feats[0].shape[0]
        out = torch.cat(
            [
                torch.cat((self.cv2[i](f), self.cv3[i](f)), 1).flatten(2)
                for i, f in enumerate(feats)
            ],
            2,
        )
        box, cls = out.split((4 * REG_MAX, self.nc), 1)
        a = box.shape[-1]
        # DFL: expected distance over 16 bins per side.
        dist = (box.view(n, 4, REG_MAX, a).softmax(2) * self.bins.view(1, 1, -1, 1)).sum(2)
        anchors, strides = _anchors(feats)
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((xywh, cls.sigmoid()), 1)


def _anchors(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid cell centres [2, A] (in cells of each level) and each anchor's stride [1, A]."""
    points, strides = [], []
    for f, s in zip(feats, STRIDES, strict=True):
        h, w = f.shape[-2:]
        sy, sx = torch.meshgrid(
            torch.arange(h, device=f.device, dtype=f.dtype) + 0.5,
            torch.arange(w, device=f.device, dtype=f.dtype) + 0.5,
            indexing="ij",
        )
        points.append(torch.stack((sx, sy)).flatten(1))
        strides.append(torch.full((1, h * w), float(s), device=f.device, dtype=f.dtype))
    return torch.cat(points, 1), torch.cat(strides, 1)


class YOLOv8n(nn.Module):
    def __init__(self, nc: int = 80) -> None:
        super().__init__()
        self.b0, self.b1 = Conv(3, 16, 3, 2), Conv(16, 32, 3, 2)
        self.b2, self.b3 = C2f(32, 32, 1, True), Conv(32, 64, 3, 2)
        self.b4, self.b5 = C2f(64, 64, 2, True), Conv(64, 128, 3, 2)
        self.b6, self.b7 = C2f(128, 128, 2, True), Conv(128, 256, 3, 2)
        self.b8, self.b9 = C2f(256, 256, 1, True), SPPF(256, 256)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12, self.h15 = C2f(384, 128, 1, False), C2f(192, 64, 1, False)
        self.h16, self.h18 = Conv(64, 64, 3, 2), C2f(192, 128, 1, False)
        self.h19, self.h21 = Conv(128, 128, 3, 2), C2f(384, 256, 1, False)
        self.detect = Detect(nc, (64, 128, 256))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat((self.up(p5), p4), 1))
        out3 = self.h15(torch.cat((self.up(h12), p3), 1))
        out4 = self.h18(torch.cat((self.h16(out3), h12), 1))
        out5 = self.h21(torch.cat((self.h19(out4), p5), 1))
        return self.detect([out3, out4, out5])


def build(num_classes: int = 80, seed: int = 0) -> YOLOv8n:
    """Random weights; class biases initialised as Ultralytics does (a prior of ~5 objects
    per image), so that scores sit near zero and decode/NMS see a realistic few
    candidates rather than all 8,400 x C."""
    torch.manual_seed(seed)
    model = YOLOv8n(num_classes)
    with torch.no_grad():
        for head, stride in zip(model.detect.cv3, STRIDES, strict=True):
            head[-1].bias.fill_(math.log(5 / num_classes / (640 / stride) ** 2))
    return model.eval()
