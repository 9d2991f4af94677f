"""The engine contract of DESIGN principle 1, run against every engine.

Modelled on Arroyo's ``tests/processing/strategies/test_all.py``: one suite,
every implementation. For each engine the same input is

- fed once, straight through;
- fed in two halves with ``snapshot`` -> JSON -> ``restore`` into a fresh engine
  between them, at several split points;

and both give identical outputs. ``advance`` to a time already reached emits
nothing; a record type the engine does not handle is counted or ignored, never
raised. Inputs are a simulated fleet (violations, health incidents) and, for
the ops engines, the camera engines' own outputs plus dispositions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from inference_workers.simulator import FleetConfig, simulate
from schemas.records import (
    CameraStatus,
    Disposition,
    FrameDetections,
    Inspection,
    Record,
    RegistryEntry,
    decode,
    encode,
)
from stream_apps.engines.alerts import AlertEngine
from stream_apps.engines.camera_health import CameraHealthEngine, HealthParams
from stream_apps.engines.rates import RateEngine
from stream_apps.engines.sla import SlaEngine, WorkingCalendar
from stream_apps.engines.violations import ViolationEngine


def _ts(record: Record) -> float:
    for name in ("frame_ts", "ts", "updated_at", "detected_at", "created_at"):
        value = getattr(record, name, None)
        if value is not None:
            return float(value)
    raise AssertionError(f"no event time on {record!r}")


@cache
def camera_feed() -> tuple[list[RegistryEntry], list[Record]]:
    """A small fleet with violations and health incidents, in publication order."""
    config = FleetConfig.for_profile("health_stress", cameras=6, duration_s=3600.0, seed=11)
    registry: list[RegistryEntry] = []
    records: list[Record] = []
    for _topic, _key, rec in simulate(config):
        (registry if isinstance(rec, RegistryEntry) else records).append(rec)
    return registry, records


@cache
def ops_feed() -> tuple[list[RegistryEntry], list[Record]]:
    """What the ops engines read: the camera engines' outputs and dispositions."""
    registry, records = camera_feed()
    health = CameraHealthEngine(HealthParams(warmup_frames=60))
    violations = ViolationEngine(suppressed_by=health.suppressing)
    for entry in registry:
        health.set_registry(entry)
        violations.set_registry(entry)
    outputs: list[Record] = []
    for rec in records:
        if isinstance(rec, FrameDetections):
            outputs += health.feed(rec) + violations.feed(rec)
        elif isinstance(rec, CameraStatus):
            outputs += health.feed(rec)
        now = _ts(rec)
        outputs += health.advance(now) + violations.advance(now)
    assert len(outputs) > 10, "the fleet must produce episodes for the ops engines"
    # Inspectors answer some alerts: verified after an hour, every other one
    # rectified or marked a false positive a day later; the rest never.
    alerts = AlertEngine()
    for entry in registry:
        alerts.feed(entry)
    created: dict[str, float] = {}
    alert_records: list[Record] = []
    for out in outputs:
        for alert in alerts.feed(out) + alerts.advance(_ts(out)):
            created.setdefault(alert.alert_id, alert.created_at)
            alert_records.append(alert)
    dispositions: list[Record] = []
    for i, (alert_id, at) in enumerate(sorted(created.items(), key=lambda kv: kv[1])):
        if i % 3 == 2:
            continue
        dispositions.append(
            Disposition(v=1, alert_id=alert_id, ts=at + 3600, actor="li", action="verified")
        )
        if i % 2 == 0:
            action = "rectified" if i % 4 == 0 else "false_positive"
            dispositions.append(
                Disposition(v=1, alert_id=alert_id, ts=at + 86400, actor="li", action=action)
            )
    assert dispositions, "the feed must raise alerts to answer"
    # The SLA engine reads alerts, the rates engine episodes and breaches: each
    # engine takes what it handles from one mixed stream and ignores the rest.
    return registry, sorted(outputs + alert_records + dispositions, key=_ts)


@cache
def loop_feed() -> tuple[list[RegistryEntry], list[Record]]:
    """The regulators' loop (issue 18): the hand-built month's camera events, alerts and
    inspections (brightkitchen/inspections_scenario.py)."""
    from brightkitchen import inspections_scenario as sc
    from schemas.records import TOPIC_ALERTS, TOPIC_CAMERA_EVENTS, TOPIC_INSPECTIONS, Alert

    _, outputs = sc.run_ops(until=sc.t(20))
    alerts = [decode(Alert, o.value) for o in outputs if o.topic == TOPIC_ALERTS]
    own = [r for t, _, r in sc.ops_feed() if t in (TOPIC_CAMERA_EVENTS, TOPIC_INSPECTIONS)]
    return sc.registry(), sorted(alerts + own, key=_ts)


def _loop():
    from stream_apps.engines.loop import RegulatorsLoop

    calendar = _calendar()
    sla = SlaEngine(calendar)
    return RegulatorsLoop(calendar, lambda a: sla.deadlines(a.created_at)["rectify_overdue"])


def _calendar() -> WorkingCalendar:
    return WorkingCalendar(set(), set(), covered_years={2026})


def _plan():
    from stream_apps.engines.inspection_plan import InspectionPlanEngine

    return InspectionPlanEngine()


def _kpis():
    from stream_apps.engines.station_kpis import StationKpiEngine

    sla = SlaEngine(_calendar())
    return StationKpiEngine(lambda a: sla.deadlines(a.created_at)["rectify_overdue"])


def _key_monitoring():
    from stream_apps.engines.key_monitoring import KeyMonitoringEngine

    return KeyMonitoringEngine()


def _licences():
    from stream_apps.engines.licences import LicenceEngine

    return LicenceEngine(_calendar())


def _notifications():
    from stream_apps.engines.notifications import NotificationEngine, NotificationParams

    return NotificationEngine(NotificationParams(operator_webhooks=("*=json:http://x/y",)))


@dataclass(frozen=True)
class EngineCase:
    name: str
    make: Callable[[], Any]
    feed: Callable[[], tuple[list[RegistryEntry], list[Record]]]
    registry_by_feed: bool  # ops engines take registry entries through feed()
    label: str  # what the engine calls itself in its errors


CASES = [
    EngineCase("violations", ViolationEngine, camera_feed, False, "violation engine"),
    EngineCase(
        "camera_health",
        lambda: CameraHealthEngine(HealthParams(warmup_frames=60)),
        camera_feed,
        False,
        "camera-health",
    ),
    EngineCase("alerts", AlertEngine, ops_feed, True, "alert engine"),
    EngineCase(
        "sla", lambda: SlaEngine(WorkingCalendar(set(), set())), ops_feed, True, "SLA engine"
    ),
    EngineCase("rates", RateEngine, ops_feed, True, "rates engine"),
    EngineCase("regulators_loop", _loop, loop_feed, True, "regulators' loop"),
    # The loop's engines, each on its own too.
    EngineCase("inspection_plan", _plan, loop_feed, True, "inspection-plan engine"),
    EngineCase("station_kpis", _kpis, loop_feed, True, "station-KPI engine"),
    EngineCase("key_monitoring", _key_monitoring, loop_feed, True, "key-monitoring engine"),
    EngineCase("licences", _licences, loop_feed, True, "licence engine"),
    EngineCase("notifications", _notifications, ops_feed, True, "notification engine"),
]


def _fresh(case: EngineCase, registry: list[RegistryEntry]) -> Any:
    engine = case.make()
    for entry in registry:
        if case.registry_by_feed:
            engine.feed(entry)
        else:
            engine.set_registry(entry)
    return engine


def _drive(engine: Any, records: list[Record], clock: float) -> tuple[list[bytes], float]:
    """Feed records as a shell does (feed, then advance to the watermark)."""
    out: list[Record] = []
    for rec in records:
        out += engine.feed(rec)
        clock = max(clock, _ts(rec))
        out += engine.advance(clock)
    return [encode(r) for r in out], clock


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def case(request) -> EngineCase:
    return request.param


def test_fed_straight_through_is_deterministic(case):
    registry, records = case.feed()
    first, _ = _drive(_fresh(case, registry), records, 0.0)
    second, _ = _drive(_fresh(case, registry), records, 0.0)
    assert first == second
    assert first, f"{case.name}: the feed must produce outputs for the contract to mean anything"


@pytest.mark.parametrize("split", [0.1, 0.5, 0.9])
def test_snapshot_then_restore_gives_the_straight_through_outputs(case, split):
    registry, records = case.feed()
    whole, _ = _drive(_fresh(case, registry), records, 0.0)

    k = int(len(records) * split)
    before = _fresh(case, registry)
    head, clock = _drive(before, records[:k], 0.0)
    snapshot = json.loads(json.dumps(before.snapshot()))  # what a checkpoint stores
    after = _fresh(case, registry)
    after.restore(snapshot)
    tail, _ = _drive(after, records[k:], clock)
    assert head + tail == whole


def test_advance_to_a_time_already_reached_emits_nothing(case):
    registry, records = case.feed()
    engine = _fresh(case, registry)
    _, clock = _drive(engine, records, 0.0)
    engine.advance(clock + 7200.0)
    assert engine.advance(clock + 7200.0) == []
    assert engine.advance(clock) == []


def test_an_input_it_does_not_handle_is_never_raised(case):
    registry, records = case.feed()
    engine = _fresh(case, registry)
    k = len(records) // 2
    _, clock = _drive(engine, records[:k], 0.0)
    for stranger in (
        Disposition(v=1, alert_id="no-such-alert", ts=clock, actor="x", action="verified"),
        Inspection(
            v=1,
            operator_id="op-x",
            ts=clock,
            inspector="li",
            station="s",
            kind="online",
            result="pass",
        ),
    ):
        assert engine.feed(stranger) == []  # counted or ignored, but the stream goes on
    _drive(engine, records[k:], clock)


@pytest.mark.parametrize("version", [None, 0, 999, "1"], ids=lambda v: f"version={v!r}")
def test_restore_refuses_a_snapshot_version_it_does_not_read(case, version):
    """A checkpoint from another version is refused with the engine and version named,
    before anything is loaded: the engine is left as fresh as it was."""
    registry, records = case.feed()
    before = _fresh(case, registry)
    _drive(before, records[: len(records) // 2], 0.0)
    snapshot = json.loads(json.dumps(before.snapshot()))
    assert "version" in snapshot, f"{case.name}: a snapshot names its version"
    if version is None:
        del snapshot["version"]
    else:
        snapshot["version"] = version
    after = _fresh(case, registry)
    untouched = json.dumps(after.snapshot(), sort_keys=True)
    with pytest.raises(ValueError) as refused:
        after.restore(snapshot)
    message = str(refused.value)
    assert case.label in message and f"snapshot version {version!r}" in message, message
    assert json.dumps(after.snapshot(), sort_keys=True) == untouched


def test_the_loop_names_the_inner_engine_whose_snapshot_it_cannot_read():
    registry, records = loop_feed()
    case = next(c for c in CASES if c.name == "regulators_loop")
    before = _fresh(case, registry)
    _drive(before, records, 0.0)
    snapshot = json.loads(json.dumps(before.snapshot()))
    snapshot["licences"]["version"] = 7
    with pytest.raises(ValueError, match="licence engine snapshot version 7"):
        _fresh(case, registry).restore(snapshot)
