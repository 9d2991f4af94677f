"""A deterministic simulated camera fleet: what the GPU inference workers would publish.

`simulate(config)` yields ``(topic, key, record)`` in publication order for a
fleet of ``config.cameras`` cameras sampled at ``config.fps``:

- one `bk.registry.v1` record per camera first (several cameras per kitchen,
  1-3 kitchens per operator, districts and supervision stations of a
  Chengdu-like city, opening hours in Asia/Shanghai);
- one `bk.detections.v1` record per analysed frame;
- `bk.camera-status.v1` heartbeats every ``heartbeat_s`` per camera and on
  every change of state.

The same seed gives the same records, byte for byte, and `ground_truth(config)`
gives what really happened: violation episodes per (camera, class), camera-health
events the processors must raise, and look-alikes they must not raise.

The detector is imperfect on purpose, as the contract says a real one is:
inside a true episode a class is seen on a fraction ``hit_rate`` of the frames
(random misses plus occlusions of up to ``max_miss_run_s``), scores wander
around a per-episode mean, boxes drift smoothly; outside episodes there are
sporadic false positives, mostly low-scored single frames. A small share of
detection records is published late (up to ``max_late_s`` of event time) or
twice, as a replay may deliver them. Every parameter is a field of the
dataclasses below; their defaults are the documented scenario.

Camera-health scenarios (rates in `HealthRates`) leave their signature in the
quality block of the frames and in the status stream; see `HEALTH_DURATIONS_S`
and the `_apply_health` function for exactly what each one does.

Each camera draws from its own seeded random streams, so the records of one
camera do not depend on how many others are simulated before it.

The package's modules, each importing only those listed before it: `config`
(what to simulate), `truth` (`GroundTruth`), `fleet` (the registry and the seeded
random streams), `plan` (cameras, scenarios, episodes; the ground truth of a
plan), `frames` (quality and detections per frame), `feed` (the records in
publication order, the replay file) and `cli` (``python -m``); `scoring` scores
a run against its truth.
"""

from inference_workers.simulator.cli import main
from inference_workers.simulator.config import (
    ANGLE_REBASELINE_S,
    DEFAULT_CLASSES,
    DEFAULT_START_TS,
    HEALTH_DURATIONS_S,
    HEALTH_WARMUP_S,
    MAX_CAMERAS,
    MAX_DURATION_S,
    MODEL_NAME,
    PROFILES,
    ClassProfile,
    DetectorNoise,
    FleetConfig,
    HealthRates,
    Phenomena,
)
from inference_workers.simulator.feed import (
    iter_realtime,
    replay_line,
    simulate,
    simulate_timed,
    write_replay,
)
from inference_workers.simulator.plan import FleetPlan, ground_truth, plan_fleet
from inference_workers.simulator.truth import GroundTruth

__all__ = [
    "ANGLE_REBASELINE_S",
    "DEFAULT_CLASSES",
    "DEFAULT_START_TS",
    "HEALTH_DURATIONS_S",
    "HEALTH_WARMUP_S",
    "MAX_CAMERAS",
    "MAX_DURATION_S",
    "MODEL_NAME",
    "PROFILES",
    "ClassProfile",
    "DetectorNoise",
    "FleetConfig",
    "FleetPlan",
    "GroundTruth",
    "HealthRates",
    "Phenomena",
    "ground_truth",
    "iter_realtime",
    "main",
    "plan_fleet",
    "replay_line",
    "simulate",
    "simulate_timed",
    "write_replay",
]
