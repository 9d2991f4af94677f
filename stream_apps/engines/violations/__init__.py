"""Violation debouncer: per-frame detections in, one open + one closed per episode out.

The detector flickers: it misses frames inside a real episode and fires
single false positives outside one. Per (camera, class) the engine keeps a
tiny hysteresis machine on event time (``frame_ts``):

- **idle -> open**: at least ``open_hits`` frames with the class at or above
  ``min_score`` within ``open_window_s``. With ``weak_score`` set the evidence
  is a score instead: each hit counts (score - weak_score) / (min_score -
  weak_score) frames, at most ``max_weight``, and ``open_hits`` of it from two
  frames or more opens. With ``track_radius`` set only the hits whose box
  centre lies that close to the newest hit's count (the same object; false
  positives land anywhere). ``started_at`` is the first of those frames,
  ``detected_at`` the frame that completed the evidence.
- **still present**: a hit extends the episode only when it is backed by
  ``keep_hits`` hits within ``keep_window_s`` (with ``weak_score``: ``keep_hits``
  of evidence from two frames or more), so a lone false positive after the real
  end does not stretch it.
- **open -> closed**: nothing present for ``close_after_s`` (defaults to the
  merge gap, 60 s): episodes closer than the merge gap are one episode, so
  closing any earlier would mean a second ``open`` for the same episode.
  ``ended_at`` is the last frame the class was present.

Frames are released to the machine in event-time order through a per-camera
reorder buffer of ``lateness_s``; duplicates (same ``seq`` and ``frame_ts``)
and frames later than the buffer allows are dropped and counted. So a replay
with the contract's disorder gives exactly the answer of an ordered one.

Evidence (``evidence.frame_ts``, ``box``, ``snapshot``) is the highest-scoring
hit of the episode, preferring frames that carry a stored image: the worker
keeps at most one image per camera per few seconds, so the peak frame itself
may have none. At ``open`` it is the best hit with an image (else the best hit);
later, a new peak replaces it only if it has an image or the evidence has none,
and a frame with an image replaces evidence without one. ``peak_score`` is the
episode's highest score whatever the image.

Ids are a hash of camera, class and ``started_at``; ``snapshot()`` carries the
buffers and open episodes so a restarted worker continues without a second
``open``.

Layout: ``params`` (ClassParams, ViolationParams, the per-class defaults),
``evidence`` (motion, same object, weighted hits), ``engine`` (ViolationEngine).
"""

from schemas.records import VIOLATION_CLASSES
from stream_apps.engines.violations.engine import (
    SNAPSHOT_VERSION,
    ViolationCounters,
    ViolationEngine,
    violation_id,
)
from stream_apps.engines.violations.params import (
    DEFAULT_CLASS_PARAMS,
    ClassParams,
    ViolationParams,
)

__all__ = [
    "VIOLATION_CLASSES",
    "ClassParams",
    "DEFAULT_CLASS_PARAMS",
    "SNAPSHOT_VERSION",
    "ViolationCounters",
    "ViolationEngine",
    "ViolationParams",
    "violation_id",
]
