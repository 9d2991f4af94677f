"""Alerts: violation episodes and camera-health events an inspector acts on.

Every violation episode (its ``open`` record) and every camera-health event of
a kind of interest (its ``open`` record) becomes a member of an alert.
Members are grouped: episodes of one class (or events of one kind) of one
operator in one kitchen that *start* within ``group_window_s`` of the alert's
first member join that alert, whichever camera of the kitchen they come from;
other kitchens never share an alert. A camera missing from the registry is a
kitchen of its own. An alert already resolved takes no new member: the next
episode opens a new alert.

``alert_id`` is a hash of source, class/kind, operator, kitchen and the first
member's ``started_at``: a replay of the same input gives the same ids, and a
member fed twice is recognised by its violation_id / event_id. (If members of
one group arrive in a different interleaving across cameras, the first one
to arrive anchors the alert; later-arriving earlier starters join it.)

Dispositions move the alert's state. Each action's earliest ``ts`` is kept, so
the state is a function of the set of dispositions, not of their order::

    closed                       if any "closed"
    else rectified|false_positive whichever of the two is latest (an inspector may
                                  overturn a verdict)
    else verified                if any "verified"
    else open

The verdict (true or false positive) of each alert feeds precision counters
per class and per camera; an overturned verdict moves its count.

**Repeat offences** (seed 002 §19-20: "整改后重复再犯 … 屡犯不改的, 从重处罚"): a new
violation alert of the same operator and class that starts within
``repeat_window_s`` after an earlier one was *rectified* carries ``repeat_of``
(that alert's id) and its severity is raised one level (``base_severity``
keeps the original); the rates engine counts it in the grade. A **first minor
offence** (no alert of the same operator and class in the window before it)
rectified within ``lenient_within_s`` is flagged ``lenient`` (§19: 初次违法、危害后果
轻微并及时改正的, 视情形不予、从轻或减轻行政处罚).

**Licences** (seed 002 §15): a licence-alert stage in ``licence_stages`` (the
day a licence expires, its expiry, a missing merchant profile) raises an alert
of the operator (source ``licence``, class = the licence kind, no camera), one
per licence: later stages join it. It has the SLA clocks of any alert; a
verdict on it is not a detection, so it stays out of the precision counters.

``advance`` emits nothing (grouping closes by time without an event); it
prunes alerts resolved longer than ``retain_resolved_s`` ago.

**Layout.** One role a module: ``params`` (`AlertParams`, `AlertCounters`,
`Precision`, the severities), ``state`` (`_Alert`: one alert's members,
dispositions, state and verdict, and the `Alert` row it makes; `alert_id`),
``engine`` (`AlertEngine`: feed / advance / snapshot / restore, grouping,
repeat offences, precision).
"""

from stream_apps.engines.alerts.engine import SNAPSHOT_VERSION, AlertEngine
from stream_apps.engines.alerts.params import (
    DEFAULT_CAMERA_SEVERITY,
    SEVERITY_RANK,
    AlertCounters,
    AlertParams,
    Precision,
)
from stream_apps.engines.alerts.state import RESOLVING, alert_id

__all__ = [
    "AlertCounters",
    "AlertEngine",
    "AlertParams",
    "DEFAULT_CAMERA_SEVERITY",
    "Precision",
    "RESOLVING",
    "SEVERITY_RANK",
    "SNAPSHOT_VERSION",
    "alert_id",
]
