"""The query expander turns Grafana variables and ClickHouse-plugin macros into SQL."""

from __future__ import annotations

import pytest

from brightkitchen.boards import ALL, MacroError, QueryContext, expand_query, with_min_interval

CTX = QueryContext(
    time_from=1_793_577_600.5,
    time_to=1_793_581_200.25,
    interval_s=30,
    variables={"district": ["武侯区", "O'Brien"], "station": [ALL], "window": ["7d"]},
    options={"station": ["s1", "s2"]},
)


def test_time_filter_uses_whole_seconds_of_the_range():
    assert expand_query("$__timeFilter(started_at)", CTX) == (
        "started_at >= toDateTime(1793577600) AND started_at <= toDateTime(1793581200)"
    )


def test_millisecond_macros_keep_the_milliseconds():
    assert expand_query("$__fromTime_ms, $__toTime_ms", CTX) == (
        "fromUnixTimestamp64Milli(1793577600500), fromUnixTimestamp64Milli(1793581200250)"
    )


def test_time_interval_buckets_by_the_panel_interval():
    assert expand_query("$__timeInterval(frame_ts) / $__interval_s", CTX) == (
        "toStartOfInterval(toDateTime(frame_ts), INTERVAL 30 second) / 30"
    )


def test_singlequote_quotes_and_escapes_every_value():
    assert expand_query("IN (${district:singlequote})", CTX) == "IN ('武侯区','O\\'Brien')"


def test_all_expands_to_every_option():
    assert expand_query("IN (${station:singlequote})", CTX) == "IN ('s1','s2')"


def test_conditional_all_drops_the_condition_when_all_is_selected():
    sql = "$__conditionalAll(station IN (${station:singlequote}), $station)"
    assert expand_query(sql, CTX) == "1=1"


def test_conditional_all_keeps_a_nested_condition_for_a_selection():
    sql = (
        "$__conditionalAll(id IN (SELECT id FROM t WHERE d IN (${district:singlequote})),"
        " $district) AND x"
    )
    assert (
        expand_query(sql, CTX) == "id IN (SELECT id FROM t WHERE d IN ('武侯区','O\\'Brien')) AND x"
    )


def test_a_single_value_variable_interpolates_plainly():
    assert expand_query("`window` = '${window}' AND w = '$window'", CTX) == (
        "`window` = '7d' AND w = '7d'"
    )


def test_a_multi_value_variable_without_a_format_is_refused():
    with pytest.raises(MacroError, match="needs a format"):
        expand_query("d IN ($district)", CTX)


def test_an_unknown_macro_is_refused():
    with pytest.raises(MacroError, match="unknown macro"):
        expand_query("$__unixEpochFilter(t)", CTX)


def test_a_panel_min_interval_rounds_the_interval_up_to_whole_multiples():
    assert with_min_interval(CTX, "1m").interval_s == 60  # 30 s -> the floor
    assert with_min_interval(CTX, None).interval_s == 30
    wide = QueryContext(time_from=0, time_to=86400, interval_s=720)
    assert with_min_interval(wide, "1m").interval_s == 720  # already whole minutes
    assert with_min_interval(QueryContext(0, 1, interval_s=90), "1m").interval_s == 120
    assert with_min_interval(QueryContext(0, 1, interval_s=90), "1h").interval_s == 3600
    with pytest.raises(MacroError, match="1 minute"):
        with_min_interval(CTX, "1 minute")


def test_conditional_all_of_a_constant_tells_whether_all_is_selected():
    # the rollup panels pick their level this way (bk.detections_minute)
    sql = "NOT ($__conditionalAll(0, $station)), NOT ($__conditionalAll(0, $district))"
    assert expand_query(sql, CTX) == "NOT (1=1), NOT (0)"
