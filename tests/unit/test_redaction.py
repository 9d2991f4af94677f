"""No credential of a camera URL reaches a log line, a status record, a metric or an exception."""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_workers.ingest import CameraConfig, CameraSource, IngestParams
from inference_workers.redaction import redact, redact_url, remember
from schemas.records import CameraStatus, encode

# Any printable character but the ones that end a URL in free text; "/" ":" "@" "?" "#" included.
SECRET = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\"'<>`"
    ),
    min_size=6,
    max_size=24,
).filter(lambda s: s.strip() == s and "rtsp" not in s)
HOST = st.from_regex(r"\A10\.0\.[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{2,5})?\Z")
PARAM = st.from_regex(r"\A(pw|apikey|pass|code|x_token|auth|k)\Z")


@st.composite
def urls(draw):
    user = draw(st.from_regex(r"\A[a-z]{3,8}\Z"))
    password = draw(SECRET)
    secret_param = draw(PARAM)
    param_value = draw(st.from_regex(r"\A[A-Za-z0-9]{8,16}\Z"))
    encode_pw = draw(st.booleans())
    pw = quote(password, safe="") if encode_pw else password
    url = (
        f"rtsp://{user}:{pw}@{draw(HOST)}/Streaming/Channels/101"
        f"?channel=1&{secret_param}={param_value}&subtype=0"
    )
    return url, [password, pw, param_value]


@settings(max_examples=300, deadline=None)
@given(urls())
def test_a_url_alone_or_in_text_keeps_no_secret(case):
    url, secrets = case
    for text in (redact_url(url), redact(url), redact(f"open failed: {url}: Connection refused")):
        for secret in secrets:
            assert secret not in text, (url, text)
        assert "channel=1" in text and "subtype=0" in text  # allow-listed parameters stay


@settings(max_examples=200, deadline=None)
@given(urls())
def test_remembered_secrets_are_hidden_even_when_ffmpeg_echoes_them_decoded(case):
    url, secrets = case
    remember(url)
    password = secrets[0]
    assert password not in redact(f"auth failed for user x password {password} at host")


def test_unencoded_slash_and_at_in_the_password_and_unknown_parameters():
    url = "rtsp://admin:pa/ss@w0rd@10.0.0.5:554/ch1?pw=hunter22&apikey=abc123&channel=2"
    out = redact_url(url)
    assert out == "rtsp://***@10.0.0.5:554/ch1?pw=***&apikey=***&channel=2"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=urls())
def test_status_records_logs_and_exceptions_of_a_failing_camera_hold_no_secret(case, caplog):
    url, secrets = case
    # Port 9 on localhost refuses at once: connecting and disconnected, with FFmpeg's error.
    url = url.replace(url.split("@")[-1].split("/")[0], "127.0.0.1:9", 1)
    statuses = []
    cam = CameraConfig("cam-1", url, 1.0)
    params = IngestParams(open_timeout_s=2, read_timeout_s=2, stop_at_eof=True)
    source = CameraSource(cam, lambda f: None, lambda *a: statuses.append(a), params)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        stop = threading.Event()
        # A live URL reconnects forever: stop after the first failure is reported.
        source.on_status = lambda *a: (statuses.append(a), a[1] == "disconnected" and stop.set())
        source.run(stop)
    assert any(s[1] == "disconnected" for s in statuses)
    records = [
        CameraStatus(v=1, camera_id=c, ts=1.8e9, worker_id="w", state=st_, fps=f, detail=d)
        for c, st_, f, d in statuses
    ]
    # What a status record says (its numbers cannot hold a password), decoded as published.
    texts = [msgspec.json.decode(encode(r))["detail"] for r in records]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(cam), str(source.detail)]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)


def test_the_worker_metrics_carry_no_url():
    from prometheus_client import REGISTRY, generate_latest

    from inference_workers.publisher import default_metrics

    url = "rtsp://admin:s3cr3t/x@10.0.0.9/ch1?pw=zzzyyy1"
    CameraConfig("cam-m", url, 1.0)
    default_metrics()
    text = generate_latest(REGISTRY).decode()
    assert "s3cr3t" not in text and "zzzyyy1" not in text
