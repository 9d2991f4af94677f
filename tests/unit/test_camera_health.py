"""The camera-health engine's rules, one behaviour per test.

Frames come at 1 fps. T0 is 2026-11-02 08:00 in Asia/Shanghai, inside the test
kitchen's opening hours (07:00-22:00). Warm-up is shortened so a test reads
in minutes of event time, not hours.
"""

from __future__ import annotations

import json
import math
import random

import msgspec
import pytest

from schemas.records import CameraStatus, FrameDetections, Quality, RegistryEntry
from stream_apps.engines.camera_health import (
    CameraHealthEngine,
    HealthParams,
    camera_event_id,
)

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC = 08:00 Asia/Shanghai
PARAMS = HealthParams(warmup_frames=60)
WARM = 150  # seconds of normal frames that warm both baselines up


def unit(v):
    mean = sum(v) / len(v)
    v = [x - mean for x in v]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


rng = random.Random(7)
SCENE = unit([rng.uniform(0, 1) for _ in range(64)])
OTHER_VIEW = unit([rng.uniform(0, 1) for _ in range(64)])  # the camera turned away
NOISE = unit([rng.uniform(0, 1) for _ in range(64)])  # no structure left (lights off)
# A person in four cells near the camera: the view differs, but only briefly.
PERSON = unit([x + (0.5 if i in (27, 28, 35, 36) else 0.0) for i, x in enumerate(SCENE)])


def live_sharpness(t: int, base: float = 150.0) -> float:
    """A live picture's sharpness moves a little frame to frame (sensor noise)."""
    return base * (1 + 0.01 * (((t * 37) % 11) - 5) / 5)


def frame(t, b=0.5, s=None, sig=SCENE, camera="cam-1", seq=None):
    return FrameDetections(
        v=1,
        camera_id=camera,
        frame_ts=T0 + t,
        seq=int(t) if seq is None else seq,
        worker_id="w1",
        model="test",
        width=640,
        height=480,
        quality=Quality(
            brightness=b, sharpness=live_sharpness(t) if s is None else s, signature=sig
        ),
        detections=[],
    )


def status(t, state, camera="cam-1", detail=""):
    return CameraStatus(
        v=1, camera_id=camera, ts=T0 + t, worker_id="w1", state=state, fps=1.0, detail=detail
    )


def registry(camera="cam-1", hours=(("07:00", "22:00"),), tz="Asia/Shanghai", active=True):
    return RegistryEntry(
        v=1,
        camera_id=camera,
        kitchen_id="k1",
        operator_id="op-1",
        operator_name="Canteen No. 1",
        district="d",
        station="s",
        opening_hours=[list(h) for h in hours],
        timezone=tz,
        active=active,
    )


def engine(params=PARAMS, camera="cam-1", **reg):
    eng = CameraHealthEngine(params)
    eng.set_registry(registry(camera, **reg))
    return eng


def run(eng, records, until=None):
    out = []
    for r in records:
        out += eng.feed(r)
    if until is not None:
        out += eng.advance(T0 + until)
    return out


def normal(start, end, camera="cam-1"):
    return [frame(t, camera=camera) for t in range(start, end)]


def kinds(events):
    return [(e.kind, e.state) for e in events]


# -- offline ---------------------------------------------------------------------
def test_silence_longer_than_offline_after_s_opens_offline_at_the_last_frame():
    eng = engine()
    events = run(eng, normal(0, 100), until=163)
    assert events == []  # 99 + 60 s threshold + 5 s lateness not reached yet
    events = eng.advance(T0 + 200)
    assert kinds(events) == [("offline", "open")]
    ev = events[0]
    assert ev.started_at == T0 + 99
    assert ev.detected_at == T0 + 99 + 60 + 5
    assert ev.ended_at is None
    assert ev.operator_id == "op-1"
    assert "silence" in ev.detail


def test_offline_is_decided_by_other_cameras_frames_without_advance():
    eng = engine()
    records = normal(0, 100) + [frame(t, camera="cam-2") for t in range(0, 200)]
    records.sort(key=lambda r: r.frame_ts)
    events = run(eng, records)
    assert [(e.camera_id, e.kind, e.state) for e in events] == [("cam-1", "offline", "open")]
    assert events[0].detected_at == T0 + 164


def test_a_blip_shorter_than_offline_after_s_raises_nothing_even_when_disconnected():
    eng = engine()
    records = normal(0, 100) + [status(100, "disconnected", detail="rtsp timeout")]
    records += [status(110, "connecting"), status(140, "streaming")]
    records += normal(150, 400)  # 50 s without frames: a reconnect
    assert run(eng, records, until=400) == []


def test_offline_closes_when_frames_return():
    eng = engine()
    events = run(eng, normal(0, 100), until=300)
    events += run(eng, normal(300, 320))
    assert kinds(events) == [("offline", "open"), ("offline", "closed")]
    opened, closed = events
    assert closed.event_id == opened.event_id
    assert closed.ended_at == T0 + 300


def test_a_streaming_status_keeps_a_camera_online():
    eng = engine()
    records = normal(0, 100) + [status(t, "streaming") for t in range(100, 200, 10)]
    assert run(eng, records, until=250) == []


def test_offline_detail_says_the_worker_saw_a_disconnect():
    eng = engine()
    records = normal(0, 100) + [status(101, "disconnected", detail="rtsp timeout")]
    (ev,) = run(eng, records, until=300)
    assert ev.kind == "offline"
    assert "disconnected" in ev.detail and "rtsp timeout" in ev.detail


def test_an_unknown_camera_is_processed_with_operator_unknown():
    eng = CameraHealthEngine(PARAMS)
    (ev,) = run(eng, normal(0, 100, camera="cam-x"), until=300)
    assert ev.kind == "offline"
    assert ev.operator_id is None
    assert eng.counters["unregistered_frames"] == 100


# -- frozen ----------------------------------------------------------------------
def test_identical_frames_for_frozen_after_s_open_frozen_until_the_picture_changes():
    eng = engine()
    stuck = [frame(t, s=150.0) for t in range(WARM, WARM + 300)]
    events = run(eng, normal(0, WARM) + stuck + normal(WARM + 300, WARM + 320))
    assert kinds(events) == [("frozen", "open"), ("frozen", "closed")]
    opened, closed = events
    assert opened.started_at == T0 + WARM
    assert opened.detected_at == T0 + WARM + 120
    assert closed.ended_at == T0 + WARM + 300


def test_a_static_scene_with_sensor_noise_is_not_frozen():
    eng = engine()
    # Empty kitchen: brightness and signature steady, sharpness moves ~0.3 %.
    quiet = [frame(t, s=live_sharpness(t) * 0.3 + 100) for t in range(WARM, WARM + 600)]
    assert run(eng, normal(0, WARM) + quiet) == []


# -- dark and blurred --------------------------------------------------------------
def test_blurred_within_opening_hours_opens_after_sustained_s():
    eng = engine()
    smeared = [frame(t, s=10.0 + t % 3) for t in range(WARM, WARM + 200)]
    events = run(eng, normal(0, WARM) + smeared + normal(WARM + 200, WARM + 250))
    assert kinds(events) == [("blurred", "open"), ("blurred", "closed")]
    opened, closed = events
    assert opened.started_at == T0 + WARM
    assert opened.detected_at == T0 + WARM + 120
    assert "sharpness" in opened.detail and "baseline" in opened.detail
    assert closed.ended_at == T0 + WARM + 200


def test_dark_within_opening_hours_opens_when_brightness_and_structure_are_lost():
    eng = engine()
    lights_off = [frame(t, b=0.04, sig=NOISE) for t in range(WARM, WARM + 200)]
    events = run(eng, normal(0, WARM) + lights_off)
    assert kinds(events) == [("dark", "open")]
    assert events[0].started_at == T0 + WARM
    assert events[0].detail.startswith("brightness 0.040 vs baseline 0.5")


def test_dark_after_closing_raises_nothing():
    # Open 07:00-08:30 local; judged 07:10-08:20 (10 min margin); T0 is 08:00.
    eng = engine(hours=(("07:00", "08:30"),))
    lights_off = [frame(t, b=0.04, sig=NOISE) for t in range(1900, 2600)]  # from 08:31
    assert run(eng, normal(0, 1900) + lights_off) == []


def test_an_ir_switch_changes_brightness_but_raises_nothing():
    eng = engine()
    # Brightness drops to a quarter; the structure (signature) stays; sharpness
    # follows the exposure (contrast squared), so contrast-normalised it holds.
    ir = [frame(t, b=0.12, s=live_sharpness(t) * 0.0576) for t in range(WARM, WARM + 600)]
    assert run(eng, normal(0, WARM) + ir) == []


def test_lights_brighter_raises_nothing():
    eng = engine()
    bright = [frame(t, b=0.9, s=live_sharpness(t) * 3.24) for t in range(WARM, WARM + 600)]
    assert run(eng, normal(0, WARM) + bright) == []


def test_a_dark_run_broken_by_a_normal_frame_starts_again():
    eng = engine()
    flicker = [
        frame(t) if t % 60 == 0 else frame(t, b=0.04, sig=NOISE) for t in range(WARM, WARM + 400)
    ]
    assert run(eng, normal(0, WARM) + flicker) == []


# -- angle changed -------------------------------------------------------------------
def test_a_sustained_view_change_raises_one_angle_changed():
    eng = engine()
    turned = [frame(t, sig=OTHER_VIEW) for t in range(WARM, WARM + 900)]
    events = run(eng, normal(0, WARM) + turned)
    assert kinds(events) == [("angle_changed", "open")]
    ev = events[0]
    assert T0 + WARM <= ev.started_at < T0 + WARM + PARAMS.signature_every_s
    assert ev.detected_at - ev.started_at >= PARAMS.angle_sustained_s
    assert "signature distance" in ev.detail


def test_people_crossing_raise_nothing():
    eng = engine()
    records = normal(0, WARM)
    t = WARM
    for _ in range(10):  # a minute with someone in front, then 15 s clear
        records += [frame(t + i, sig=PERSON) for i in range(60)]
        records += normal(t + 60, t + 75)
        t += 75
    assert run(eng, records) == []


def test_the_view_coming_back_closes_angle_changed():
    eng = engine()
    turned = [frame(t, sig=OTHER_VIEW) for t in range(WARM, WARM + 400)]
    events = run(eng, normal(0, WARM) + turned + normal(WARM + 400, WARM + 500))
    assert kinds(events) == [("angle_changed", "open"), ("angle_changed", "closed")]
    assert T0 + WARM + 400 <= events[1].ended_at < T0 + WARM + 405


def test_acknowledging_makes_the_new_view_the_baseline():
    eng = engine()
    events = run(eng, normal(0, WARM) + [frame(t, sig=OTHER_VIEW) for t in range(WARM, 600)])
    assert kinds(events) == [("angle_changed", "open")]
    (closed,) = eng.acknowledge("cam-1", T0 + 600)
    assert (closed.kind, closed.state, closed.ended_at) == ("angle_changed", "closed", T0 + 600)
    assert closed.event_id == events[0].event_id
    assert run(eng, [frame(t, sig=OTHER_VIEW) for t in range(600, 2000)]) == []


def test_an_unacknowledged_view_becomes_the_baseline_after_rebaseline_after_s():
    eng = engine(HealthParams(warmup_frames=60, rebaseline_after_s=600))
    turned = [frame(t, sig=OTHER_VIEW) for t in range(WARM, 3000)]
    events = run(eng, normal(0, WARM) + turned)
    assert kinds(events) == [("angle_changed", "open"), ("angle_changed", "closed")]
    opened, closed = events
    assert opened.detected_at + 600 <= closed.ended_at < opened.detected_at + 605
    assert "new view accepted" in closed.detail


def test_acknowledge_without_an_open_angle_change_does_nothing():
    eng = engine()
    run(eng, normal(0, WARM))
    assert eng.acknowledge("cam-1", T0 + WARM) == []
    assert eng.acknowledge("nobody", T0 + WARM) == []


# -- suppression, state, ordering, ids ----------------------------------------------
def test_suppressing_names_the_open_event_and_clears_when_it_closes():
    eng = engine()
    run(eng, normal(0, WARM))
    assert eng.suppressing("cam-1") is None
    run(eng, [frame(t, b=0.04, sig=NOISE) for t in range(WARM, WARM + 200)])
    assert eng.suppressing("cam-1") == "dark"
    run(eng, normal(WARM + 200, WARM + 300))
    assert eng.suppressing("cam-1") is None
    assert eng.suppressing("never-seen") is None


def test_blurred_and_offline_do_not_suppress_violations():
    eng = engine()
    run(eng, normal(0, WARM) + [frame(t, s=10.0 + t % 3) for t in range(WARM, WARM + 200)])
    assert eng.open_events() == [("cam-1", "blurred")]
    assert eng.suppressing("cam-1") is None


def scenario(camera="cam-1"):
    """A camera that goes dark, recovers, freezes, drops offline and comes back."""
    recs = normal(0, WARM, camera)
    recs += [frame(t, b=0.04, sig=NOISE, camera=camera) for t in range(WARM, WARM + 200)]
    recs += normal(WARM + 200, 600, camera)
    recs += [frame(t, s=150.0, camera=camera) for t in range(600, 800)]
    recs += normal(800, 850, camera) + [status(851, "disconnected", camera)]
    recs += normal(1000, 1100, camera)
    return recs


def test_snapshot_and_restore_mid_episode_gives_no_second_open():
    whole = run(engine(), scenario())
    first = engine()
    records = scenario()
    cut = next(i for i, r in enumerate(records) if r.frame_ts == T0 + 750)  # frozen is open
    events = run(first, records[:cut])
    assert ("frozen", "open") in kinds(events)
    saved = json.loads(json.dumps(first.snapshot()))
    second = CameraHealthEngine(PARAMS)
    second.restore(saved)
    events += run(second, records[cut - 20 :])  # an at-least-once replay overlaps
    assert events == whole
    assert kinds(whole).count(("frozen", "open")) == 1


def test_out_of_order_within_lateness_and_duplicates_give_identical_output():
    cams = ("cam-1", "cam-2", "cam-3")
    ordered = []
    for c in cams:
        ordered += scenario(c)
    ordered.sort(key=lambda r: r.frame_ts if isinstance(r, FrameDetections) else r.ts)
    shuffle = random.Random(3)
    disordered = []
    for r in ordered:
        disordered.append(r)
        if shuffle.random() < 0.1:
            disordered.append(r)  # delivered twice
    disordered.sort(
        key=lambda r: (
            (r.frame_ts if isinstance(r, FrameDetections) else r.ts) + shuffle.uniform(0, 4.9)
        )
    )

    def events_of(records):
        eng = CameraHealthEngine(PARAMS)
        for c in cams:
            eng.set_registry(registry(c))
        out = run(eng, records, until=1200)
        return sorted(out, key=lambda e: (e.camera_id, e.started_at, e.kind, e.state)), eng

    expected, _ = events_of(ordered)
    got, eng = events_of(disordered)
    assert got == expected
    assert {e.kind for e in expected} == {"dark", "frozen", "offline"}
    assert eng.counters["duplicates"] > 0


def test_frames_later_than_lateness_are_dropped_and_counted():
    eng = engine()
    run(eng, normal(0, 100))
    run(eng, [frame(50)])
    assert eng.counters["late_dropped"] == 1


def test_event_ids_are_deterministic():
    a = run(engine(), scenario())
    b = run(engine(), scenario())
    assert [e.event_id for e in a] == [e.event_id for e in b]
    for e in a:
        assert e.event_id == camera_event_id("cam-1", e.kind, e.started_at)
        assert len(e.event_id) == 32
    assert len({(e.event_id) for e in a}) == len(a) // 2


def test_an_inactive_camera_raises_nothing():
    eng = engine(active=False)
    assert run(eng, normal(0, 100), until=1000) == []


def test_a_snapshot_of_another_version_is_refused_with_the_reason():
    from stream_apps.engines.camera_health import SNAPSHOT_VERSION

    snap = CameraHealthEngine().snapshot()
    assert snap["version"] == SNAPSHOT_VERSION
    snap["version"] = 1
    with pytest.raises(ValueError, match="version 1"):
        CameraHealthEngine().restore(snap)


# -- cold starts (default warm-up: 300 frames, the view after 6 samples) -------------------


def _opened(events, kind):
    return [e for e in events if e.kind == kind and e.state == "open"]


def test_a_camera_turned_two_minutes_after_it_first_connects_is_caught():
    eng = engine(HealthParams())
    frames = normal(0, 120) + [frame(t, sig=OTHER_VIEW) for t in range(120, 900)]
    (ev,) = _opened(run(eng, frames), "angle_changed")
    assert ev.started_at == pytest.approx(T0 + 120, abs=6)
    assert ev.detected_at <= T0 + 120 + 300 + 10


def test_the_view_is_learned_and_judged_before_the_kitchen_opens():
    # 08:00 local; the kitchen opens at 10:00: no brightness/sharpness baseline yet.
    eng = engine(HealthParams(), hours=(("10:00", "22:00"),))
    frames = normal(0, 300) + [frame(t, sig=OTHER_VIEW) for t in range(300, 1000)]
    assert len(_opened(run(eng, frames), "angle_changed")) == 1


def test_lights_off_before_opening_is_not_read_as_a_turned_camera():
    eng = engine(HealthParams(), hours=(("10:00", "22:00"),))
    frames = normal(0, 300) + [frame(t, b=0.03, sig=NOISE) for t in range(300, 1500)]
    assert run(eng, frames) == []


@pytest.mark.parametrize("start", [60, 120, 200])
def test_a_lens_blurred_within_the_warm_up_is_still_raised(start):
    eng = engine(HealthParams())
    frames = normal(0, start) + [
        frame(t, s=live_sharpness(t) * 0.08) for t in range(start, start + 900)
    ]
    (ev,) = _opened(run(eng, frames), "blurred")
    assert ev.detected_at <= T0 + max(start, 300) + 120 + 5


def test_a_lens_dark_within_the_warm_up_is_still_raised():
    eng = engine(HealthParams())
    frames = normal(0, 90) + [
        frame(t, b=0.04, s=live_sharpness(t) * 0.3, sig=NOISE) for t in range(90, 900)
    ]
    assert len(_opened(run(eng, frames), "dark")) == 1


@pytest.mark.parametrize("dark_from, dark_until", [(0, 200), (120, 280), (60, 330)])
def test_a_camera_dark_for_part_of_its_warm_up_is_not_blurred_once_lit(dark_from, dark_until):
    # A dark frame's sharpness / brightness^2 is tens of times the normal
    # picture's: learnt into the warm-up quantile, it would make every normal
    # frame after the dark spell read as blurred (a false event that never closes).
    eng = engine(HealthParams())
    frames = (
        normal(0, dark_from)
        + [
            frame(t, b=0.05, s=live_sharpness(t) * 0.6, sig=NOISE)
            for t in range(dark_from, dark_until)
        ]
        + normal(dark_until, 1800)
    )
    events = run(eng, frames)
    assert _opened(events, "blurred") == []
    # ...and the lens blurring later is still raised against the lit picture.
    later = [frame(t, s=live_sharpness(t) * 0.08) for t in range(1800, 2100)]
    (ev,) = _opened(run(eng, later), "blurred")
    assert ev.started_at == T0 + 1800


def test_a_reference_view_in_the_registry_catches_a_camera_turned_before_we_saw_it():
    eng = CameraHealthEngine(HealthParams())
    eng.set_registry(msgspec.structs.replace(registry(), reference_signature=SCENE))
    frames = [frame(t, sig=OTHER_VIEW) for t in range(0, 600)]
    (ev,) = _opened(run(eng, frames), "angle_changed")
    assert ev.started_at == T0
    # Without the reference the turned view is all the engine knows: nothing to raise.
    assert _opened(run(engine(HealthParams()), frames), "angle_changed") == []
    # The reference survives a snapshot.
    again = CameraHealthEngine(HealthParams())
    again.restore(json.loads(json.dumps(eng.snapshot())))
    assert again.snapshot()["registry"]["cam-1"]["reference_signature"] is not None


# -- many cameras: deadlines in a heap, idle cameras expire --------------------------------


def test_deadlines_cost_a_heap_step_per_camera_not_a_scan_of_all(monkeypatch):
    eng = CameraHealthEngine(PARAMS)
    checks = 0
    real = CameraHealthEngine._check

    def counting(self, cam, out):
        nonlocal checks
        checks += 1
        return real(self, cam, out)

    monkeypatch.setattr(CameraHealthEngine, "_check", counting)
    n = 5000
    for i in range(n):
        eng.feed(frame(i * 0.01, camera=f"c{i}"))
    # One camera keeps streaming for 10 minutes: the others fall silent once.
    events = run(eng, [frame(t, camera="c0", seq=t + 1) for t in range(1, 600)])
    assert sum(e.kind == "offline" for e in events) == n - 1
    # One deadline per silent camera, plus c0's re-arms (one per offline wait):
    # a scan per advance would be n per call (millions here).
    assert checks <= n + 20


def test_an_idle_camera_expires_after_idle_expiry_s_and_its_outage_still_closes():
    params = HealthParams(warmup_frames=60, idle_expiry_s=3600.0)
    eng = CameraHealthEngine(params)
    eng.set_registry(registry("live"))
    eng.set_registry(registry("gone", active=False))
    run(eng, normal(0, 200, camera="live") + normal(0, 200, camera="gone"))
    events = eng.advance(T0 + 200 + 3600 + 120)
    assert kinds(events) == [("offline", "open")]  # the inactive camera never pages
    assert eng.advance(T0 + 200 + 3600 * 2) == []
    assert eng.counters["expired"] == 2
    assert eng.counters["cameras"] == 1  # "gone" forgotten; "live" keeps its outage
    back = run(eng, normal(8000, 8010, camera="live"))
    assert kinds(back) == [("offline", "closed")]
    assert back[0].event_id == events[0].event_id
