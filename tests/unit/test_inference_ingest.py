"""Camera ingest: sampling, key-frame skipping, state transitions, reconnects, redaction."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time

import pytest

from inference_workers.ingest import (
    CameraConfig,
    CameraSource,
    IngestParams,
    backoff_delay,
    load_cameras,
    redact,
)

FAST = dict(realtime_files=False, stop_at_eof=True, open_timeout_s=2, read_timeout_s=2)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    pytest.importorskip("av")
    from inference_workers.synthetic_video import write_h264

    return write_h264(tmp_path_factory.mktemp("v") / "clip.mp4", seconds=4, fps=25, gop=25)


def run_source(url: str, fps: float, **params):
    pytest.importorskip("av")
    frames, states = [], []
    src = CameraSource(
        CameraConfig("cam-1", url, fps),
        frames.append,
        lambda cam, state, fps, detail: states.append((state, detail)),
        IngestParams(**{**FAST, **params}),
    )
    src.run(threading.Event())
    return src, frames, states


# -- redaction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/ch1", "rtsp://***@10.0.0.5:554/ch1"),
        ("rtsp://admin@10.0.0.5/ch1", "rtsp://***@10.0.0.5/ch1"),
        ("rtsp://u:p@ss@host/x", "rtsp://***@host/x"),
        (
            "http://cam/live.flv?user=a&password=b&ch=1",
            "http://cam/live.flv?user=***&password=***&ch=1",
        ),
        ("rtsp://10.0.0.5/ch1", "rtsp://10.0.0.5/ch1"),
        ("/data/clip.mp4", "/data/clip.mp4"),
    ],
)
def test_redact_hides_credentials_in_urls(url, expected):
    assert redact(url) == expected


def test_redact_cleans_urls_inside_error_messages_and_reprs():
    msg = "Connection refused: 'rtsp://admin:hunter2@cam/1' after 3 tries"
    assert "hunter2" not in redact(msg) and "admin" not in redact(msg)
    assert "hunter2" not in repr(CameraConfig("c", "rtsp://admin:hunter2@cam/1"))


def test_credentials_never_reach_a_status_detail():
    states = _states_until_stopped(f"rtsp://admin:hunter2@127.0.0.1:{_free_port()}/x", 0.3)
    assert states and all("hunter2" not in d and "admin" not in d for _, d in states)


# -- sampling ---------------------------------------------------------------------------------


def test_one_fps_on_a_one_second_gop_decodes_only_key_frames_after_the_first_gop(clip):
    src, frames, _ = run_source(str(clip), 1.0)
    assert [round(f.frame_ts - frames[0].frame_ts, 3) for f in frames] == [0.0, 1.0, 2.0, 3.0]
    assert all(f.keyframe for f in frames)
    # The first GOP is decoded in full (its length is not known yet), then key frames only.
    assert src.stats.frames_decoded == 25 + 3
    assert src.stats.packets_skipped == 100 - 28


def test_a_rate_above_the_gop_rate_samples_between_key_frames(clip):
    _, frames, _ = run_source(str(clip), 4.0)
    gaps = [b.frame_ts - a.frame_ts for a, b in zip(frames, frames[1:], strict=False)]
    assert len(frames) == 16
    # Each sample is the first frame at or after its due time (frames are 40 ms apart),
    # and the schedule does not drift.
    assert all(0.2 <= g <= 0.29 for g in gaps)
    assert frames[-1].frame_ts - frames[0].frame_ts == pytest.approx(3.76, abs=0.041)


def test_sampled_frames_carry_the_original_size_and_a_scaled_rgb_image(clip):
    _, frames, _ = run_source(str(clip), 1.0, max_side=160)
    f = frames[0]
    assert (f.width, f.height) == (320, 240)
    assert f.image.shape == (120, 160, 3) and f.image.dtype.name == "uint8"
    assert [f.seq for f in frames] == [0, 1, 2, 3]


# -- states and reconnects --------------------------------------------------------------------


def test_a_file_goes_connecting_streaming_then_disconnected_at_eof(clip):
    _, _, states = run_source(str(clip), 1.0)
    assert [s for s, _ in states] == ["connecting", "streaming", "disconnected"]
    assert states[-1][1] == "end of stream"


def test_garbage_input_is_a_decode_error_or_a_failed_open(tmp_path):
    bad = tmp_path / "bad.h264"
    bad.write_bytes(bytes(random.Random(1).getrandbits(8) for _ in range(20000)))
    _, frames, states = run_source(str(bad), 1.0)
    assert frames == []
    assert states[-1][0] in ("decode_error", "disconnected")
    assert "streaming" not in [s for s, _ in states]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _states_until_stopped(url: str, seconds: float, **params):
    pytest.importorskip("av")
    states = []
    stop = threading.Event()
    src = CameraSource(
        CameraConfig("cam-1", url),
        lambda f: None,
        lambda cam, state, fps, detail: states.append((state, detail)),
        IngestParams(
            **{
                **FAST,
                "stop_at_eof": False,
                "backoff_initial_s": 0.05,
                "backoff_max_s": 0.1,
                **params,
            }
        ),
    )
    t = threading.Thread(target=src.run, args=(stop,))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join(10)
    assert not t.is_alive()
    src.states = states
    return states


def test_an_unreachable_camera_is_retried_and_reported_disconnected():
    port = _free_port()  # nothing listens there: connection refused
    states = _states_until_stopped(f"rtsp://127.0.0.1:{port}/live", 0.6)
    kinds = [s for s, _ in states]
    assert kinds[:2] == ["connecting", "disconnected"]
    assert kinds.count("connecting") >= 2  # it reconnected
    assert "open failed" in states[1][1]


def test_a_server_that_accepts_but_never_sends_is_a_read_timeout_disconnect():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(srv.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        t0 = time.monotonic()
        states = _states_until_stopped(
            f"http://127.0.0.1:{srv.getsockname()[1]}/x.mp4",
            1.6,
            open_timeout_s=0.5,
            read_timeout_s=0.5,
        )
        assert time.monotonic() - t0 < 8
        kinds = [s for s, _ in states]
        assert kinds[0] == "connecting" and "disconnected" in kinds
        assert "streaming" not in kinds
    finally:
        stop.set()
        srv.close()
        for c in held:
            c.close()


def test_backoff_grows_exponentially_is_capped_and_jittered():
    p = IngestParams(backoff_initial_s=1, backoff_factor=2, backoff_max_s=8)
    rng = random.Random(0)
    caps = [1, 2, 4, 8, 8, 8]
    for attempt, cap in enumerate(caps):
        delays = [backoff_delay(attempt, p, rng) for _ in range(200)]
        assert max(delays) <= cap and max(delays) > cap * 0.8
        assert min(delays) < cap * 0.2  # full jitter reaches near zero


# -- cameras file -----------------------------------------------------------------------------


def test_cameras_file_in_yaml_and_json(tmp_path):
    y = tmp_path / "cams.yaml"
    y.write_text(
        "- {camera_id: k1-c1, url: 'rtsp://u:p@h/1', fps: 2}\n- {camera_id: k1-c2, url: a.mp4}\n"
    )
    cams = load_cameras(y)
    assert [(c.camera_id, c.fps) for c in cams] == [("k1-c1", 2.0), ("k1-c2", 1.0)]
    j = tmp_path / "cams.json"
    j.write_text('{"cameras": [{"camera_id": "a", "url": "x.mp4", "fps": 0.5}]}')
    assert load_cameras(j)[0].fps == 0.5


def test_cameras_file_rejects_duplicates_and_unknown_fields(tmp_path):
    j = tmp_path / "cams.json"
    j.write_text('[{"camera_id": "a", "url": "x"}, {"camera_id": "a", "url": "y"}]')
    with pytest.raises(ValueError, match="unique"):
        load_cameras(j)
    j.write_text('[{"camera_id": "a", "url": "x", "fsp": 1}]')
    with pytest.raises(ValueError, match="unknown"):
        load_cameras(j)


def test_an_http_stream_is_sampled_like_a_file(tmp_path):
    pytest.importorskip("av")
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from inference_workers.synthetic_video import write_h264

    write_h264(tmp_path / "live.ts", seconds=3, fps=25, gop=25, container_format="mpegts")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/live.ts"
        # An HTTP URL is a live source: it would reconnect at EOF, so stop it from outside.
        frames, states, stop = [], [], threading.Event()
        src = CameraSource(
            CameraConfig("h1", url, 1.0),
            frames.append,
            lambda cam, state, fps, detail: states.append(state),
            IngestParams(**{**FAST, "stop_at_eof": False, "backoff_initial_s": 5}),
        )
        t = threading.Thread(target=src.run, args=(stop,))
        t.start()
        assert _wait(lambda: "disconnected" in states[1:], 10)
        stop.set()
        t.join(10)
    finally:
        server.shutdown()
        server.server_close()
    assert states[:3] == ["connecting", "streaming", "disconnected"]
    assert len(frames) == 3
    assert frames[1].frame_ts - frames[0].frame_ts == pytest.approx(1.0, abs=0.05)


def _wait(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False
