"""Evidence snapshots: JPEG size, encode time and memory per image; disk per camera per day.

`python -m bench.snapshots [--frames 200]`

Frames are the synthetic clip's pattern plus sensor-like noise (a flat synthetic
frame compresses far better than a kitchen camera's), at the sizes a worker
stores: 1280x720 (its default `max_side`) and 640x360. Disk per camera per day
is shown for violation-frame shares of a 1 fps camera with every such frame
stored (BK_SNAPSHOT_MIN_INTERVAL_S=0), and the ceiling the default rate limit
(one JPEG per camera per 5 s) sets whatever the share; the retention setting
bounds the total.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time

import numpy as np

from inference_workers.snapshots import LocalStore, Snapshotter
from inference_workers.synthetic_video import frame_image
from schemas.records import Detection, FrameDetections


def frames(n: int, width: int, height: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        img = frame_image(i, width, height).astype(np.int16)
        img += rng.normal(0, 6, img.shape).astype(np.int16)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args(argv)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| frame | JPEG KiB (mean) | encode+store ms (mean) | peak RSS growth MiB |")
    print("|---|---|---|---|")
    sizes = {}
    for w, h in ((1280, 720), (640, 360)):
        imgs = frames(args.frames, w, h)
        with tempfile.TemporaryDirectory() as d:
            snap = Snapshotter(LocalStore(d), min_interval_s=0)  # measure every frame
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0 = time.perf_counter()
            for i, img in enumerate(imgs):
                rec = FrameDetections(
                    v=1,
                    camera_id="bench",
                    frame_ts=1.8e9 + i,
                    seq=i,
                    worker_id="w",
                    model="m",
                    width=w,
                    height=h,
                    detections=[Detection(cls="rodent", score=0.9, box=(0.4, 0.4, 0.6, 0.6))],
                )
                assert snap(img, rec).snapshot
            dt = time.perf_counter() - t0
            rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        kib = snap.bytes / snap.stored / 1024
        sizes[(w, h)] = kib
        print(f"| {w}x{h} | {kib:.1f} | {1000 * dt / snap.stored:.2f} | {rss:.1f} |")
    print()
    print("| violation frames of a 1 fps camera | JPEGs/day | MiB/day at 1280x720 | at 640x360 |")
    print("|---|---|---|---|")
    for share in (0.001, 0.01, 0.05):
        n = 86400 * share
        a, b = (n * sizes[s] / 1024 for s in ((1280, 720), (640, 360)))
        print(f"| {share:.1%} | {n:.0f} | {a:.1f} | {b:.1f} |")
    cap = 86400 / 5.0  # BK_SNAPSHOT_MIN_INTERVAL_S default: one JPEG per camera per 5 s
    a, b = (cap * sizes[s] / 1024 for s in ((1280, 720), (640, 360)))
    print(f"| ceiling at the 5 s rate limit | {cap:.0f} | {a:.1f} | {b:.1f} |")


if __name__ == "__main__":
    main()
