"""Real nvmsgconv payloads (../shared/deepstream-samples, loaded unchanged) and
what the bridge makes of each, as that folder's README says a user expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_workers.classmap import ClassMap
from inference_workers.deepstream import Bridge, DeepStreamAdapter, FullSchemaFrames
from schemas.records import FrameDetections, decode, encode
from stream_apps.engines.camera_health import CameraHealthEngine
from stream_apps.pipelines.camera import CameraPipeline

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "deepstream-samples"
pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"DeepStream samples not present at {SAMPLES}"
)
# Keeps every label as its own class: shows what the parser read.
RAW = ClassMap(keep_unmapped=True)
# A kitchen model whose "mouse" is a rodent.
KITCHEN = ClassMap.from_dict({"labels": {"mouse": "rodent", "cat": "animal"}})


def sample(prefix: str) -> bytes:
    [path] = SAMPLES.glob(f"{prefix}_*.json")
    return path.read_bytes()


def run(prefix: str, class_map: ClassMap | None = None, bridge: Bridge | None = None):
    bridge = bridge or Bridge(DeepStreamAdapter(class_map=class_map))
    out = bridge.handle(sample(prefix), tag=(0, 1)) + bridge.flush()
    records = [o[1] for o in out if o[0] == "record"]
    for rec in records:  # what the stream apps decode
        assert decode(FrameDetections, encode(rec)) == rec
    rejects = [o[1] for o in out if o[0] == "reject"]
    dropped = [o[1] for o in out if o[0] == "dropped"]
    return records, rejects, dropped


def dets(rec):
    return [(d.cls, round(d.score, 6)) for d in rec.detections]


def test_every_sample_is_read_without_a_crash_and_one_frame_gives_at_most_one_record():
    files = sorted(SAMPLES.glob("*.json"))
    assert len(files) == 18
    for path in files:
        records, rejects, _ = run(path.name.split("_")[0], RAW)
        assert len(records) + len(rejects) == 1, path.name
        for rec in records:
            assert rec.quality is None  # no stock payload carries one


@pytest.mark.parametrize(
    "prefix, camera, seq, want",
    [
        ("s01", "CAMERA_ID", None, [("vehicle", 0.5)]),  # -0.1 untracked -> unknown 0.5
        ("s02", "CAMERA_ID", None, [("person", 0.499268)]),  # "pose": {} is not a label
        ("s03", "sensor-0", 0, [("Person", 0.499268)]),
        (
            "s04",
            "HWY_20_AND_LOCUST__EBA__4_11_2018_4_59_59_508_AM_UTC-07_00",
            None,
            [("Person", 0.5)],
        ),
        ("s05", "sensor-0", 1440, [("Vehicle", 0.5)]),
        (
            "s06",
            "HWY_20_AND_HILL__PTZ__12_9_2018_1_59_59_000_AM_UTC-08_00",
            46325465,
            [("Vehicle", 0.0)],
        ),
        ("s07", "0", 5910, [("car", 0.962743), ("person", 0.880797), ("road_sign", 0.883638)]),
        (
            "s09",
            "default_shaoLocalJsNxBoard",
            20112,
            [
                ("Vehicle", 0.981058),
                ("Person", 0.248717),
                ("Person", 0.999874),
                ("Person", 0.999982),
            ],
        ),  # noqa: E501
        ("s10", "sensor-id", None, [("Vehicle", 0.8)]),  # "frame-id" placeholder
        ("c11a", "cam-1", 7, [("Person", 0.5)]),  # no confidence at all
        ("c11b", "cam-1", 7, [("Person", 0.5), ("mouse", 0.9)]),
        ("c11c", "cam-1", 7, [("Person", 0.9)]),  # |#|embedding|… ignored
        ("c11d", "cam-1", 7, [("Person", 0.9)]),  # |#|pose2D|… ignored
        ("c11e", "cam-1", None, [("cell phone", 0.77)]),
        ("c11g", "cam-1", 7, [("mouse", 0.5)]),  # tracked, not inferred, no history
        ("c11h", "cam-1", 7, [("Mouse", 0.9), ("Cat", 0.8)]),
    ],
)
def test_each_sample_gives_the_objects_it_shows(prefix, camera, seq, want):
    [rec], rejects, dropped = run(prefix, RAW)
    assert rejects == [] and dropped == []
    assert rec.camera_id == camera
    if seq is not None:
        assert rec.seq == seq
    assert dets(rec) == want
    assert all(0 <= v <= 1 for d in rec.detections for v in d.box)


def test_an_empty_sensor_id_is_dead_lettered_with_the_reason():
    records, [reason], _ = run("s08", RAW)
    assert records == [] and "sensorId" in reason


def test_an_object_without_a_label_block_is_dropped_and_counted_not_labelled_pose():
    [rec], rejects, [why] = run("c11f", RAW)
    assert rec.detections == [] and rejects == [] and "no label block" in why


def test_no_violation_is_invented_for_a_model_without_hat_or_mask_classes():
    for prefix in ("s02", "s03", "s07", "s08", "s09", "c11a"):
        records, _, _ = run(prefix)
        assert all(rec.detections == [] for rec in records), prefix


def test_default_map_is_case_insensitive_and_leaves_coco_mouse_alone():
    [rec], _, _ = run("c11h")
    assert dets(rec) == [("animal", 0.8)]  # Cat; COCO "Mouse" is a computer mouse
    [rec], _, _ = run("c11e")
    assert dets(rec) == [("phone_use", 0.77)]


def test_a_kitchen_class_map_turns_the_mouse_beside_an_unreadable_person_into_a_rodent():
    [rec], _, _ = run("c11b", KITCHEN)
    assert dets(rec) == [("rodent", 0.9)]
    [rec], _, _ = run("c11h", KITCHEN)
    assert dets(rec) == [("rodent", 0.9), ("animal", 0.8)]


def test_tracked_not_inferred_takes_the_tracks_last_confidence():
    bridge = Bridge(DeepStreamAdapter(class_map=KITCHEN))
    run("c11b", bridge=bridge)  # track 9 on cam-1: mouse 0.9
    [rec], _, _ = run("c11g", bridge=bridge)  # the same track, -0.1
    assert dets(rec) == [("rodent", 0.9)]


def test_full_schema_messages_of_one_frame_with_their_own_wall_clock_are_one_record():
    """msg2p-newapi stamps each message: a person and a hat 1 ms apart are one frame."""
    s02 = json.loads(sample("s02"))
    hat = json.loads(sample("s02"))
    hat["@timestamp"] = "2026-02-21T03:26:33.415Z"
    hat["object"] = {**hat["object"], "id": "5"}
    hat["object"].pop("person")
    hat["object"]["hat"] = {"confidence": 0.8}
    hat["object"]["bbox"] = {
        "topleftx": 140,
        "toplefty": 490,
        "bottomrightx": 180,
        "bottomrighty": 520,
    }
    later = json.loads(sample("s02"))
    later["@timestamp"] = "2026-02-21T03:26:33.614Z"
    frames = FullSchemaFrames()
    done = list(frames.add(s02, 1)) + list(frames.add(hat, 2)) + list(frames.add(later, 3))
    [(messages, tags)] = done
    assert tags == [1, 2]
    cm = ClassMap.default().for_model(["person", "hat"])
    rec = DeepStreamAdapter(class_map=cm).from_full(messages)
    assert rec.detections == []  # the hat is on the person: no no_hat, and no_mask not served
    assert [t for _, ts in frames.flush() for t in ts] == [3]


def test_full_schema_frames_follow_frame_id_when_present():
    a, b = json.loads(sample("s02")), json.loads(sample("s02"))
    a["frameId"], b["frameId"] = 10, 11
    b["@timestamp"] = a["@timestamp"]  # the same time, another frame
    frames = FullSchemaFrames()
    [(first, _)] = list(frames.add(a)) + list(frames.add(b))
    assert DeepStreamAdapter().from_full(first).seq == 10


def test_held_messages_are_not_committable_until_their_frame_is_published():
    bridge = Bridge()
    assert bridge.handle(sample("s02"), (0, 5)) == []
    assert bridge.open_tags() == [(0, 5)]  # held: the bridge commits below offset 5 only
    [(kind, _, tags)] = bridge.flush()  # on stop
    assert kind == "record" and tags == [(0, 5)] and bridge.open_tags() == []


def test_camera_health_keeps_offline_for_frames_without_quality():
    adapter = DeepStreamAdapter()
    engine = CameraHealthEngine()
    events = []
    payload = json.loads(sample("s03"))
    for i in range(30):
        payload["@timestamp"] = f"2026-02-21T07:29:{i:02d}.000Z"
        payload["id"] = i
        events += engine.feed(adapter.from_minimal(payload))
    assert events == [] and engine.counters["frames_without_quality"] == 30
    events += engine.advance(adapter.from_minimal(payload).frame_ts + 3600)
    assert [(e.kind, e.state) for e in events] == [("offline", "open")]


def test_stock_payloads_go_through_the_camera_pipeline_without_dead_letters():
    pipeline = CameraPipeline()
    bridge = Bridge(DeepStreamAdapter(class_map=KITCHEN))
    payload = json.loads(sample("c11b"))
    outputs = []
    for i in range(20):
        payload["@timestamp"] = f"2026-04-30T14:37:{i:02d}.000Z"
        payload["id"] = str(i)
        # A real mouse runs: its box moves (a still one is held as a look-alike).
        x = 10 + 40 * i
        mouse = payload["objects"][1].split("|")
        mouse[1:5] = [str(x), "10", str(x + 40), "40"]
        payload["objects"][1] = "|".join(mouse)
        [(_, rec, _)] = bridge.handle(json.dumps(payload), (0, i))
        outputs += pipeline.handle("bk.detections.v1", 0, i, None, encode(rec))
    assert pipeline.counters.dead_letters == 0
    assert [(o.topic, json.loads(o.value)["cls"]) for o in outputs][:1] == [
        ("bk.violations.v1", "rodent")
    ]
