"""Inference workers: decode camera streams, run the detector, publish per-frame records.

`simulator` stands in for the GPU workers in demos, replays and benchmarks: it
produces the same `bk.registry.v1`, `bk.detections.v1` and `bk.camera-status.v1`
records, with ground truth to score the stream processors against.
"""
