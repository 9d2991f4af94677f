"""StoreWriter on a real embedded store (chdb through clickhouse-connect).

chdb runs one engine path per process, so the store tests of this process
share one path (a folder of the pytest session); the migrations are applied
once per module and every test starts from empty tables.
"""

from __future__ import annotations

import time

import clickhouse_connect
import pytest

from clickhouse.migrate import migrate
from schemas.records import (
    TOPIC_CAMERA_EVENTS,
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_REGISTRY,
    TOPIC_VIOLATIONS,
    CameraEvent,
    DeadLetter,
    Detection,
    Evidence,
    FrameDetections,
    Quality,
    RegistryEntry,
    Violation,
)
from stream_apps.sink.store_writer import StoreWriter

T0 = 1_700_000_000.123  # * 1000 is 1700000000122.9999...: must round, not truncate
TABLES = ("violations", "camera_events", "detections", "cameras", "dead_letters")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "chdb-store"
    c = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    c.command("DROP DATABASE IF EXISTS bk SYNC")
    migrate(c)
    yield c
    c.close()


@pytest.fixture
def writer(client):
    for table in TABLES:
        client.command(f"TRUNCATE TABLE bk.{table}")
    return StoreWriter(client)


def violation(state="open", violation_id="v-1", **changes) -> Violation:
    fields = dict(
        v=1,
        violation_id=violation_id,
        camera_id="cam-1",
        operator_id="op-1",
        cls="rodent",
        severity="critical",
        state=state,
        started_at=T0,
        detected_at=T0 + 2.5,
        ended_at=T0 + 60.0 if state == "closed" else None,
        peak_score=0.93,
        frames=2 if state == "open" else 17,
        evidence=Evidence(frame_ts=T0 + 1.0, box=(0.1, 0.2, 0.3, 0.4)),
    )
    return Violation(**{**fields, **changes})


def camera_event(state="open", event_id="e-1") -> CameraEvent:
    return CameraEvent(
        v=1,
        event_id=event_id,
        camera_id="cam-1",
        operator_id=None,
        kind="offline",
        state=state,
        started_at=T0,
        detected_at=T0 + 60.0,
        ended_at=T0 + 300.0 if state == "closed" else None,
        detail="no frame for 60 s",
    )


def frame(seq: int, camera_id="cam-1", classes=("no_hat",)) -> FrameDetections:
    return FrameDetections(
        v=1,
        camera_id=camera_id,
        frame_ts=T0 + seq,
        seq=seq,
        worker_id="w-1",
        model="yolo@1",
        width=1920,
        height=1080,
        quality=Quality(brightness=0.5, sharpness=120.0, signature=[0.0] * 64),
        detections=[Detection(cls=c, score=0.75, box=(0.0, 0.25, 0.5, 1.0)) for c in classes],
    )


def registry(operator_name: str, camera_id="cam-1") -> RegistryEntry:
    return RegistryEntry(
        v=1,
        camera_id=camera_id,
        kitchen_id="k-1",
        operator_id="op-1",
        operator_name=operator_name,
        district="Xuhui",
        station="S-3",
        opening_hours=[["07:00", "14:00"], ["16:30", "22:00"]],
    )


def rows(client, sql: str) -> list[tuple]:
    return client.query(sql).result_rows


def test_open_then_closed_violation_is_one_closed_row(writer):
    writer.write(TOPIC_VIOLATIONS, [violation("open")])
    writer.write(TOPIC_VIOLATIONS, [violation("closed")])
    writer.write(TOPIC_VIOLATIONS, [violation("closed")])
    assert rows(writer.client, "SELECT violation_id, state, frames FROM bk.violations FINAL") == [
        ("v-1", "closed", 17)
    ]


def test_closed_violation_wins_even_when_the_open_one_arrives_later(writer):
    writer.write(TOPIC_VIOLATIONS, [violation("closed")])
    writer.write(TOPIC_VIOLATIONS, [violation("open"), violation("open")])
    assert rows(writer.client, "SELECT state FROM bk.violations FINAL") == [("closed",)]


def test_open_violation_replayed_stays_one_open_row_with_null_end(writer):
    writer.write(TOPIC_VIOLATIONS, [violation("open")])
    writer.write(TOPIC_VIOLATIONS, [violation("open")])
    assert rows(writer.client, "SELECT state, ended_at FROM bk.violations FINAL") == [
        ("open", None)
    ]


def test_violation_times_and_evidence_round_trip_to_the_millisecond(writer):
    writer.write(TOPIC_VIOLATIONS, [violation("closed")])
    got = rows(
        writer.client,
        "SELECT toUnixTimestamp64Milli(started_at), toUnixTimestamp64Milli(detected_at),"
        " toUnixTimestamp64Milli(ended_at), toUnixTimestamp64Milli(evidence.frame_ts),"
        " evidence.box, operator_id, cls, severity FROM bk.violations FINAL",
    )
    ms = round(T0 * 1000)
    assert got == [
        (
            ms,
            ms + 2500,
            ms + 60000,
            ms + 1000,
            pytest.approx([0.1, 0.2, 0.3, 0.4]),
            "op-1",
            "rodent",
            "critical",
        )
    ]


def test_the_written_version_equals_the_column_default(writer):
    writer.write(TOPIC_VIOLATIONS, [violation("open", "a"), violation("closed", "b")])
    writer.client.command(
        "INSERT INTO bk.violations (v, violation_id, camera_id, operator_id, cls, severity,"
        " state, started_at, detected_at, ended_at, peak_score, frames, evidence)"
        " SELECT v, violation_id || '-sql', camera_id, operator_id, cls, severity, state,"
        " started_at, detected_at, ended_at, peak_score, frames, evidence FROM bk.violations"
    )
    got = rows(
        writer.client,
        "SELECT a.version, b.version FROM bk.violations AS a"
        " JOIN bk.violations AS b ON b.violation_id = a.violation_id || '-sql' ORDER BY a.state",
    )
    assert len(got) == 2
    assert all(written == default for written, default in got)
    closed, opened = got[0][0], got[1][0]
    assert closed > opened


def test_open_then_closed_camera_event_is_one_closed_row(writer):
    writer.write(TOPIC_CAMERA_EVENTS, [camera_event("open")])
    writer.write(TOPIC_CAMERA_EVENTS, [camera_event("closed"), camera_event("closed")])
    writer.write(TOPIC_CAMERA_EVENTS, [camera_event("open")])
    got = rows(
        writer.client,
        "SELECT event_id, state, operator_id, toUnixTimestamp64Milli(ended_at)"
        " FROM bk.camera_events FINAL",
    )
    assert got == [("e-1", "closed", None, round((T0 + 300.0) * 1000))]


def test_duplicate_detections_collapse_under_final(writer):
    batch = [frame(0), frame(1, classes=()), frame(2, classes=("rodent", "no_mask"))]
    assert writer.write(TOPIC_DETECTIONS, batch + [frame(1, classes=())]) == 4
    writer.write(TOPIC_DETECTIONS, batch)
    got = rows(
        writer.client,
        "SELECT seq, toUnixTimestamp64Milli(frame_ts), cls, length(score), box"
        " FROM bk.detections FINAL ORDER BY seq",
    )
    ms = round(T0 * 1000)
    assert got == [
        (0, ms, ["no_hat"], 1, [[0.0, 0.25, 0.5, 1.0]]),
        (1, ms + 1000, [], 0, []),
        (2, ms + 2000, ["rodent", "no_mask"], 2, [[0.0, 0.25, 0.5, 1.0]] * 2),
    ]


def test_detections_get_an_insert_time_for_their_ttl(writer):
    writer.write(TOPIC_DETECTIONS, [frame(0)])
    (age,) = rows(writer.client, "SELECT now64(3) - ingested_at FROM bk.detections")[0]
    assert abs(float(age)) < 60


def test_latest_registry_entry_wins(writer):
    writer.write(TOPIC_REGISTRY, [registry("Old Name"), registry("Newer Name")])
    writer.write(TOPIC_REGISTRY, [registry("Newest Name"), registry("Other", camera_id="cam-2")])
    got = rows(
        writer.client,
        "SELECT camera_id, operator_name, opening_hours FROM bk.cameras FINAL ORDER BY camera_id",
    )
    hours = [{"open": "07:00", "close": "14:00"}, {"open": "16:30", "close": "22:00"}]
    assert got == [("cam-1", "Newest Name", hours), ("cam-2", "Other", hours)]


def test_dead_letters_round_trip(writer):
    # Dead letters keep 30 days from their (wall-clock) ts: use a recent one.
    now = int(time.time()) + 0.123
    letter = DeadLetter(
        v=1,
        reason="FrameDetections: Expected `float`, got `str` - at `$.frame_ts`",
        source_topic=TOPIC_DETECTIONS,
        partition=3,
        offset=12345678901,
        key=None,
        value='{"frame_ts": "soon"}',
        app="violations",
        ts=now,
    )
    writer.write(TOPIC_DLQ, [letter, letter])
    got = rows(
        writer.client,
        "SELECT source_topic, partition, offset, key, toUnixTimestamp64Milli(ts)"
        " FROM bk.dead_letters FINAL",
    )
    assert got == [(TOPIC_DETECTIONS, 3, 12345678901, None, round(now * 1000))]


def test_an_unknown_topic_is_refused_by_name(writer):
    with pytest.raises(ValueError, match=TOPIC_CAMERA_STATUS):
        writer.write(TOPIC_CAMERA_STATUS, [])


def test_a_record_of_another_topic_is_refused_and_nothing_written(writer):
    with pytest.raises(TypeError, match="CameraEvent"):
        writer.write(TOPIC_VIOLATIONS, [violation(), camera_event()])
    assert rows(writer.client, "SELECT count() FROM bk.violations") == [(0,)]


def test_an_empty_batch_writes_nothing(writer):
    assert writer.write(TOPIC_DETECTIONS, []) == 0
