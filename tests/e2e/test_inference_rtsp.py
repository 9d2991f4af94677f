"""A live RTSP camera on loopback (GStreamer's RTSP server, basic auth) through CameraSource.

Skipped where the system GStreamer RTSP server is missing; install with
`apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

pytest.importorskip("av")

from inference_workers.ingest import CameraConfig, CameraSource, IngestParams  # noqa: E402

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin")
PASSWORD = "s3cret-pw"

# Run as `python3 server.py PORT USER PASSWORD` under the system Python (where GStreamer's
# `gi` lives): a live 10 fps H.264 test pattern (1 s GOP) with basic auth at
# rtsp://USER:PASSWORD@127.0.0.1:PORT/cam; prints "ready" once listening.
SERVER_SOURCE = """
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bframes=0"
    " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def main() -> None:
    port, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    factory.add_role_from_structure(
        Gst.Structure.from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0]
    )
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
"""


def _gst_ok() -> bool:
    if not SYSTEM_PYTHON:
        return False
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay')"
    )
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _gst_ok(), reason="GStreamer RTSP server not installed")


@pytest.fixture
def rtsp_server(tmp_path):
    server = tmp_path / "rtsp_server.py"
    server.write_text(SERVER_SOURCE)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(server), str(port), "admin", PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield port, proc
    finally:
        proc.kill()
        proc.wait()


def start(url: str, fps: float = 2.0):
    frames, states = [], []
    src = CameraSource(
        CameraConfig("rtsp-1", url, fps),
        frames.append,
        lambda cam, state, fps, detail: states.append((time.monotonic(), state, detail)),
        IngestParams(open_timeout_s=3, read_timeout_s=1.5, backoff_initial_s=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=src.run, args=(stop,), daemon=True)
    thread.start()
    return src, frames, states, stop, thread


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_live_rtsp_streams_samples_and_reports_a_dropped_server_as_disconnected(rtsp_server):
    port, proc = rtsp_server
    src, frames, states, stop, thread = start(f"rtsp://admin:{PASSWORD}@127.0.0.1:{port}/cam")
    try:
        assert wait_for(lambda: len(frames) >= 3, 10), states
        assert [s for _, s, _ in states[:2]] == ["connecting", "streaming"]
        gaps = [b.frame_ts - a.frame_ts for a, b in zip(frames, frames[1:], strict=False)]
        assert all(0.3 < g < 0.8 for g in gaps[1:]), gaps  # 2 fps of a 10 fps stream
        proc.kill()  # the camera goes away mid-stream
        assert wait_for(lambda: states[-1][1] in ("disconnected", "connecting"), 6), states
        assert "disconnected" in [s for _, s, _ in states[2:]]
    finally:
        stop.set()
        thread.join(10)
    assert all(PASSWORD not in d and "admin" not in d for _, _, d in states)


def test_wrong_credentials_are_a_disconnect_whose_detail_hides_them(rtsp_server):
    port, _ = rtsp_server
    src, frames, states, stop, thread = start(f"rtsp://admin:wrong-{PASSWORD}@127.0.0.1:{port}/cam")
    try:
        assert wait_for(lambda: len(states) >= 2, 8), states
    finally:
        stop.set()
        thread.join(10)
    assert frames == []
    assert states[1][1] == "disconnected" and "401" in states[1][2]
    assert all(PASSWORD not in d and "admin" not in d for _, _, d in states)
