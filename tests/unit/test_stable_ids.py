"""Output ids do not move: a replay against an existing store dedupes with its rows.

The golden ids below were computed with the code as it was before the id
functions were moved onto ``stable_id`` (each function hashing its own f-string,
commit b9483a0), and are hard-coded here on purpose: if one of these changes,
every id that engine ever wrote changes with it.
"""

from __future__ import annotations

import pytest

from stream_apps.engines.alerts import alert_id
from stream_apps.engines.camera_health.events import camera_event_id
from stream_apps.engines.ids import stable_id
from stream_apps.engines.inspection_plan import overdue_breach_id, plan_id
from stream_apps.engines.key_monitoring import entry_id
from stream_apps.engines.licences import licence_alert_id
from stream_apps.engines.notifications import notification_id
from stream_apps.engines.rates import rate_id
from stream_apps.engines.sla import breach_id
from stream_apps.engines.station_kpis import kpi_id
from stream_apps.engines.violations import violation_id

# Computed with the old code (b9483a0), not with stable_id: do not regenerate.
GOLDEN = [
    (violation_id, ("cam-001", "no_hat", 1764633600.25), "4c2bd7bbf510f64edca92cc500e98a80"),
    (violation_id, ("cam-001", "no_hat", 1764633600), "d9ef9221cee577c558ab5079b7d9a55e"),
    (
        alert_id,
        ("violation", "no_hat", "op-7", "kitchen:k-3", 1764633600.5),
        "e522fa18e9d546094caed127254463ea",
    ),
    (alert_id, ("camera", "offline", "", "camera:cam-9", 12.0), "6bcc049ae143b0a817c19756b645864a"),
    (camera_event_id, ("cam-001", "offline", 1764633600.25), "d734f69549343c4e46cdc51cf6c24d51"),
    (camera_event_id, ("cam-002", "frozen", 5), "17d24ba82fbfa85362c0ff9ae1a73182"),
    (breach_id, ("3f2a", "verify_overdue"), "1644ed6efd13aa29d99bfb1082222ef2"),
    (rate_id, ("op-7", "day", 1764633600.0), "31d9107d2dae9c426a92c6aed3e02a13"),
    (plan_id, ("op-7", 1764633600.0), "044a30d8c8d6ad09889254871481841a"),
    (overdue_breach_id, ("op-7", 1764720000.125), "dcd93156f22931c2584ba3f3a3612e17"),
    (entry_id, ("op-7", 1764633600.0), "044a30d8c8d6ad09889254871481841a"),
    (kpi_id, ("district", "西城", "", "2026-12-01"), "35aba7cfd2ccd57305087a345204d0be"),
    (notification_id, ("ops", "3f2a"), "a0ce5756f33d14c5696b691be2cb6f17"),
    (
        licence_alert_id,
        ("op-7", "food", "JY123", "expired", 1764633600.0),
        "aaebd7d3e5b8774c5080dc76ea251665",
    ),
    (
        licence_alert_id,
        ("op-7", "food", "JY123", "missing", None),
        "6fd4e1a668761e31204d865c368addd2",
    ),
]


@pytest.mark.parametrize(
    ("make", "parts", "expected"),
    GOLDEN,
    ids=[f"{g[0].__name__}-{i}" for i, g in enumerate(GOLDEN)],
)
def test_every_id_function_gives_the_id_the_old_code_gave(make, parts, expected):
    assert make(*parts) == expected


def test_a_time_is_written_to_the_millisecond_so_int_and_float_are_one_id():
    assert stable_id("cam", "no_hat", 10) == stable_id("cam", "no_hat", 10.0)
    assert stable_id("cam", "no_hat", 10.0004) == stable_id("cam", "no_hat", 10.0)
    assert stable_id("cam", "no_hat", 10.001) != stable_id("cam", "no_hat", 10.0)


def test_an_absent_part_is_the_empty_string():
    assert stable_id("op", None, "x") == stable_id("op", "", "x")


def test_the_two_constructions_differ_and_both_give_32_hex_characters():
    a, b = stable_id("cam", "offline", 1.0), stable_id("cam", "offline", 1.0, construction="sha1")
    assert a != b
    assert all(len(x) == 32 and int(x, 16) >= 0 for x in (a, b))


@pytest.mark.parametrize("bad", [True, b"cam", ["cam"], object()])
def test_a_part_that_is_not_a_string_number_or_none_is_refused(bad):
    with pytest.raises(TypeError, match="stable_id"):
        stable_id("cam", bad)


def test_an_unknown_construction_is_refused():
    with pytest.raises(ValueError, match="md5"):
        stable_id("cam", construction="md5")  # type: ignore[arg-type]
