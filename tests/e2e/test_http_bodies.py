"""POST bodies on a real ops worker, sent over raw sockets: in pieces, slowly, byte by
byte, chunked; generated bodies and segmentations (hypothesis). A valid body is read
whole however it arrives; a bad one gets a status with a reason; the endpoint goes on."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightkitchen.embedded import create_topics, start_broker
from schemas.records import TOPIC_DISPOSITIONS, Disposition, decode
from stream_apps.dispositions_api import MAX_BODY_BYTES
from tests.e2e.ops_worker import running_ops_worker  # noqa: E402
from tests.e2e.topic_reader import consumer_from_start

pytestmark = pytest.mark.e2e
TOKEN = "e2e-bodies-9c1d"
BODY_TIMEOUT_S = 6.0  # a loaded CI machine can starve the sender for seconds
ACCEPTED: list[str] = []  # alert ids answered 202, checked on the topic at the end


@pytest.fixture(scope="module")
def broker():
    b = start_broker()
    create_topics(b.bootstrap, partitions=2)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def port(broker, tmp_path_factory):
    with running_ops_worker(
        broker.bootstrap,
        f"bk-bodies-{uuid.uuid4().hex[:8]}",
        tmp_path_factory.mktemp("ops") / "ops.log",
        answers,
        BK_DISPOSITIONS_TOKEN=TOKEN,
        BK_HTTP_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
    ) as ops_port:
        yield ops_port


def answers(port: int) -> bool:
    try:
        status, _ = exchange(
            port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []
        )
    except OSError:
        return False
    return status == 200


def exchange(
    port: int, head: bytes, pieces: list[bytes], gap_s: float = 0.0, timeout: float = 20.0
) -> tuple[int, dict | bytes]:
    """Send ``head`` then each piece as its own TCP segment (``gap_s`` apart); the
    answer's status and JSON body (raw bytes if not JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head)
        for piece in pieces:
            if gap_s:
                time.sleep(gap_s)  # the stimulus: a slow client, not synchronisation
            s.sendall(piece)
        data = b""
        while not complete(data):
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
    head_part, _, body = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole response with a Content-Length."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def post_head(length: int | None, token: str = TOKEN) -> bytes:
    lines = [
        "POST /dispositions HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        "Connection: close",
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(pieces: list[bytes]) -> list[bytes]:
    """Each piece as one HTTP chunk (and one segment), then the last chunk."""
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces if p] + [b"0\r\n\r\n"]


def disposition(alert_id: str, note: str = "") -> bytes:
    return json.dumps(
        {
            "v": 1,
            "alert_id": alert_id,
            "ts": 1793610000.0,
            "actor": "li",
            "action": "verified",
            "note": note,
        },
        ensure_ascii=False,
    ).encode()


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def new_id() -> str:
    return f"a-{uuid.uuid4().hex[:12]}"


def accepted(status: int, answer, alert_id: str) -> None:
    assert status == 202, answer
    assert answer["accepted"] == alert_id
    ACCEPTED.append(alert_id)


LONG_NOTE = "现场已整改，复查合格。" * 360  # 3,960 characters, ~11.9 KB of UTF-8


def test_a_body_in_two_segments_10ms_apart_is_read_whole(port):
    for _ in range(5):
        alert_id = new_id()
        body = disposition(alert_id, LONG_NOTE)
        half = len(body) // 2
        accepted(*exchange(port, post_head(len(body)), [body[:half], body[half:]], 0.01), alert_id)


def test_a_body_sent_byte_by_byte_is_read_whole(port):
    alert_id = new_id()
    body = disposition(alert_id, "复查" * 50)
    accepted(*exchange(port, post_head(len(body)), [bytes([b]) for b in body]), alert_id)


def test_a_body_sent_slowly_is_read_whole(port):
    alert_id = new_id()
    body = disposition(alert_id, LONG_NOTE)
    pieces = split(body, [len(body) * i // 6 for i in range(1, 6)])
    accepted(*exchange(port, post_head(len(body)), pieces, gap_s=0.3), alert_id)


def test_a_chunked_body_in_pieces_is_read_whole(port):
    alert_id = new_id()
    body = disposition(alert_id, LONG_NOTE)
    pieces = chunked(split(body, [7, 500, 4000, 9000]))
    accepted(*exchange(port, post_head(None), pieces, gap_s=0.05), alert_id)


def test_a_chunked_body_over_the_limit_is_413(port):
    pieces = chunked([b" " * 4096] * (MAX_BODY_BYTES // 4096 + 1))
    status, answer = exchange(port, post_head(None), pieces)
    assert status == 413 and "larger than" in answer["error"]


def test_a_declared_length_over_the_limit_is_413_before_the_body(port):
    status, answer = exchange(port, post_head(MAX_BODY_BYTES + 1), [])
    assert status == 413 and "larger than" in answer["error"]


def test_broken_chunk_framing_is_400(port):
    # Head and broken chunk in one segment. When the broken chunk arrives in a later
    # read, aiohttp's C parser does not fail the body the handler is reading: the
    # client gets the 408 of the body timeout instead (the endpoint goes on).
    status, answer = exchange(port, post_head(None) + b"zz\r\nnot hex\r\n0\r\n\r\n", [])
    assert status == 400, answer


def test_a_client_that_stops_sending_gets_408_and_the_endpoint_goes_on(port):
    body = disposition(new_id())
    started = time.monotonic()
    status, answer = exchange(port, post_head(len(body)), [body[:10]])  # 10 of its bytes
    assert status == 408 and "not received within" in answer["error"]
    assert time.monotonic() - started < BODY_TIMEOUT_S + 10
    alert_id = new_id()
    accepted(
        *exchange(port, post_head(len(disposition(alert_id))), [disposition(alert_id)]), alert_id
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    note=st.text(max_size=4000),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12),
    use_chunked=st.booleans(),
)
def test_any_valid_body_in_any_segmentation_is_accepted_whole(port, note, cuts, use_chunked):
    alert_id = new_id()
    body = disposition(alert_id, note)
    pieces = split(body, cuts)
    if use_chunked:
        accepted(*exchange(port, post_head(None), chunked(pieces)), alert_id)
    else:
        accepted(*exchange(port, post_head(len(body)), pieces), alert_id)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2048),
        st.text(max_size=512).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.builds(
            lambda d, k, v: json.dumps({**d, k: v}).encode(),
            st.just({"v": 1, "alert_id": "a-x", "ts": 1793610000.0, "actor": "li"}),
            st.sampled_from(["action", "alert_id", "ts", "v", "note", "extra"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=5000), st.floats()),
        ),
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=6),
    use_chunked=st.booleans(),
)
def test_any_body_gets_an_answer_with_a_reason(port, body, cuts, use_chunked):
    pieces = split(body, cuts)
    if use_chunked:
        status, answer = exchange(port, post_head(None), chunked(pieces))
    else:
        status, answer = exchange(port, post_head(len(body)), pieces)
    assert status in (202, 400, 413, 422), (status, answer)
    if status == 202:
        ACCEPTED.append(answer["accepted"])
    else:
        assert isinstance(answer, dict) and answer["error"], answer


def test_every_accepted_body_reached_the_topic_whole(port, broker):
    wanted = set(ACCEPTED)
    assert wanted
    consumer = consumer_from_start(broker.bootstrap, TOPIC_DISPOSITIONS)
    seen: dict[str, Disposition] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not wanted <= seen.keys():
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if not msg.error() and msg.value() is not None:
                    record = decode(Disposition, msg.value())
                    seen[record.alert_id] = record
    finally:
        consumer.close()
    assert wanted <= seen.keys()
    assert any(seen[a].note == LONG_NOTE for a in wanted if a in seen)
