"""Camera ingest: open a stream with PyAV, decode only what sampling needs, report its state.

One `CameraSource` per camera runs in its own thread (FFmpeg releases the GIL
while it demuxes and decodes). It:

- opens the URL (file path, `rtsp://` forced over TCP, `http(s)://`), with an
  open timeout and a read timeout; EOF and a read timeout count as a
  disconnect, and the source reconnects with exponential backoff and full
  jitter (the backoff resets once a session has delivered a frame);
- samples `fps` frames per second of media time. Packets are demuxed but a
  non-key packet is not even decoded when the next sample is due more than one
  GOP ahead: decoding resumes at the next key frame, so at 1 fps on a 1 s GOP
  stream only key frames are decoded. Only sampled frames are converted to RGB
  (the most expensive step after decoding), scaled down to `max_side`;
- reports its state (`connecting`, `streaming`, `disconnected`,
  `decode_error`) on every change; `Ingest` adds a heartbeat per camera every
  `heartbeat_s` (<= 10 s, the contract's bound) with the measured sampling fps.

Credentials never leave this module: every URL or FFmpeg message that reaches a
log line, a status `detail` or an exception passes through `redact`
(inference_workers/redaction.py); every configured URL's secrets are remembered.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference_workers.redaction import redact, remember

log = logging.getLogger(__name__)

STREAMING, CONNECTING, DISCONNECTED, DECODE_ERROR = (
    "streaming",
    "connecting",
    "disconnected",
    "decode_error",
)


@dataclass(frozen=True)
class CameraConfig:
    """One camera of the cameras file."""

    camera_id: str
    url: str
    fps: float = 1.0  # frames to analyse per second of video

    def __post_init__(self) -> None:
        if not self.camera_id:
            raise ValueError("camera_id must not be empty")
        if not (0 < self.fps <= 60):
            raise ValueError(f"camera {self.camera_id}: fps must be in (0, 60], got {self.fps}")
        remember(self.url)

    def __repr__(self) -> str:  # never print credentials
        return (
            f"CameraConfig(camera_id={self.camera_id!r}, url={redact(self.url)!r}, fps={self.fps})"
        )

    @property
    def is_live(self) -> bool:
        return "://" in self.url and not self.url.startswith("file:")


@dataclass
class IngestParams:
    """How sources connect, sample and recover; every default is what a live camera needs."""

    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0  # no packet for this long = disconnected
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    backoff_factor: float = 2.0
    max_decode_errors: int = 25  # consecutive undecodable packets before `decode_error`
    max_side: int | None = 1280  # sampled frames are scaled down so the longer side fits
    heartbeat_s: float = 5.0  # the contract asks for <= 10 s
    # Files stand in for cameras in demos: by default they are paced to real time and
    # replayed at EOF. Tests turn both off to run at full speed once.
    realtime_files: bool = True
    stop_at_eof: bool = False
    keyframe_skipping: bool = True


@dataclass
class SampledFrame:
    """A decoded frame chosen by sampling, RGB uint8 [H,W,3] (maybe scaled to max_side)."""

    camera_id: str
    seq: int
    frame_ts: float  # capture time, Unix seconds
    image: np.ndarray
    width: int  # size of the frame as the camera sent it
    height: int
    keyframe: bool = False


@dataclass
class SourceStats:
    sessions: int = 0
    packets: int = 0
    packets_skipped: int = 0  # non-key packets not decoded because no sample needed them
    frames_decoded: int = 0
    frames_sampled: int = 0
    decode_errors: int = 0
    reconnects: int = 0


class DecodeErrorLimit(Exception):
    pass


def backoff_delay(attempt: int, params: IngestParams, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform(0, min(max, initial * factor**attempt)).

    Full jitter spreads the reconnects of a few hundred cameras that dropped together
    (a switch reboot) instead of hammering the NVR in waves.
    """
    cap = min(params.backoff_max_s, params.backoff_initial_s * params.backoff_factor**attempt)
    return (rng or random).uniform(0.0, cap) if cap > 0 else 0.0


def open_options(url: str, params: IngestParams) -> dict[str, str]:
    """FFmpeg options for a URL: RTSP over TCP, socket timeouts in microseconds."""
    us = str(int(params.read_timeout_s * 1_000_000))
    # Probing 1 s / 1 MB instead of FFmpeg's 5 s is enough for one H.264/H.265 stream
    # and halves the time to first frame after every reconnect.
    probe = {"analyzeduration": "1000000", "probesize": "1000000"}
    if url.startswith(("rtsp://", "rtsps://")):
        return {"rtsp_transport": "tcp", "timeout": us, **probe}
    if url.startswith(("http://", "https://")):
        return {"rw_timeout": us, "reconnect": "0", **probe}
    return {}


# A key frame this much later than the sample it serves is still taken for it.
_KEY_SLACK_S = 0.02
# A live stream's media clock may drift from the wall clock by this much before
# capture times are re-anchored to the wall clock.
_REANCHOR_S = 2.0

StatusCallback = Callable[[str, str, float, str], None]  # camera_id, state, fps, detail


class CameraSource:
    """Decodes and samples one camera until `stop` is set. See the module docstring."""

    def __init__(
        self,
        camera: CameraConfig,
        on_frame: Callable[[SampledFrame], None],
        on_status: StatusCallback | None = None,
        params: IngestParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self.on_frame = on_frame
        self.on_status = on_status
        self.params = params or IngestParams()
        self.clock = clock
        self.state = DISCONNECTED
        self.detail = "not started"
        self.stats = SourceStats()
        self._seq = 0
        self._recent: deque[float] = deque()  # monotonic times of recent samples
        self._lock = threading.Lock()
        self._rng = random.Random()

    # -- state --------------------------------------------------------------------------------

    def _set_state(self, state: str, detail: str) -> None:
        detail = redact(detail)[:1000]
        with self._lock:
            changed = state != self.state
            self.state, self.detail = state, detail
        if changed:
            log.info("camera %s: %s (%s)", self.camera.camera_id, state, detail)
            if self.on_status:
                self.on_status(self.camera.camera_id, state, self.fps(), detail)

    def fps(self, window_s: float = 10.0) -> float:
        """Sampled frames per second over the last window (0 when not streaming)."""
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] > window_s:
                self._recent.popleft()
            if self.state != STREAMING or not self._recent:
                return 0.0
            span = max(min(window_s, now - self._recent[0]), 1.0)
            return min(len(self._recent) / span, 1000.0)

    def snapshot(self) -> tuple[str, float, str]:
        """(state, fps, detail) for a heartbeat."""
        fps = self.fps()
        with self._lock:
            return self.state, fps, self.detail

    # -- loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Connect, stream, reconnect with backoff, until `stop` is set (or EOF when asked)."""
        import av

        p = self.params
        attempt = 0
        url = self.camera.url
        while not stop.is_set():
            self._set_state(CONNECTING, redact(url))
            try:
                container = av.open(
                    url,
                    options=open_options(url, p),
                    timeout=(p.open_timeout_s, p.read_timeout_s),
                )
            except Exception as exc:  # noqa: BLE001 - any open failure is a disconnect
                self._set_state(DISCONNECTED, f"open failed: {exc}")
            else:
                self.stats.sessions += 1
                sampled_before = self.stats.frames_sampled
                try:
                    reason = self._stream(container, stop)
                    self._set_state(DISCONNECTED, reason)
                except DecodeErrorLimit as exc:
                    self._set_state(DECODE_ERROR, str(exc))
                except Exception as exc:  # noqa: BLE001 - read errors and timeouts
                    self._set_state(DISCONNECTED, f"read failed: {type(exc).__name__}: {exc}")
                finally:
                    container.close()
                if self.stats.frames_sampled > sampled_before:
                    attempt = 0
            if p.stop_at_eof and not self.camera.is_live:
                return
            if stop.is_set():
                break
            self.stats.reconnects += 1
            delay = backoff_delay(attempt, p, self._rng)
            attempt += 1
            stop.wait(delay)
        self._set_state(DISCONNECTED, "stopped")

    def _stream(self, container, stop: threading.Event) -> str:
        """Demux, decode and sample one session; return why it ended (EOF or stopped)."""
        p = self.params
        if not container.streams.video:
            raise DecodeErrorLimit("no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        period = 1.0 / self.camera.fps
        realtime = p.realtime_files and not self.camera.is_live
        wall0, mono0 = self.clock(), time.monotonic()
        t0: float | None = None  # media time of the first frame of the session
        due = -1e18  # media time the next sample is due
        need_key = False
        last_key_t: float | None = None
        gop: float | None = None  # estimated key-frame interval, media seconds
        errors = 0
        streaming = False
        last_rel = 0.0
        for packet in container.demux(stream):
            if stop.is_set():
                return "stopped"
            flush = packet.size == 0  # at EOF: drain the frames the decoder still holds
            if not flush:
                self.stats.packets += 1
            pt = float(packet.pts * packet.time_base) if packet.pts is not None else None
            if flush:
                pass
            elif packet.is_keyframe:
                if pt is not None and last_key_t is not None and pt > last_key_t:
                    gop = pt - last_key_t
                last_key_t = pt
                need_key = False
            elif need_key:
                self.stats.packets_skipped += 1
                continue
            elif (
                p.keyframe_skipping
                and gop is not None
                and last_key_t is not None
                and t0 is not None
                and (last_key_t - t0) + gop <= due + _KEY_SLACK_S
            ):
                # The next key frame comes no later than the next sample is due: skip
                # the rest of this GOP and resume decoding at that key frame.
                need_key = True
                self.stats.packets_skipped += 1
                continue
            try:
                frames = ctx.decode(packet)
            except Exception as exc:  # noqa: BLE001 - av.InvalidDataError and kin
                errors += 1
                self.stats.decode_errors += 1
                if errors >= p.max_decode_errors:
                    raise DecodeErrorLimit(f"{errors} undecodable packets: {exc}") from None
                need_key = True  # the reference chain is broken until the next key frame
                continue
            errors = 0
            for frame in frames:
                self.stats.frames_decoded += 1
                ft = frame.time
                if ft is None:
                    ft = time.monotonic() - mono0
                if t0 is None:
                    t0 = ft
                rel = ft - t0
                if rel < last_rel - _REANCHOR_S:
                    # Timestamps jumped back (an encoder restart behind a live URL):
                    # start the media clock and the sampling schedule again.
                    t0, rel, due, last_key_t, gop = ft, 0.0, 0.0, None, None
                last_rel = rel
                if rel + 1e-6 < due:
                    continue
                due = due + period if due + period > rel else rel + period
                if not streaming:
                    self._set_state(
                        STREAMING, f"{stream.codec_context.name} {frame.width}x{frame.height}"
                    )
                    streaming = True
                if realtime:
                    wait = rel - (time.monotonic() - mono0)
                    if wait > 0 and stop.wait(wait):
                        return "stopped"
                if self.camera.is_live:
                    # Capture time = wall clock anchored once per session, advanced by
                    # media time: frames that arrive in a burst (after probing, a
                    # network stall) keep their true spacing. Re-anchor when the two
                    # clocks part by more than a couple of seconds (a pts jump).
                    now = self.clock()
                    if abs(now - (wall0 + rel)) > _REANCHOR_S:
                        wall0 = now - rel
                ts = wall0 + rel
                self._emit(frame, ts)
        return "end of stream"

    def _emit(self, frame, ts: float) -> None:
        w, h = frame.width, frame.height
        ms = self.params.max_side
        if ms and max(w, h) > ms:
            s = ms / max(w, h)
            # Even sizes keep swscale on its fast paths.
            img = frame.to_ndarray(
                format="rgb24",
                width=max(2, round(w * s) // 2 * 2),
                height=max(2, round(h * s) // 2 * 2),
            )
        else:
            img = frame.to_ndarray(format="rgb24")
        seq = self._seq
        self._seq += 1
        self.stats.frames_sampled += 1
        with self._lock:
            self._recent.append(time.monotonic())
        self.on_frame(
            SampledFrame(
                camera_id=self.camera.camera_id,
                seq=seq,
                frame_ts=ts,
                image=img,
                width=w,
                height=h,
                keyframe=bool(frame.key_frame),
            )
        )


@dataclass
class Ingest:
    """Runs one `CameraSource` thread per camera and the status heartbeat thread.

    Lifecycle: `start()`, then `stop()` (joins every thread). `on_status` gets every
    state change and, every `params.heartbeat_s`, the current state of each camera.
    """

    cameras: list[CameraConfig]
    on_frame: Callable[[SampledFrame], None]
    on_status: StatusCallback | None = None
    params: IngestParams = field(default_factory=IngestParams)
    sources: list[CameraSource] = field(init=False, default_factory=list)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _threads: list[threading.Thread] = field(init=False, default_factory=list)

    def start(self) -> None:
        ids = [c.camera_id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera_id values must be unique")
        for cam in self.cameras:
            src = CameraSource(cam, self.on_frame, self.on_status, self.params)
            self.sources.append(src)
            t = threading.Thread(target=src.run, args=(self._stop,), name=f"ingest-{cam.camera_id}")
            t.daemon = True
            self._threads.append(t)
        if self.on_status is not None:
            hb = threading.Thread(target=self._heartbeats, name="ingest-heartbeat", daemon=True)
            self._threads.append(hb)
        for t in self._threads:
            t.start()

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.params.heartbeat_s):
            for src in self.sources:
                state, fps, detail = src.snapshot()
                self.on_status(src.camera.camera_id, state, fps, detail)

    def sources_alive(self) -> bool:
        """Whether any camera thread still runs (all end only with `stop_at_eof` files)."""
        return any(t.is_alive() for t in self._threads[: len(self.sources)])

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)


def load_cameras(path: str | Path) -> list[CameraConfig]:
    """Read a cameras file: YAML or JSON, a list of {camera_id, url, fps}.

    A top-level mapping with a `cameras` list is accepted too, so the file can grow
    other sections later.
    """
    import json

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("cameras")
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of cameras (or {{cameras: [...]}})")
    cams = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "camera_id" not in entry or "url" not in entry:
            raise ValueError(f"{path}: camera #{i} needs camera_id and url")
        unknown = set(entry) - {"camera_id", "url", "fps"}
        if unknown:
            raise ValueError(f"{path}: camera #{i} has unknown fields {sorted(unknown)}")
        cams.append(
            CameraConfig(str(entry["camera_id"]), str(entry["url"]), float(entry.get("fps", 1.0)))
        )
    if len({c.camera_id for c in cams}) != len(cams):
        raise ValueError(f"{path}: camera_id values must be unique")
    return cams
