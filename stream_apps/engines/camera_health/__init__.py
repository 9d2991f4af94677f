"""Camera health: offline, frozen, blurred, dark, turned away - without false alarms.

Inputs are ``bk.detections.v1`` frames (only their ``quality`` block is read)
and ``bk.camera-status.v1``; outputs are ``CameraEvent`` records, one ``open``
and one ``closed`` per episode. Everything runs on event time.

- **offline** (``offline.py``): no frame and no ``streaming`` status for
  ``offline_after_s``, decided on the engine's clock.
- **frozen** (``frozen.py``): the same picture for ``frozen_after_s``.
- **dark** and **blurred** (``exposure.py``): brightness or contrast-normalised
  sharpness far below the camera's baseline, sustained, within opening hours.
- **angle_changed** (``view.py``): the signature far from its baseline for
  ``angle_sustained_s``; acknowledged or rebaselined.

Baselines are learned online per camera (clamped EWMA, candidate frames
excluded) after ``warmup_frames``. Frames go through a per-camera reorder
buffer of ``lateness_s`` (duplicates by ``(seq, frame_ts)`` and frames older
than what was released are dropped and counted), so the contract's disorder
does not change the answer. Event ids hash camera, kind and ``started_at``.
See docs/camera-health.md for the rules and why.

Modules: ``params`` (HealthParams, constants), ``state`` (per-camera state,
episodes, registry entry, snapshot encode/decode), ``offline``, ``frozen``,
``exposure``, ``view``, ``events`` (episode steps and emission) and ``engine``
(``CameraHealthEngine`` wiring the detectors).
"""

from __future__ import annotations

from stream_apps.engines.camera_health.engine import CameraHealthEngine
from stream_apps.engines.camera_health.events import camera_event_id
from stream_apps.engines.camera_health.params import SUPPRESSING_KINDS, HealthParams
from stream_apps.engines.camera_health.state import SNAPSHOT_VERSION

__all__ = [
    "SNAPSHOT_VERSION",
    "SUPPRESSING_KINDS",
    "CameraHealthEngine",
    "HealthParams",
    "camera_event_id",
]
