"""Garbage-collector settings for the batch hosts (camera stage, sink, replay).

CPython's cyclic collector walks every tracked object of the oldest generation
on a full collection. A camera stage holding a city's cameras has millions of
tracked objects (reorder buffers, hits, decoded frames): with the default
thresholds (700, 10, 10), full collections took 34-47 % of the time of the camera
pipeline at 100,000 cameras, and 0 % at 40 (bench/RESULTS.md, "Garbage
collection at city scale"). The engines' state is plain data that reference
counting frees; collections are made rarer, not disabled, so memory held by a
reference cycle is still reclaimed.
"""

from __future__ import annotations

import gc

THRESHOLDS = (100_000, 50, 1_000)
"""gen0 allocations, gen0 collections per gen1, gen1 collections per full one."""


def tune_for_throughput() -> None:
    """Call once at process start, after imports: what exists then (modules,
    settings) is never scanned again, and collections run at THRESHOLDS."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
