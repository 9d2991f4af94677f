"""The licence engine's advance() skips its scans between deadlines.

It keeps the earliest next licence stage or profile deadline and does nothing
before it; the alerts must be those of an engine that scans at every step,
with registry entries arriving between steps (a new operator, a licence added
late) still seen.
"""

from __future__ import annotations

import math

from schemas.records import Licence, RegistryEntry
from stream_apps.engines.licences import LicenceEngine
from stream_apps.engines.sla import WorkingCalendar

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC
DAY = 86_400.0


def entry(op: str, cam: str, licences: list[Licence]) -> RegistryEntry:
    return RegistryEntry(
        v=1, camera_id=cam, kitchen_id=f"k-{op}", operator_id=op, operator_name=op,
        district="d", station="s", opening_hours=[("08:00", "20:00")], licences=licences,
    )  # fmt: skip


def licence(kind: str, number: str, expires: float) -> Licence:
    return Licence(kind=kind, number=number, holder="h", expires_at=expires)


def alerts(step_s: float, scan_every_step: bool = False) -> list[tuple]:
    engine = LicenceEngine(WorkingCalendar(set(), set(), covered_years={2026, 2027}))
    out = []
    engine.feed(entry("op-1", "c1", [licence("food_business", "F1", T0 + 40 * DAY)]))
    engine.feed(entry("op-2", "c2", []))  # no licence: its profile is incomplete
    t = T0
    while t < T0 + 60 * DAY:
        t += step_s
        if scan_every_step:
            engine._wake = -math.inf  # as before the skip: every step scans
        out += engine.advance(t)
        if T0 + 10 * DAY <= t < T0 + 10 * DAY + step_s:  # between steps, ten days in:
            engine.feed(entry("op-3", "c3", []))  # a new operator
            engine.feed(entry("op-2", "c2", [licence("health", "H2", T0 + 20 * DAY)]))
    return sorted((a.operator_id, a.kind, a.stage, a.due_at) for a in out)


def test_skipping_between_deadlines_raises_what_scanning_every_step_raises():
    hourly = alerts(3600.0)
    assert hourly == alerts(3600.0, scan_every_step=True)
    assert alerts(7 * DAY) == alerts(7 * DAY, scan_every_step=True)
    stages = {(op, kind, stage) for op, kind, stage, _ in hourly}
    assert {("op-1", "food_business", s) for s in ("30d", "7d", "0d", "expired")} <= stages
    assert ("op-2", "health", "expired") in stages  # a licence added between steps
    assert ("op-2", "profile", "profile_incomplete") in stages  # health is not food_business
    assert ("op-3", "profile", "profile_incomplete") in stages  # an operator added later
    assert ("op-1", "profile", "profile_incomplete") not in stages
