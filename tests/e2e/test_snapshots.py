"""Evidence images end to end: the worker on generated clips with a detector that
fires stores a JPEG of each violation frame; the violation the stream app raises,
once in the store, names it in evidence.snapshot, and that URI opens as a JPEG of
the frame (box drawn) — from a local folder and from a local S3 server (moto)."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import urllib.request

import clickhouse_connect
import numpy as np
import pytest

pytest.importorskip("torch")
av = pytest.importorskip("av")

from prometheus_client import CollectorRegistry  # noqa: E402

from clickhouse.migrate import migrate  # noqa: E402
from inference_workers.ingest import CameraConfig  # noqa: E402
from inference_workers.publisher import WorkerMetrics  # noqa: E402
from inference_workers.snapshots import LocalStore, S3Store, Snapshotter  # noqa: E402
from inference_workers.synthetic_video import write_h264  # noqa: E402
from inference_workers.worker import run_worker  # noqa: E402
from schemas.records import (  # noqa: E402
    TOPIC_ALERTS,
    TOPIC_DETECTIONS,
    TOPIC_VIOLATIONS,
    FrameDetections,
    Violation,
    decode,
)
from stream_apps.engines.alerts import AlertEngine  # noqa: E402
from stream_apps.engines.violations import ViolationParams  # noqa: E402
from stream_apps.pipelines.camera import CameraPipeline  # noqa: E402
from stream_apps.sink.store_writer import StoreWriter  # noqa: E402
from tests.e2e.test_inference_worker import FILES, ListPublisher, model_file  # noqa: E402,F401

CHDB_PATH: list = []


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"
    CHDB_PATH.append(path)  # one chdb per process: share it
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    migrate(c)
    yield c
    c.close()


class Recording(Snapshotter):
    """A Snapshotter that remembers the image it was given per (camera, seq)."""

    def __init__(self, store):
        super().__init__(store)
        self.images = {}

    def __call__(self, image, record):
        out = super().__call__(image, record)
        if out.snapshot:
            self.images[out.snapshot] = np.array(image)
        return out


def jpeg_pixels(data: bytes) -> np.ndarray:
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"
    with av.open(io.BytesIO(data), format="mjpeg") as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def run_and_store(model_path, tmp_path, client, store, camera_id):
    clip = write_h264(tmp_path / "c.mp4", seconds=6, fps=5, gop=5, width=96, height=96)
    snapper = Recording(store)  # the default rate limit: one image per camera per 5 s
    pub = ListPublisher()
    registry = CollectorRegistry()
    run_worker(
        None,
        "unused:9092",
        model=model_path,
        worker_id="w-snap",
        ingest_params=FILES,
        publisher=pub,
        stop_event=threading.Event(),
        cameras=[CameraConfig(camera_id, str(clip), 2)],
        snapshots=snapper,
        metrics=WorkerMetrics(registry),
    )
    dets = [decode(FrameDetections, v) for t, v in pub.records if t == TOPIC_DETECTIONS]
    # Every frame has a rodent; the first is kept, then one per 5 s of frame time.
    kept = [d for d in dets if d.snapshot]
    assert kept and kept[0] is dets[0] and len(kept) < len(dets)
    assert all(b.frame_ts - a.frame_ts >= 5.0 for a, b in zip(kept, kept[1:], strict=False))
    for outcome, n in (("stored", len(kept)), ("skipped", len(dets) - len(kept))):
        labels = {"outcome": outcome}
        assert registry.get_sample_value("bk_worker_snapshots_total", labels) == n
    # The test detector's rat sits still in the centre: without the motion prior
    # (which holds still boxes as look-alikes) it is a rodent episode.
    defaults = ViolationParams()
    classes = {**defaults.classes}
    classes["rodent"] = dataclasses.replace(classes["rodent"], min_motion=0.0)
    pipeline = CameraPipeline(dataclasses.replace(defaults, classes=classes))
    outputs = []
    for offset, (topic, value) in enumerate(pub.records):
        outputs += pipeline.handle(topic, 0, offset, None, value)
    violations = [decode(Violation, o.value) for o in outputs if o.topic == TOPIC_VIOLATIONS]
    opened = [v for v in violations if v.cls == "rodent" and v.state == "open"]
    assert len(opened) == 1 and opened[0].evidence.snapshot is not None
    StoreWriter(client).write(TOPIC_VIOLATIONS, violations)
    [(uri, ev_ts)] = client.query(
        "SELECT evidence_snapshot, toFloat64(evidence.frame_ts) FROM bk.violations FINAL "
        "WHERE camera_id = {c:String} AND cls = 'rodent'",
        parameters={"c": camera_id},
    ).result_rows
    peak = next(d for d in dets if d.snapshot == uri)  # the evidence frame's own record
    assert abs(peak.frame_ts - ev_ts) < 1e-3
    pixels = jpeg_pixels(store.get(uri))
    seen = snapper.images[uri]
    assert pixels.shape == seen.shape
    # The box the model saw (the 16x16 centre of a 64x64 input -> 0.375..0.625) is drawn red.
    h, w = seen.shape[:2]
    top, left = int(0.375 * (h - 1)), int(0.375 * (w - 1))
    row = slice(left, int(0.625 * (w - 1)))
    redness = (pixels[top, row, 0].astype(int) - pixels[top, row, 1]).mean()
    before = (seen[top, row, 0].astype(int) - seen[top, row, 1]).mean()
    assert redness > before + 60, (redness, before)  # JPEG's 4:2:0 chroma softens a thin line
    # Elsewhere it is that frame, up to JPEG loss.
    mask = np.ones((h, w), bool)
    mask[top - 3 : int(0.625 * (h - 1)) + 4, left - 3 : int(0.625 * (w - 1)) + 4] = False
    diff = np.abs(pixels.astype(int) - seen.astype(int))[mask].mean()
    assert diff < 8, diff
    # The alert of that violation carries the image, in the store too.
    engine = AlertEngine()
    [alert] = engine.feed(opened[0])
    assert alert.snapshot == uri
    StoreWriter(client).write(TOPIC_ALERTS, [alert])
    return uri, alert


def test_a_violation_from_the_worker_keeps_a_local_jpeg_of_its_peak_frame(
    model_file,  # noqa: F811
    tmp_path,
    client,
):
    uri, alert = run_and_store(
        model_file, tmp_path, client, LocalStore(tmp_path / "snaps"), "snap-local"
    )
    assert uri.startswith(f"file://{(tmp_path / 'snaps').resolve()}/snap-local/")
    # `brightkitchen alerts list` shows it (same embedded store, in this process).
    from typer.testing import CliRunner

    from brightkitchen.cli import app

    store_path = str(CHDB_PATH[0])
    result = CliRunner().invoke(app, ["alerts", "list"], env={"BK_STORE_PATH": store_path})
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    row = {r["alert_id"]: r for r in rows}[alert.alert_id]
    assert row["snapshot"] == row["snapshot_link"] == uri  # file:// stays as it is


def test_the_same_through_a_local_s3_server(model_file, tmp_path, client, monkeypatch):  # noqa: F811
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    for k, v in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="evidence")
        # What a deployment serving BK_SNAPSHOT_PUBLIC_URL from the bucket sets up.
        public_read = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::evidence/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket="evidence", Policy=json.dumps(public_read))
        store = S3Store("evidence", "bk 证据", endpoint_url=endpoint)  # a hostile prefix
        uri, alert = run_and_store(model_file, tmp_path, client, store, "snap-s3")
        assert uri.startswith("s3://evidence/bk 证据/snap-s3/")
        # With BK_SNAPSHOT_PUBLIC_URL at the server (path-style), `alerts list` gives a
        # link that a plain HTTP GET opens as that JPEG.
        from typer.testing import CliRunner

        from brightkitchen.cli import app

        env = {"BK_STORE_PATH": str(CHDB_PATH[0]), "BK_SNAPSHOT_PUBLIC_URL": endpoint}
        result = CliRunner().invoke(app, ["alerts", "list"], env=env)
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        link = {r["alert_id"]: r for r in rows}[alert.alert_id]["snapshot_link"]
        assert link.startswith(f"{endpoint}/evidence/bk%20%E8%AF%81%E6%8D%AE/snap-s3/")
        with urllib.request.urlopen(link, timeout=30) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.read() == store.get(uri)
        # Retention: nothing is older than a day; everything is older than the future.
        assert store.purge(older_than=0) == 0
        assert store.purge(older_than=4e9) > 0
        with pytest.raises(Exception):  # noqa: B017
            store.get(uri)
    finally:
        server.stop()


def test_local_retention_removes_old_images(tmp_path):
    import os

    store = LocalStore(tmp_path)
    old = store.put("cam/2020-01-01/1-0.jpg", b"\xff\xd8\xff\xd9")
    new = store.put("cam/2026-01-01/2-0.jpg", b"\xff\xd8\xff\xd9")
    os.utime(tmp_path / "cam/2020-01-01/1-0.jpg", (1e9, 1e9))
    snap = Snapshotter(store, retention_s=86400)  # the files' mtime: now and 2001
    assert snap.purge() == 1
    assert not (tmp_path / "cam/2020-01-01/1-0.jpg").exists() and store.get(new)
    assert old.startswith("file://")
