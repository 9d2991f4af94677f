"""The violation debouncer's rules, one behaviour per test."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import msgspec
import pytest

from schemas.records import Detection, FrameDetections, Quality
from stream_apps.engines.violations import (
    DEFAULT_CLASS_PARAMS,
    SNAPSHOT_VERSION,
    ClassParams,
    ViolationEngine,
    ViolationParams,
    violation_id,
)

T0 = 1_793_577_600.0  # 2026-11-02 00:00 UTC
SIG = [0.125] * 32 + [-0.125] * 32
BOX = (0.1, 0.2, 0.3, 0.4)


def frame(ts: float, classes=(), score: float = 0.9, camera: str = "cam-1", seq=None, box=BOX):
    return FrameDetections(
        v=1,
        camera_id=camera,
        frame_ts=T0 + ts,
        seq=int(ts) if seq is None else seq,
        worker_id="w1",
        model="test",
        width=640,
        height=480,
        # A live picture: sensor noise makes every frame's sharpness a little different.
        quality=Quality(brightness=0.5, sharpness=100.0 + (ts % 97) * 0.01, signature=SIG),
        detections=[Detection(cls=c, score=score, box=box) for c in classes],
    )


def run(engine, frames, until=None):
    out = []
    for f in frames:
        out += engine.feed(f)
    if until is not None:
        out += engine.advance(T0 + until)
    return out


def moving(t: float, speed: float = 0.03) -> tuple[float, float, float, float]:
    """A box whose centre travels ``speed`` of the frame per second, to and fro."""
    x = 0.1 + (speed * t) % 0.6
    return (x, 0.4, x + 0.05, 0.45)


def stream(seconds, present, cls="no_hat", camera="cam-1", box=None):
    """One frame per second; the class is detected where present(t) is true."""
    return [
        frame(t, [cls] if present(t) else [], camera=camera, box=BOX if box is None else box(t))
        for t in range(seconds)
    ]


def test_a_steady_violation_gives_one_open_and_one_closed():
    frames = stream(400, lambda t: 100 <= t < 200)
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed"]
    opened, closed = events
    assert opened.started_at == T0 + 100
    assert opened.ended_at is None
    assert closed.ended_at == T0 + 199
    assert opened.violation_id == closed.violation_id == violation_id("cam-1", "no_hat", T0 + 100)


def test_detected_at_is_when_the_evidence_was_enough():
    frames = stream(300, lambda t: 100 <= t < 200)
    opened = run(ViolationEngine(), frames)[0]
    # no_hat needs 4 hits: frames 100..103
    assert opened.detected_at == T0 + 103
    assert opened.frames == 4


def test_flicker_inside_an_episode_does_not_split_it():
    rng = random.Random(3)
    frames = stream(600, lambda t: 100 <= t < 400 and rng.random() < 0.6)
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed"]


def test_a_single_false_positive_raises_nothing():
    frames = stream(300, lambda t: t in (50, 170))
    assert run(ViolationEngine(), frames, until=400) == []


def test_episodes_closer_than_the_merge_gap_are_one_episode():
    frames = stream(600, lambda t: 100 <= t < 150 or 190 <= t < 240)
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed"]
    assert events[1].ended_at == T0 + 239


def test_episodes_further_apart_than_the_merge_gap_are_two():
    frames = stream(800, lambda t: 100 <= t < 150 or 250 <= t < 300)
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed", "open", "closed"]
    assert events[0].violation_id != events[2].violation_id


def test_a_rodent_in_two_confident_frames_is_enough():
    frames = stream(200, lambda t: t in (100, 102), cls="rodent", box=moving)
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed"]
    assert events[0].severity == "critical"
    assert events[0].detected_at == T0 + 102


def test_a_missing_hat_must_persist_where_a_rodent_need_not():
    frames = stream(200, lambda t: t in (100, 102), cls="no_hat")
    assert run(ViolationEngine(), frames, until=400) == []


def test_low_scores_are_not_evidence():
    frames = [frame(t, ["rodent"], score=0.4) for t in range(100)]
    assert run(ViolationEngine(), frames, until=300) == []


def test_per_class_params_come_from_settings():
    params = ViolationParams(classes={"no_hat": ClassParams(open_hits=2, open_window_s=5)})
    frames = stream(200, lambda t: t in (100, 101), cls="no_hat")
    assert [e.state for e in run(ViolationEngine(params), frames)] == ["open", "closed"]


def test_a_silent_camera_closes_its_episode_on_the_watermark():
    engine = ViolationEngine()
    events = run(engine, stream(130, lambda t: t >= 100))
    assert [e.state for e in events] == ["open"]
    assert engine.advance(T0 + 150) == []  # not silent long enough yet
    closed = engine.advance(T0 + 200)
    assert [e.state for e in closed] == ["closed"]
    assert closed[0].ended_at == T0 + 129  # silence flushed the reorder buffer


def test_the_last_seconds_stay_open_at_the_end_of_input():
    events = run(ViolationEngine(), stream(130, lambda t: t >= 100))
    assert [e.state for e in events] == ["open"]


def test_out_of_order_frames_within_lateness_give_the_same_answer():
    rng = random.Random(5)
    frames = stream(900, lambda t: 100 <= t < 300 and rng.random() < 0.7 or t == 500)
    # Each frame is delayed by up to 4.9 s: it arrives after frames at most
    # that much newer, as the contract allows.
    shuffled = sorted(frames, key=lambda f: f.frame_ts + rng.uniform(0, 4.9))
    assert shuffled != frames
    assert run(ViolationEngine(), shuffled) == run(ViolationEngine(), frames)


def test_duplicate_frames_give_the_same_answer():
    frames = stream(600, lambda t: 100 <= t < 300)
    doubled = [f for f in frames for _ in (0, 1)]
    engine = ViolationEngine()
    assert run(engine, doubled) == run(ViolationEngine(), frames)
    assert engine.counters.duplicates == len(frames)


def test_frames_later_than_allowed_are_dropped_and_counted():
    engine = ViolationEngine()
    run(engine, stream(100, lambda t: False))
    assert engine.feed(frame(50, ["rodent"], seq=9999)) == []
    assert engine.counters.late_dropped == 1


def test_restore_from_a_snapshot_continues_without_a_second_open():
    frames = stream(600, lambda t: 100 <= t < 300)
    whole = run(ViolationEngine(), frames)
    first = ViolationEngine()
    before = run(first, frames[:200])
    snap = json.loads(json.dumps(first.snapshot()))  # it must survive JSON
    second = ViolationEngine()
    second.restore(snap)
    # An at-least-once replay re-delivers frames the snapshot already covers.
    after = run(second, frames[150:])
    assert before + after == whole
    assert [e.state for e in before + after] == ["open", "closed"]


def test_cameras_and_classes_are_independent():
    a = stream(400, lambda t: 100 <= t < 200, camera="a")
    b = stream(400, lambda t: 120 <= t < 220, cls="smoking", camera="b", box=moving)
    merged = [f for pair in zip(a, b, strict=True) for f in pair]
    events = run(ViolationEngine(), merged)
    assert sorted((e.camera_id, e.cls, e.state) for e in events) == [
        ("a", "no_hat", "closed"),
        ("a", "no_hat", "open"),
        ("b", "smoking", "closed"),
        ("b", "smoking", "open"),
    ]


def test_unknown_classes_are_counted_and_ignored():
    engine = ViolationEngine()
    assert run(engine, stream(100, lambda t: True, cls="unicorn"), until=300) == []
    assert engine.counters.unknown_class == 100


def test_detections_from_a_suppressed_camera_raise_nothing():
    engine = ViolationEngine(suppressed_by=lambda camera_id: "dark")
    assert run(engine, stream(300, lambda t: 100 <= t < 200, cls="rodent"), until=500) == []
    assert engine.counters.suppressed_frames == 100


def test_peak_score_and_evidence_follow_the_best_frame():
    frames = stream(300, lambda t: 100 <= t < 120)
    frames[110] = frame(110, ["no_hat"], score=0.99)
    closed = run(ViolationEngine(), frames)[-1]
    assert closed.peak_score == 0.99
    assert closed.evidence.frame_ts == T0 + 110
    assert closed.frames == 20


def test_an_idle_camera_is_forgotten_after_the_expiry():
    engine = ViolationEngine(ViolationParams(idle_expiry_s=600))
    run(engine, stream(100, lambda t: False))
    engine.advance(T0 + 200)
    assert engine.cameras() == 1
    engine.advance(T0 + 800)
    assert engine.cameras() == 0


def test_a_camera_whose_episode_closed_in_silence_is_forgotten_after_the_expiry():
    """advance() skips its scan until the earliest deadline of any camera; the
    deadline after a close in silence is the idle expiry, not never."""
    engine = ViolationEngine(ViolationParams(idle_expiry_s=600))
    events = run(engine, stream(100, lambda t: 20 <= t < 100))  # present until it goes silent
    events += engine.advance(T0 + 200)  # silent: the episode closes
    assert [e.state for e in events] == ["open", "closed"]
    assert engine.cameras() == 1
    engine.advance(T0 + 650)
    assert engine.cameras() == 1
    engine.advance(T0 + 720)  # 600 s after its last frame
    assert engine.cameras() == 0


def test_advance_between_deadlines_changes_nothing_and_a_new_camera_is_seen():
    engine = ViolationEngine()
    run(engine, stream(50, lambda t: 10 <= t < 50))
    assert engine.advance(T0 + 52) == []  # before any deadline: the scan is skipped
    late = stream(30, lambda t: t >= 5, camera="cam-2")  # a camera first seen later...
    run(engine, [replace_ts(f, -40) for f in late])  # ...with older frames than cam-1
    closed = engine.advance(T0 + 400)
    assert sorted(e.camera_id for e in closed if e.state == "closed") == ["cam-1", "cam-2"]


def replace_ts(f: FrameDetections, shift: float) -> FrameDetections:
    return msgspec.structs.replace(f, frame_ts=f.frame_ts + shift)


def test_per_camera_snapshots_restore_like_the_whole_snapshot():
    frames = stream(600, lambda t: 100 <= t < 300)
    whole = run(ViolationEngine(), frames)
    first = ViolationEngine()
    before = run(first, frames[:150])
    state = json.loads(json.dumps(first.snapshot_camera("cam-1")))
    second = ViolationEngine()
    second.restore_camera("cam-1", state)
    assert before + run(second, frames[150:]) == whole


def test_a_camera_with_nothing_released_yet_survives_a_json_snapshot():
    engine = ViolationEngine()
    engine.feed(frame(0, ["rodent"]))
    restored = ViolationEngine()
    restored.restore(json.loads(json.dumps(engine.snapshot(), allow_nan=False)))
    assert restored.snapshot() == engine.snapshot()


# -- look-alikes, frozen pictures, small objects ---------------------------------------


def jitter(rng: random.Random, amp: float, cx: float = 0.5, cy: float = 0.5):
    """A box of 4 % whose centre jitters uniformly within +-amp/2 around (cx, cy)."""

    def box(_t: float) -> tuple[float, float, float, float]:
        x = cx + rng.uniform(-amp / 2, amp / 2)
        y = cy + rng.uniform(-amp / 2, amp / 2)
        return (x - 0.02, y - 0.02, x + 0.02, y + 0.02)

    return box


def lookalike(cls: str, seed: int, seconds: int = 600):
    """A static object read as ``cls`` on 85 % of frames at a moderate score for 10 min."""
    rng = random.Random(seed)
    box = jitter(rng, 0.004)
    return [
        frame(t, [cls] if rng.random() < 0.85 else [], score=rng.uniform(0.6, 0.75), box=box(t))
        for t in range(seconds)
    ]


def test_stationary_look_alikes_of_moving_or_held_classes_raise_nothing():
    for i, cls in enumerate(("rodent", "animal", "smoking", "phone_use")):
        engine = ViolationEngine()
        assert run(engine, lookalike(cls, i), until=900) == [], cls
        assert engine.counters.stationary_held > 0


def test_a_real_rodent_is_not_delayed_by_the_motion_prior():
    # Running 4 % of the frame a second: opens on its second frame, as without the prior.
    frames = stream(200, lambda t: t in (100, 101), cls="rodent", box=lambda t: moving(t, 0.04))
    (opened, _closed) = run(ViolationEngine(), frames)
    assert opened.detected_at == T0 + 101
    off = {"rodent": replace(DEFAULT_CLASS_PARAMS["rodent"], min_motion=0.0)}
    base = run(ViolationEngine(ViolationParams(classes={**DEFAULT_CLASS_PARAMS, **off})), frames)
    assert base[0].detected_at == opened.detected_at


def test_a_phone_held_in_a_hand_opens_where_one_on_a_shelf_does_not():
    rng = random.Random(5)
    hand = jitter(rng, 0.02)  # 1-3 % jitter of a hand
    frames = [frame(t, ["phone_use"] if 100 <= t < 160 else [], box=hand(t)) for t in range(300)]
    events = run(ViolationEngine(), frames)
    assert [e.state for e in events] == ["open", "closed"]
    assert events[0].detected_at <= T0 + 110
    shelf = jitter(rng, 0.003)
    frames = [frame(t, ["phone_use"] if 100 <= t < 400 else [], box=shelf(t)) for t in range(600)]
    assert run(ViolationEngine(), frames, until=900) == []


def test_a_frozen_picture_with_a_confident_false_positive_is_one_observation():
    live = [frame(t) for t in range(100)]
    stuck = frame(100, ["smoking", "no_hat"], score=0.95, box=moving(100))
    frozen = [
        msgspec.structs.replace(stuck, frame_ts=T0 + t, seq=t) for t in range(100, 400)
    ]  # a stuck encoder: the same picture (quality and detections) for 5 minutes
    engine = ViolationEngine()
    assert run(engine, live + frozen, until=600) == []
    assert engine.counters.repeated_frames == 299
    # The same detections on live (changing) pictures are an episode.
    moving_frames = [frame(t, ["no_hat"], score=0.95) for t in range(100, 400)]
    assert [e.state for e in run(ViolationEngine(), live + moving_frames, until=600)] == [
        "open",
        "closed",
    ]


def test_a_frozen_run_split_by_a_checkpoint_is_still_one_observation():
    """Checkpoints carry a digest of each quality block's signature, not its 64
    values: a restored engine still sees the stuck picture as the same one, both
    in its reorder buffer and as the last picture processed."""
    live = [frame(t) for t in range(100)]
    stuck = frame(100, ["smoking", "no_hat"], score=0.95, box=moving(100))
    frozen = [msgspec.structs.replace(stuck, frame_ts=T0 + t, seq=t) for t in range(100, 400)]
    whole = ViolationEngine()
    expected = run(whole, live + frozen, until=600)
    for cut in (102, 250):  # the stuck picture in the buffer only / also the last processed
        first = ViolationEngine()
        run(first, (live + frozen)[:cut])
        state = json.loads(json.dumps(first.snapshot_camera("cam-1")))
        assert '"signature":' not in json.dumps(state)  # digests, not 64 values
        restored = ViolationEngine()
        restored.restore_camera("cam-1", state)
        assert run(restored, (live + frozen)[cut:], until=600) == expected == []
        assert first.counters.repeated_frames + restored.counters.repeated_frames == 299


def test_a_version_2_snapshot_with_whole_quality_blocks_is_still_read():
    engine = ViolationEngine()
    frames = stream(60, lambda t: t > 10)
    before = run(engine, frames[:30])
    cam = json.loads(json.dumps(engine.snapshot_camera("cam-1")))
    old = frames[29].quality  # what version 2 wrote: the whole block
    cam["version"] = 2
    cam["last_picture"] = msgspec.to_builtins(old)
    for p in cam["buffer"]["pending"]:
        ts = p["ts"] - T0
        p["payload"]["quality"] = msgspec.to_builtins(frames[int(ts)].quality)
    restored = ViolationEngine()
    restored.restore_camera("cam-1", cam)
    assert before + run(restored, frames[30:], until=200) == run(
        ViolationEngine(), frames, until=200
    )
    assert isinstance(restored._cameras["cam-1"].last_picture, Quality)  # not a digest yet


@pytest.mark.parametrize(
    ("cls", "rates"),
    [
        ("phone_use", (0.40, 0.65)),
        ("smoking", (0.40, 0.65)),
        ("no_gloves", (0.40, 0.65)),
        ("no_hat", (0.65, 0.85)),
        ("no_mask", (0.65, 0.85)),
    ],
)
def test_flickering_objects_decide_within_ten_seconds_at_p95(cls, rates):
    """Seen on a share of frames uniform in ``rates`` per episode, held in a jittering
    hand. (At 30 % the p95 is 12-13 s: two hits take that long at that rate.)"""
    rng = random.Random(sum(map(ord, cls)))
    latencies = []
    for k in range(200):
        rate = rng.uniform(*rates)
        hand = jitter(rng, 0.02)
        start = 50
        frames = [
            frame(t, [cls] if start <= t < start + 120 and rng.random() < rate else [],
                  score=rng.uniform(0.55, 0.85), box=hand(t), camera=f"c{k}")
            for t in range(250)
        ]  # fmt: skip
        opened = [e for e in run(ViolationEngine(), frames, until=400) if e.state == "open"]
        assert opened, (cls, k, rate)
        latencies.append(opened[0].detected_at - (T0 + start))
    latencies.sort()
    assert latencies[int(0.95 * len(latencies))] <= 10.0


def test_a_snapshot_of_another_version_is_refused_with_the_reason():
    engine = ViolationEngine()
    run(engine, stream(50, lambda t: t > 10))
    snap = json.loads(json.dumps(engine.snapshot()))
    assert snap["version"] == SNAPSHOT_VERSION
    snap["version"] = 1
    with pytest.raises(ValueError, match="version 1"):
        ViolationEngine().restore(snap)
    cam = engine.snapshot_camera("cam-1")
    del cam["version"]
    with pytest.raises(ValueError, match="version"):
        ViolationEngine().restore_camera("cam-1", cam)


# -- evidence score and the same object (small flickering objects) -------------------

COUNTING = {
    cls: replace(DEFAULT_CLASS_PARAMS[cls], weak_score=None, max_weight=1.0, track_radius=0.0)
    for cls in ("no_gloves", "phone_use", "smoking")
}
"""The small classes with the plain rule: open_hits frames at min_score or above."""


def hits_at(scores: dict[int, float], cls="no_gloves", seconds=200, box=BOX):
    """One frame per second; ``cls`` detected at the given seconds with the given scores."""
    return [
        frame(t, [cls] if t in scores else [], score=scores.get(t, 0.9), box=box)
        for t in range(seconds)
    ]


def test_a_hit_just_under_min_score_is_weak_evidence_not_none():
    # 0.45 counts (0.45 - 0.35) / 0.15 = 0.67 of a frame, 0.70 counts two (the cap):
    # together they open on the second hit, started at the first.
    frames = hits_at({100: 0.45, 104: 0.70})
    opened = run(ViolationEngine(), frames)[0]
    assert (opened.started_at, opened.detected_at) == (T0 + 100, T0 + 104)
    assert opened.frames == 2
    # With only frames at min_score counting, the weak frame is lost: no decision.
    plain = ViolationParams(classes={**DEFAULT_CLASS_PARAMS, **COUNTING})
    assert run(ViolationEngine(plain), frames) == []


def test_weak_hits_need_more_frames_than_confident_ones():
    # Two weak frames (0.67 + 0.67) are not enough...
    assert run(ViolationEngine(), hits_at({100: 0.45, 103: 0.45}), until=400) == []
    # ...three frames just under min_score are (0.93 x 3), on the third.
    opened = run(ViolationEngine(), hits_at({100: 0.49, 103: 0.49, 106: 0.49}))[0]
    assert opened.detected_at == T0 + 106
    # Below weak_score a detection is no evidence at all.
    assert run(ViolationEngine(), hits_at({t: 0.34 for t in range(100, 130)}), until=400) == []


def test_weak_hits_keep_an_episode_present_as_they_open_one():
    # Confident frames at the start and the end, 90 s apart, weak ones (0.45, two
    # thirds of a frame each) every 4 s between: one episode, not two.
    scores = {100: 0.7, 102: 0.7, 190: 0.7, 192: 0.7}
    scores.update({t: 0.45 for t in range(106, 190, 4)})
    events = run(ViolationEngine(), hits_at(scores, seconds=400))
    assert [e.state for e in events] == ["open", "closed"]
    assert events[1].ended_at == T0 + 192
    plain = ViolationParams(classes={**DEFAULT_CLASS_PARAMS, **COUNTING})
    assert [e.state for e in run(ViolationEngine(plain), hits_at(scores, seconds=400))] == [
        "open",
        "closed",
        "open",
        "closed",
    ]


def test_one_confident_frame_never_opens_alone():
    assert run(ViolationEngine(), hits_at({100: 0.97}), until=400) == []
    assert run(ViolationEngine(), hits_at({100: 0.97, 150: 0.97}), until=400) == []


def far(t: float) -> tuple[float, float, float, float]:
    """False positives land anywhere: alternate between two opposite corners."""
    x = 0.1 if int(t) % 2 else 0.8
    return (x, x, x + 0.05, x + 0.05)


@pytest.mark.parametrize("cls", ["no_gloves", "phone_use", "smoking", "rodent", "animal"])
def test_hits_far_apart_in_the_picture_do_not_add_up(cls):
    # Two confident frames 1 s apart but at opposite corners: not one object.
    frames = [frame(t, [cls] if t in (100, 101) else [], box=far(t)) for t in range(200)]
    assert run(ViolationEngine(), frames, until=400) == []
    # The same two frames on one moving object open.
    near = [frame(t, [cls] if t in (100, 101) else [], box=moving(t)) for t in range(200)]
    assert [e.state for e in run(ViolationEngine(), near)] == ["open", "closed"]


def flickering(cls: str, rate: float, rng: random.Random, camera: str, start: int = 50):
    """A small object in a jittering hand, seen on ``rate`` of its frames, scored
    around min_score (mean 0.56, sd 0.09): many of its hits fall just below 0.5."""
    hand = jitter(rng, 0.02)
    return [
        frame(t, [cls] if start <= t < start + 120 and rng.random() < rate else [],
              score=min(0.97, max(0.3, rng.gauss(0.56, 0.09))), box=hand(t), camera=camera)
        for t in range(250)
    ]  # fmt: skip


def _decided_within_10_s(params: ViolationParams | None, rate: float) -> float:
    rng = random.Random(1)
    decided = 0
    for k in range(300):
        frames = flickering("no_gloves", rate, rng, f"c{k}")
        opened = [e for e in run(ViolationEngine(params), frames, until=400) if e.state == "open"]
        decided += bool(opened) and opened[0].detected_at - (T0 + 50) <= 10.0
    return decided / 300


def test_a_small_object_seen_on_30_percent_of_frames_decides_within_10_s():
    """At 30 % any rule that needs two frames decides within 10 s on at most
    1 - P(at most one hit in 11 frames) = 88.7 % of episodes; the evidence score
    gets close to that bound where counting only frames at min_score falls short."""
    share = _decided_within_10_s(None, 0.30)
    plain = _decided_within_10_s(
        ViolationParams(classes={**DEFAULT_CLASS_PARAMS, **COUNTING}), 0.30
    )
    assert share >= 0.80
    assert share >= plain + 0.05


def test_false_positives_scattered_in_time_and_place_stay_quiet():
    """Six false detections of the class per camera-hour for 200 hours (five times the
    simulator's rate for one class), 15 % of them scored 0.5-0.85 and 3 % repeated on
    2-3 frames within 4 s, each frame at a random place."""
    rng = random.Random(2)
    frames = []
    for hour in range(200):
        for _ in range(6):
            i = hour * 3600 + int(rng.uniform(0, 3590))
            high = rng.random() < 0.15
            score = rng.uniform(0.5, 0.85) if high else rng.uniform(0.25, 0.5)
            seen = [i]
            if rng.random() < 0.03:
                for _ in range(rng.randint(1, 2)):
                    seen.append(seen[-1] + rng.randint(1, 2))
            for j in seen:
                x, y = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
                s = min(0.97, max(0.05, score + rng.gauss(0, 0.03)))
                frames.append(
                    frame(j, ["no_gloves"], score=s, box=(x - 0.02, y - 0.02, x + 0.02, y + 0.02))
                )
    frames.sort(key=lambda f: f.frame_ts)
    frames = list({f.frame_ts: f for f in frames}.values())
    opened = [e for e in run(ViolationEngine(), frames) if e.state == "open"]
    plain = ViolationParams(classes={**DEFAULT_CLASS_PARAMS, **COUNTING})
    opened_plain = [e for e in run(ViolationEngine(plain), frames) if e.state == "open"]
    # Only a burst that happens to land on one spot adds up (1 in 1,200 events here);
    # counting frames at min_score alone opens on every confident burst.
    assert len(opened) <= 5
    assert len(opened) < len(opened_plain)
