"""Operator rates: violations per 100 supervised camera-hours, shrunk, graded.

**Exposure.** A camera is supervised from the first time the engine learns of
it (its first frame, camera event or violation, or the watermark when its
registry entry arrives) while its registry entry is active. Its supervised
time is *healthy* except inside a camera-health event of a kind in
``unhealthy_kinds`` (offline, frozen, dark, blurred, angle_changed), from the
event's ``started_at`` to its ``ended_at`` (open events: until closed).
Health events are detected after they start, so exposure is settled
``settle_s`` behind the watermark: an event opened later than that after its
start only stops exposure from the settled point on.

**Counts.** A violation episode counts once (by violation_id, open or closed
record, whichever comes first) at its ``started_at``; an SLA breach counts once
(by breach_id) at its ``due_at``. Both go to the operator of the camera
(registry first, else the record's operator_id); district and city totals are
kept beside. Records raised more than ``dedupe_horizon_s`` before the watermark
are too late to count (that is what bounds the remembered ids).

**Windows.** Counts and exposure live in time buckets, several resolutions
(the cadence, 1 h, 6 h, 1 day): each window uses the coarsest resolution that
still gives it at least 24 buckets. A window sums the buckets from the one
holding ``as_of - window`` up to ``as_of``, so it spans the window plus at most
one bucket (exactly the window when ``as_of`` is on a bucket boundary).

**Shrinkage.** Gamma-Poisson: with prior rate r0 (per camera-hour, the
district's when it has ``min_prior_exposure_h`` in the window, else the
city's) and strength m camera-hours, the posterior mean is
``(n + m * r0) / (E + m)``. Tiny exposure gives the prior; large exposure the
raw rate. The raw count, the exposure and the raw rate travel beside it.

**Emission.** At each cadence boundary ``as_of`` of event time the settled
horizon (watermark - settle_s) crosses, one `OperatorRate` per operator with
data in the longest window, per window, in (operator, window) order. A jump of
the watermark over many boundaries emits the last ``max_catchup_slots`` of
them only.

**Grade.** From the grading window: the shrunk total rate against
``rate_thresholds``, SLA breach counts against ``breach_rules`` and class
counts against ``class_rules``; the highest grade any rule reaches wins and
``reason`` names every rule that fired. Colour follows the grade.

**Layout.** One role a module: ``params`` (`RateParams`, `RateCounters`),
``series`` (camera exposure and the bucketed series), ``records`` (shrinkage
and the `OperatorRate` row), ``engine`` (`RateEngine`: feed / advance /
snapshot / restore); the grade itself is ``stream_apps/engines/grading.py``.
"""

from stream_apps.engines.grading import GradingParams
from stream_apps.engines.rates.engine import RateEngine
from stream_apps.engines.rates.params import DEFAULT_WINDOWS, RateCounters, RateParams
from stream_apps.engines.rates.records import rate_id

__all__ = [
    "DEFAULT_WINDOWS",
    "GradingParams",
    "RateCounters",
    "RateEngine",
    "RateParams",
    "rate_id",
]
