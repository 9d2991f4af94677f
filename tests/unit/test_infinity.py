"""A clock that has not started survives a snapshot: -inf -> null -> -inf."""

from __future__ import annotations

import json
import math

import msgspec

from stream_apps.engines.infinity import finite_or_none, inf_from_none


def test_a_finite_value_goes_through_both_ways_unchanged():
    assert finite_or_none(1764633600.25) == 1764633600.25
    assert inf_from_none(1764633600.25) == 1764633600.25
    assert finite_or_none(0.0) == 0.0  # zero is a time, not "absent"


def test_an_infinity_is_written_as_null_and_read_back_as_the_default():
    for x, default in ((-math.inf, -math.inf), (math.inf, math.inf)):
        for dumps, loads in ((json.dumps, json.loads), (msgspec.json.encode, msgspec.json.decode)):
            blob = dumps({"clock": finite_or_none(x)})
            assert loads(blob) == {"clock": None}
            assert inf_from_none(loads(blob)["clock"], default) == x


def test_the_default_is_minus_infinity_a_clock_not_started():
    assert inf_from_none(None) == -math.inf


def test_nan_is_written_as_null_as_msgspec_writes_it():
    assert finite_or_none(math.nan) is None
    assert msgspec.json.encode(math.nan) == b"null"
