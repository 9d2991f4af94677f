"""Hostile and careless input (issue 19), in process: ids, dead letters, replay lines.

The property suites throw generated input at each path and assert what every input
path promises (docs/reliability.md "Input paths"): every rejection has a reason, and
the stream goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brightkitchen.replay import MAX_RECORD_BYTES, ReplayInputError, check_file
from schemas.records import (
    ID_MAX_CHARS,
    ID_RULE,
    INPUT_TOPICS,
    TOPIC_DLQ,
    TOPIC_REGISTRY,
    CameraStatus,
    DeadLetter,
    Disposition,
    RecordError,
    RegistryEntry,
    decode,
)
from stream_apps.engines.sla import WorkingCalendar
from stream_apps.pipelines.camera import CameraPipeline
from stream_apps.pipelines.dlq import DLQ_KEY_MAX, DLQ_REASON_MAX, DLQ_VALUE_MAX, dead_letter
from stream_apps.pipelines.ops import OpsPipeline

T0 = 1_793_577_600.0
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CONTROL = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + ["\u2028", "\u2029"]


def registry(camera_id: str) -> dict:
    return {
        "v": 1,
        "camera_id": camera_id,
        "kitchen_id": "k1",
        "operator_id": "op1",
        "operator_name": "某某餐饮",
        "district": "河西区",
        "station": "友谊路所",
        "opening_hours": [["00:00", "24:00"]],
    }


def status(camera_id: str) -> bytes:
    value = {
        "v": 1,
        "camera_id": camera_id,
        "ts": T0,
        "worker_id": "w1",
        "state": "streaming",
        "fps": 1.0,
    }
    return json.dumps(value).encode()


# -- ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["cam\x00-1", "cam\n1", "cam-1\n", "\x1b[31mred", "a\x7f", "a\x85", "a\u2028"]
)
def test_an_id_with_a_control_character_is_refused_naming_the_rule(bad):
    with pytest.raises(RecordError) as err:
        decode(RegistryEntry, json.dumps(registry(bad)))
    assert "`$.camera_id` breaks the id rule" in str(err.value)
    assert ID_RULE in str(err.value)


def test_an_id_too_long_or_empty_is_refused_naming_the_rule():
    for bad in ["", "c" * (ID_MAX_CHARS + 1)]:
        with pytest.raises(RecordError) as err:
            decode(RegistryEntry, json.dumps(registry(bad)))
        assert "$.camera_id" in str(err.value) and ID_RULE in str(err.value)


@given(
    good=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters=CONTROL),
        min_size=1,
        max_size=ID_MAX_CHARS,
    )
)
@PROPERTY
def test_every_printable_id_up_to_the_limit_is_accepted(good):
    assert decode(RegistryEntry, json.dumps(registry(good))).camera_id == good


@given(
    prefix=st.text(max_size=20),
    bad=st.sampled_from(CONTROL),
    suffix=st.text(max_size=20),
)
@PROPERTY
def test_every_id_holding_a_control_character_goes_to_the_dlq_with_the_rule(prefix, bad, suffix):
    camera_id = prefix + bad + suffix
    pipeline = CameraPipeline()
    out = pipeline.handle("bk.camera-status.v1", 0, 0, b"k", status(camera_id))
    letters = [msgspec.json.decode(o.value, type=DeadLetter) for o in out if o.topic == TOPIC_DLQ]
    assert len(letters) == 1
    assert "id rule" in letters[0].reason
    # and the stream goes on: a good record after it is accepted
    assert not [
        o
        for o in pipeline.handle("bk.camera-status.v1", 0, 1, b"k", status("cam-ok"))
        if o.topic == TOPIC_DLQ
    ]


def test_every_input_id_field_follows_the_rule():
    value = {"v": 1, "alert_id": "a\x00", "ts": T0, "actor": "li", "action": "verified"}
    with pytest.raises(RecordError, match="id rule"):
        decode(Disposition, json.dumps(value))
    with pytest.raises(RecordError, match="id rule"):
        decode(CameraStatus, status("ok").replace(b'"w1"', b'"w\\u0000"'))


# -- dead letters ------------------------------------------------------------------------


def test_dead_letter_key_value_and_reason_are_bounded():
    key = ("键" * 5000).encode()  # 15,000 bytes
    out = dead_letter("cameras", "r" * 50_000, "t", 0, 7, key, b"v" * 100_000, T0)
    letter = msgspec.json.decode(out.value, type=DeadLetter)
    assert len(letter.key.encode()) <= DLQ_KEY_MAX + 32 and letter.key.endswith("bytes]")
    assert out.key == letter.key
    assert "\ufffd" not in letter.key  # a character split by the cut is dropped, not mangled
    assert len(letter.value.encode()) <= DLQ_VALUE_MAX + 32
    assert letter.value.endswith(f"…[+{100_000 - DLQ_VALUE_MAX} bytes]")
    assert len(letter.reason) <= DLQ_REASON_MAX + 32
    assert len(out.value) < DLQ_VALUE_MAX + DLQ_KEY_MAX + DLQ_REASON_MAX + 512


def test_a_small_dead_letter_is_kept_whole():
    out = dead_letter("ops", "why", "t", 0, 1, b"cam-1", b'{"v": 1}', T0)
    letter = msgspec.json.decode(out.value, type=DeadLetter)
    assert (letter.key, letter.value, letter.reason) == ("cam-1", '{"v": 1}', "why")


@pytest.mark.parametrize(
    "value",
    [b"not json", json.dumps(registry("cam\x00")).encode(), None, b"{}"],
    ids=["garbage", "nul-id", "tombstone", "empty"],
)
def test_one_bad_registry_record_gives_one_dlq_row_from_the_camera_app(value):
    cameras = CameraPipeline()
    ops = OpsPipeline(WorkingCalendar(set(), set()), wall_clock=lambda: T0)
    out = cameras.handle(TOPIC_REGISTRY, 0, 3, b"cam", value) + ops.handle(
        TOPIC_REGISTRY, 0, 3, b"cam", value
    )
    letters = [msgspec.json.decode(o.value, type=DeadLetter) for o in out if o.topic == TOPIC_DLQ]
    assert [(x.app, x.source_topic, x.offset) for x in letters] == [("cameras", TOPIC_REGISTRY, 3)]
    assert letters[0].reason
    assert ops.counters.registry_rejected == 1 and ops.counters.dead_letters == 0


# -- replay lines ------------------------------------------------------------------------


def envelope(topic: str, key: str | None, value) -> bytes:
    return json.dumps({"topic": topic, "key": key, "value": value}).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.builds(
        envelope,
        st.sampled_from([*INPUT_TOPICS, "bk.dlq.v1", "x"]),
        st.none() | st.text(max_size=30),
        json_values,
    ),
)


@given(body=st.lists(lines, min_size=1, max_size=8))
@PROPERTY
def test_any_replay_file_is_accepted_or_refused_with_its_line_number(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("replay") / "feed.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in body) + b"\n")
    try:
        counts = check_file(path)
    except ReplayInputError as exc:
        message = str(exc)
        assert message.startswith(f"{path}:")
        line = message[len(str(path)) + 1 :].split(":", 1)[0]
        assert line == "" or line.isdigit() or message.endswith("no records")
    else:
        assert sum(counts.values()) >= 1
        assert set(counts) <= set(INPUT_TOPICS)


def test_an_oversized_line_is_refused_before_anything_with_its_number(tmp_path):
    path = tmp_path / "big.jsonl"
    good = envelope(TOPIC_REGISTRY, "c", registry("c"))
    big = envelope("bk.detections.v1", "c", {"pad": "x" * (MAX_RECORD_BYTES + 1)})
    path.write_bytes(good + b"\n" + good + b"\n" + big + b"\n" + good + b"\n")
    with pytest.raises(ReplayInputError) as err:
        check_file(path)
    assert str(err.value).startswith(f"{path}:3: record of ")
    assert "message-size limit" in str(err.value)


def test_a_line_just_under_the_limit_is_accepted(tmp_path):
    path = tmp_path / "ok.jsonl"
    value = json.dumps({"pad": "x" * (MAX_RECORD_BYTES - 100)})
    path.write_bytes(f'{{"topic": "bk.detections.v1", "key": "c", "value": {value}}}\n'.encode())
    assert check_file(path) == {"bk.detections.v1": 1}


def test_a_smaller_broker_limit_is_honoured(tmp_path):
    path = tmp_path / "mid.jsonl"
    path.write_bytes(envelope("bk.detections.v1", "c", {"pad": "x" * 5000}) + b"\n")
    assert check_file(path) == {"bk.detections.v1": 1}
    with pytest.raises(ReplayInputError, match=r"mid.jsonl:1: record of 5,0\d\d bytes"):
        check_file(path, max_record_bytes=4096)


def test_files_outside_the_replay_are_untouched(tmp_path: Path):
    # check_file only reads: the file and its folder are as they were.
    path = tmp_path / "feed.jsonl"
    path.write_bytes(envelope(TOPIC_REGISTRY, "c", registry("c")) + b"\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    check_file(path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


# -- store settings ----------------------------------------------------------------------


def test_query_connects_as_the_read_only_user_on_a_server(monkeypatch, tmp_path):
    import clickhouse_connect

    from brightkitchen import store
    from brightkitchen.settings import Settings

    seen: list[dict] = []
    monkeypatch.setattr(clickhouse_connect, "get_client", lambda **kw: seen.append(kw) or kw)
    secret = tmp_path / "q"
    secret.write_text("reader-pw\n")
    s = Settings(
        _env_file=None,
        clickhouse_url="https://writer@ch.internal:8443",
        clickhouse_password="writer-pw",
        clickhouse_query_user="bk_query",
        clickhouse_query_password_file=secret,
    )
    store.connect(s)
    store.connect(s, query=True)
    assert [(k["username"], k["password"]) for k in seen] == [
        ("writer", "writer-pw"),
        ("bk_query", "reader-pw"),
    ]
    assert seen[1]["host"] == "ch.internal" and seen[1]["port"] == 8443 and seen[1]["secure"]


@pytest.mark.parametrize(
    "url", ["not a url", "ch.internal:8123", "ftp://h", "http://", "http://h:99999", "http://h:x"]
)
def test_a_bad_clickhouse_url_is_a_store_error_naming_the_variable(url):
    from brightkitchen import store
    from brightkitchen.settings import Settings

    with pytest.raises(store.StoreError, match="BK_CLICKHOUSE_URL"):
        store.connect(Settings(_env_file=None, clickhouse_url=url))
