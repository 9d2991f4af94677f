"""RateEngine snapshot/restore: a restored engine is the engine it was snapshotted from.

One feed touches every piece of state the engine keeps (cameras waiting for the
clock, settled exposure, open and closed health gaps, a deactivated camera,
counted ids, a breach and a repeat offence, buckets of every resolution), with a
watermark that moves in steps that are not a divisor of the 5-minute cadence, so
most snapshots are taken inside a bucket, with exposure settled ``settle_s``
behind. At every step the engine is snapshotted, the snapshot goes through the
ops checkpoint's encoding (msgspec JSON), and a fresh engine restored from it is
driven with the rest of the feed beside the undisturbed one: every output, every
exposure query and the final state must be identical.
"""

from __future__ import annotations

import msgspec

from schemas.records import Alert, Record
from stream_apps.engines.rates import GradingParams, RateEngine, RateParams
from tests.unit.test_rates import T0, breach, health, reg, violation

# A grade needs only half an hour here, so rows go from "ungraded, N h more
# needed" to graded within the feed and both depend on the exposure.
PARAMS = RateParams(grading=GradingParams(min_exposure_h=0.5))
TICK_S = 47.0  # watermark steps: most land inside a 300 s bucket
END_S = 2.5 * 3600


def repeat_alert(operator: str, created: float) -> Alert:
    return Alert(
        v=1,
        alert_id=f"{operator}-repeat-{created}",
        source="violation",
        cls="no_hat",
        severity="major",
        state="open",
        kitchen_id="k-" + operator,
        operator_id=operator,
        district="河东区",
        station="友谊路所",
        camera_ids=["c3"],
        members=["m1"],
        first_started_at=T0 + created,
        created_at=T0 + created,
        group_until=T0 + created + 60,
        updated_at=T0 + created,
        revision=0,
        verified_at=None,
        resolved_at=None,
        resolution=None,
        last_actor=None,
        repeat_of="earlier-alert",
    )


def steps() -> list[tuple[str, float | Record]]:
    """("feed", record) and ("advance", event time) in the order a shell gives them."""
    first = [reg("c1"), reg("c2"), reg("c3", operator="op2", district="河东区")]
    arrivals: list[tuple[float, Record]] = [
        (140, violation("c1", 130)),
        (1020, violation("c2", 1010, cls="rodent")),
        (1560, health("c2", 1500, None)),  # open: exposure stops from 1500
        (2232, violation("c3", 2222, cls="no_mask")),
        (2470, health("c2", 1500, 2460)),  # closed
        (3700, health("c3", 3000, 3500, kind="frozen")),  # arrives closed, late
        (3905, breach("op1", "yellow_card", 3900)),
        (4331, violation("c1", 4321)),
        (4410, violation("c1", 130)),  # replayed: counts once
        (4805, repeat_alert("op2", 4800)),
        (5000, reg("c2", active=False)),
        (5600, reg("c2")),
        (6110, violation("c3", 6100)),
        (6560, health("c1", 6500, None, kind="dark")),  # still open at the end
        (7000, violation("c2", 6990, cls="no_hat", n=1)),
    ]
    out: list[tuple[str, float | Record]] = [("feed", r) for r in first]  # before any clock
    ticks = [i * TICK_S for i in range(int(END_S // TICK_S) + 1)]
    merged = sorted(
        [(t, 1, None) for t in ticks] + [(t, 0, r) for t, r in arrivals], key=lambda x: x[:2]
    )
    for t, _, rec in merged:
        out.append(("advance", T0 + t))
        if rec is not None:
            out.append(("feed", rec))
    return out


STEPS = steps()


def drive(engine: RateEngine, todo) -> list[bytes]:
    out = []
    for kind, x in todo:
        rows = engine.feed(x) if kind == "feed" else engine.advance(x)
        out += [msgspec.json.encode(r) for r in rows]
    return out


def state(engine: RateEngine) -> bytes:
    return msgspec.json.encode(engine.snapshot())


def test_the_feed_exercises_what_a_snapshot_must_carry():
    e = RateEngine(PARAMS)
    rows = [msgspec.json.decode(r) for r in drive(e, STEPS)]
    reasons = {r["reason"].split(":")[0] for r in rows}
    assert "not yet graded" in reasons and reasons & {"A", "B", "C", "D"}
    assert {r["operator_id"] for r in rows} == {"op1", "op2"}
    assert e.counters.duplicates == 1 and e.counters.breaches == 1
    assert any(r["sla_breaches"] for r in rows)
    assert any(0 < r["hours_to_grade"] < 0.5 for r in rows)


def test_restored_mid_bucket_every_later_output_equals_the_undisturbed_engine():
    undisturbed = RateEngine(PARAMS)
    whole = drive(undisturbed, STEPS)
    final = state(undisturbed)
    mid_bucket = 0
    for k in range(len(STEPS) + 1):
        before = RateEngine(PARAMS)
        head = drive(before, STEPS[:k])
        snap = msgspec.json.decode(state(before))  # what the ops checkpoint stores
        after = RateEngine(PARAMS)
        after.restore(snap)
        assert state(after) == state(before), f"step {k}: restored state differs"
        now = before._now
        if now % PARAMS.emit_every_s:
            mid_bucket += 1
            for op in ("op1", "op2"):
                for window, _ in PARAMS.windows:
                    assert after.exposure_hours(op, window, now) == before.exposure_hours(
                        op, window, now
                    )
        tail = drive(after, STEPS[k:])
        assert head + tail == whole, f"step {k}: outputs after the restore differ"
        assert state(after) == final, f"step {k}: final state differs"
    assert mid_bucket > len(STEPS) // 2
