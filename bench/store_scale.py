"""The store at city scale: a year of a 10,000-camera city, every board panel query timed.

    python -m bench.store_scale [--cameras 10000] [--days 365] [--detections 864000000]
                                [--runs 5] [--store DIR] [--keep] [--record]

1. Fills an embedded store (chdb) migrated to the current design with a year
   of events generated inside ClickHouse (``numbers()`` and hashes of the row
   number, so a fill is reproducible): the registry (cameras -> kitchens ->
   stations -> districts, 3 cameras a kitchen, 8 stations a district),
   violations, camera events, alerts, SLA breaches, daily operator rates and
   ``--detections`` raw detection rows spread over the last day. Violations
   and alerts are skewed: the camera of a row is ``C * u**4`` scattered over
   the city (``u`` uniform), so a few kitchens produce most of them. The last
   two days also hold the superseded `open` version of each violation and
   camera event, so FINAL has duplicates to collapse where live data has them.
   The materialized views of migrations 0232-0238 and 0240 fill the
   current-state tables and the per-minute rollup of detections as the rows
   go in (a city-day of frames, the default, takes minutes: each of its
   statements is logged); the fill ends with the store writer's compaction
   (``compact_current_state``: the tombstones of closed episodes and resolved
   alerts go, as they do every few minutes in a running sink). To measure a
   store filled before those migrations, fill it with the older code, run
   ``python -m clickhouse.migrate --dsn chdb://DIR`` (copy and swap, backfill)
   and time it with ``--reuse``.
2. Runs every ClickHouse panel query of the committed dashboards
   (grafana/dashboards/*.json, expanded by brightkitchen.boards.expand_query,
   exactly what the boards and ``brightkitchen board`` send) for the ranges
   6 h, 24 h, 7 d and 30 d ending at the end of the data, with the variables
   at All, at one district and at one station; ``--runs`` times each and
   reports p50/p95 wall time and the rows read (SelectedRows).
3. Prints (and with ``--record`` appends to bench/RESULTS.md) the figures
   and the store size per table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brightkitchen.boards import (
    QueryContext,
    expand_query,
    is_clickhouse,
    load_dashboard,
    with_min_interval,
)

BOARDS = ("bk-city", "bk-cameras", "bk-operators", "bk-sla")
RANGES = {"6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
END = "2026-11-30 12:00:00"
DISTRICTS = ("锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区",
             "青白江区", "新都区", "温江区", "双流区", "郫都区", "新津区")  # fmt: skip
STATIONS_PER_DISTRICT = 8
CAMERAS_PER_KITCHEN = 3


@dataclass(frozen=True)
class Scale:
    cameras: int = 10_000
    days: int = 365
    violations_per_camera_day: float = 5.0
    camera_events_per_camera_day: float = 1.0
    alerts_per_camera_day: float = 1.5
    breach_share: float = 0.15
    detections: int = 864_000_000  # a city-day: 10,000 cameras at 1 fps

    @property
    def kitchens(self) -> int:
        return -(-self.cameras // CAMERAS_PER_KITCHEN)


def _u(k: int) -> str:
    """A uniform number in [0, 1) from the row number, independent per `k`."""
    return f"(cityHash64(number, {k}) % 1000000000) / 1e9"


def _place(cam: str, scale: Scale) -> dict[str, str]:
    """SQL for the kitchen, station and district of camera index `cam`."""
    stations = len(DISTRICTS) * STATIONS_PER_DISTRICT
    per_station = -(-scale.kitchens // stations)
    kitchen = f"intDiv({cam}, {CAMERAS_PER_KITCHEN})"
    station = f"intDiv({kitchen}, {per_station})"
    district = (
        f"[{', '.join(repr(d) for d in DISTRICTS)}][intDiv({station}, {STATIONS_PER_DISTRICT}) + 1]"
    )
    return {
        "camera_id": f"concat('cam-', leftPad(toString({cam}), 5, '0'))",
        "kitchen_id": f"concat('k-', leftPad(toString({kitchen}), 5, '0'))",
        "operator_id": f"concat('op-', leftPad(toString({kitchen}), 5, '0'))",
        "district": district,
        "station": (
            f"concat({district}, '第', toString({station} % {STATIONS_PER_DISTRICT} + 1), '所')"
        ),
    }


def _skewed_camera(k: int, scale: Scale) -> str:
    # u**4 puts half of the rows on the first 6 % of indices; the multiplier
    # (coprime with most camera counts) scatters those over the city.
    return f"(toUInt64(pow({_u(k)}, 4) * {scale.cameras}) * 7919) % {scale.cameras}"


DETECTIONS_PER_STATEMENT = 50_000_000
"""A city-day of frames goes in as 18 statements, each logged (minutes in all)."""


def fill_statements(scale: Scale, end: str = END) -> Iterator[tuple[str, str]]:
    """(table, INSERT ... SELECT) that fill the store; all data ends at `end` (UTC)."""
    end_ms = f"toUnixTimestamp64Milli(toDateTime64('{end}', 3, 'UTC'))"
    span_ms = scale.days * 86400 * 1000
    c = scale
    p = _place("number", c)
    yield (
        "cameras",
        f"""
        INSERT INTO bk.cameras (v, camera_id, kitchen_id, operator_id, operator_name, district,
                                station, opening_hours, timezone, active)
        SELECT 1, {p["camera_id"]}, {p["kitchen_id"]}, {p["operator_id"]},
               concat('餐饮店', toString(intDiv(number, {CAMERAS_PER_KITCHEN}))),
               {p["district"]}, {p["station"]}, [('07:00', '22:00')], 'Asia/Shanghai',
               number % 97 != 0
        FROM numbers({c.cameras})""",
    )

    def episodes(table: str, n: int, open_version: bool) -> str:
        cam = (
            _skewed_camera(1, c)
            if table == "violations"
            else f"cityHash64(number, 1) % {c.cameras}"
        )
        q = _place("cam", c)
        start = f"{end_ms} - toInt64({_u(2)} * {span_ms})"
        dur = f"toInt64(5000 + {_u(3)} * 900000)"
        # Episodes still running at the end are open; so is one in 20,000 older one
        # (a camera that never came back).
        still_open = f"(start_ms + dur_ms > {end_ms} OR cityHash64(number, 4) % 20000 = 0)"
        if open_version:
            state, ended = "'open'", "NULL"
            where = f"WHERE start_ms > {end_ms} - 2 * 86400000 AND NOT {still_open}"
        else:
            state = f"if({still_open}, 'open', 'closed')"
            ended = f"if({still_open}, NULL, fromUnixTimestamp64Milli(start_ms + dur_ms, 'UTC'))"
            where = ""
        common = f"""
            WITH {cam} AS cam, {start} AS start_ms, {dur} AS dur_ms
            SELECT 1 AS v, lower(hex(MD5(concat('{table}', toString(number))))) AS id,
                   {q["camera_id"]} AS camera_id,
                   if(cityHash64(number, 5) % 50 = 0, NULL, {q["operator_id"]}) AS operator_id,
                   {{kind}}, {state} AS state,
                   fromUnixTimestamp64Milli(start_ms, 'UTC') AS started_at,
                   fromUnixTimestamp64Milli(start_ms + 3000, 'UTC') AS detected_at,
                   {ended} AS ended_at{{extra}}
            FROM numbers({n}) {where}"""
        if table == "violations":
            return f"""
            INSERT INTO bk.violations (v, violation_id, camera_id, operator_id, cls, severity,
                state, started_at, detected_at, ended_at, peak_score, frames, evidence)
            {
                common.format(
                    kind="['no_hat', 'no_mask', 'smoking', 'rodent', 'phone', 'no_uniform']"
                    "[cityHash64(number, 6) % 6 + 1] AS cls, "
                    "if(cls IN ('rodent', 'smoking'), 'critical', 'major') AS severity",
                    extra=", toFloat32(0.5 + 0.5 * " + _u(7) + ") AS peak_score, "
                    "toUInt32(dur_ms / 1000) AS frames, "
                    "(fromUnixTimestamp64Milli(start_ms + 1000, 'UTC'), "
                    "[0.1, 0.2, 0.3, 0.4]::Array(Float32)) AS evidence",
                )
            }"""
        return f"""
            INSERT INTO bk.camera_events (v, event_id, camera_id, operator_id, kind, state,
                started_at, detected_at, ended_at, detail)
            {
            common.format(
                kind="['offline', 'offline', 'offline', 'frozen', 'blurred', 'dark', "
                "'angle_changed'][cityHash64(number, 6) % 7 + 1] AS kind",
                extra=", '' AS detail",
            )
        }"""

    n_v = int(c.cameras * c.days * c.violations_per_camera_day)
    n_e = int(c.cameras * c.days * c.camera_events_per_camera_day)
    yield "violations", episodes("violations", n_v, False)
    yield "violations", episodes("violations", n_v, True)
    yield "camera_events", episodes("camera_events", n_e, False)
    yield "camera_events", episodes("camera_events", n_e, True)

    n_a = int(c.cameras * c.days * c.alerts_per_camera_day)
    q = _place("cam", c)
    age = f"({end_ms} - created_ms)"
    yield (
        "alerts",
        f"""
        INSERT INTO bk.alerts (v, alert_id, source, cls, severity, state, kitchen_id,
            operator_id, district, station, camera_ids, members, first_started_at, created_at,
            group_until, updated_at, revision, verified_at, resolved_at, resolution, last_actor)
        WITH {_skewed_camera(11, c)} AS cam,
             {end_ms} - toInt64({_u(12)} * {span_ms}) AS created_ms,
             {age} < 5 * 86400000 AND cityHash64(number, 13) % 3 = 0
                 OR cityHash64(number, 13) % 50 = 0 AS unresolved,
             {age} < 86400000 AND cityHash64(number, 14) % 2 = 0 AS unverified,
             cityHash64(number, 15) % 10 = 0 AS false_positive
        SELECT 1, lower(hex(MD5(concat('alert', toString(number))))),
               if(cityHash64(number, 16) % 5 = 0, 'camera', 'violation') AS source,
               ['no_hat', 'no_mask', 'smoking', 'rodent', 'phone', 'no_uniform']
                   [cityHash64(number, 6) % 6 + 1] AS cls,
               if(cls IN ('rodent', 'smoking'), 'critical', 'major'),
               multiIf(NOT unresolved, 'closed', unverified, 'pending', 'verified'),
               {q["kitchen_id"]}, {q["operator_id"]}, {q["district"]}, {q["station"]},
               [{q["camera_id"]}], [lower(hex(MD5(toString(number))))],
               fromUnixTimestamp64Milli(created_ms - 3000, 'UTC'),
               fromUnixTimestamp64Milli(created_ms, 'UTC'),
               fromUnixTimestamp64Milli(created_ms + 600000, 'UTC'),
               fromUnixTimestamp64Milli(created_ms + 600000, 'UTC'), 1 + number % 4,
               if(unverified, NULL,
                  fromUnixTimestamp64Milli(created_ms + toInt64({_u(17)} * 30 * 3600000), 'UTC')),
               if(unresolved, NULL,
                  fromUnixTimestamp64Milli(created_ms + toInt64({_u(18)} * 4 * 86400000), 'UTC')),
               if(unresolved, NULL, if(false_positive, 'false_positive', 'rectified')),
               'inspector-1'
        FROM numbers({n_a})""",
    )

    n_b = int(n_a * c.breach_share)
    yield (
        "sla_breaches",
        f"""
        INSERT INTO bk.sla_breaches (v, breach_id, alert_id, kind, due_at, alert_created_at,
            state_at_due, source, cls, severity, kitchen_id, operator_id, district, station,
            calendar_covered)
        WITH a AS (SELECT alert_id, created_at, source, cls, severity, kitchen_id, operator_id,
                          district, station FROM bk.alerts
                   WHERE cityHash64(alert_id) % 1000 < {int(c.breach_share * 1000)})
        SELECT 1, lower(hex(MD5(concat(alert_id, kind)))), alert_id, kind,
               created_at + toIntervalHour(multiIf(kind = 'verify_overdue', 24,
                   kind = 'rectify_overdue', 72, kind = 'yellow_card', 120, 240)),
               created_at, 'verified', source, cls, severity, kitchen_id, operator_id,
               district, station, true
        FROM a ARRAY JOIN
            arraySlice(['verify_overdue', 'rectify_overdue', 'yellow_card', 'escalated'], 1,
                       1 + cityHash64(alert_id, 1) % 4) AS kind
        LIMIT {n_b * 3}""",
    )

    k = c.kitchens
    q = _place(f"(intDiv(number, 4) % {k}) * {CAMERAS_PER_KITCHEN}", c)
    yield (
        "operator_rates",
        f"""
        INSERT INTO bk.operator_rates (v, rate_id, operator_id, district, station, `window`,
            window_s, window_start, as_of, cameras, exposure_h, violations, raw_rate, rate,
            prior_rate, prior_source, prior_strength_h, classes, sla_breaches, grade, colour,
            grade_window, reason)
        WITH ['1h', '24h', '7d', '30d'][number % 4 + 1] AS w,
             [3600, 86400, 604800, 2592000][number % 4 + 1] AS ws,
             toDateTime64('{end}', 3, 'UTC') - toIntervalDay(intDiv(number, {4 * k})) AS as_of,
             toFloat64(cityHash64(intDiv(number, 4) % {k}) % 1000) / 100 AS base
        SELECT 1, lower(hex(MD5(toString(number)))), {q["operator_id"]}, {q["district"]},
               {q["station"]}, w, ws, as_of - toIntervalSecond(ws), as_of, 3, ws / 1200,
               toUInt32(base * ws / 120000), base, base, 2.0, 'district', 10.0,
               [('no_hat', toUInt32(1), base / 2, base / 2, 1.0)], map(),
               ['A', 'B', 'C', 'D'][least(4, toUInt32(base / 2.5) + 1)],
               ['green', 'yellow', 'orange', 'red'][least(4, toUInt32(base / 2.5) + 1)],
               '7d', ''
        FROM numbers({4 * k * c.days})""",
    )

    fps = c.detections / (c.cameras * 86400)
    step_ms = max(1, int(1000 / fps)) if fps else 1000
    chunk = DETECTIONS_PER_STATEMENT - DETECTIONS_PER_STATEMENT % max(1, c.cameras)
    for start in range(0, c.detections, chunk):
        count = min(chunk, c.detections - start)
        yield "detections", _detections_sql(c, end_ms, step_ms, start, count)


def _detections_sql(c: Scale, end_ms: int, step_ms: int, start: int, count: int) -> str:
    """Rows `start` .. `start + count` of the raw detections: frame `n // cameras` of
    camera `n % cameras`, so the statements together are the one fill."""
    return f"""
        INSERT INTO bk.detections (camera_id, frame_ts, seq, worker_id, model, width, height,
            brightness, sharpness, cls, score, box)
        WITH number % {c.cameras} AS cam, intDiv(number, {c.cameras}) AS frame,
             multiIf(cityHash64(number, 21) % 10 < 7, 0, cityHash64(number, 21) % 10 < 9, 1, 2)
                 AS n
        SELECT concat('cam-', leftPad(toString(cam), 5, '0')),
               fromUnixTimestamp64Milli({end_ms} - 86400000 + frame * {step_ms}, 'UTC'),
               frame, concat('w-', toString(cam % 16)), 'yolov8n', 1920, 1080,
               toFloat32(80 + cityHash64(number, 22) % 80),
               toFloat32(cityHash64(number, 23) % 400),
               arraySlice(['person', 'no_hat'], 1, n)::Array(LowCardinality(String)),
               arrayResize([]::Array(Float32), n, toFloat32(0.8)),
               arrayResize([]::Array(Array(Float32)), n, [0.1, 0.2, 0.3, 0.4]::Array(Float32))
        FROM numbers({start}, {count})
        SETTINGS optimize_on_insert = 0"""


def fill(client: Any, scale: Scale, end: str = END, log: Any = print) -> dict[str, float]:
    """Run the fill, then compact the current-state tables; return seconds per step."""
    from stream_apps.sink.store_writer import compact_current_state

    seconds: dict[str, float] = {}
    for table, sql in fill_statements(scale, end):
        t0 = time.perf_counter()
        client.command(sql, settings={"max_partitions_per_insert_block": 0})
        seconds[table] = seconds.get(table, 0.0) + time.perf_counter() - t0
        log(f"filled bk.{table}: {seconds[table]:.1f} s")
    t0 = time.perf_counter()
    compact_current_state(client)
    seconds["compaction"] = time.perf_counter() - t0
    log(f"compacted the current-state tables: {seconds['compaction']:.1f} s")
    return seconds


@dataclass(frozen=True)
class PanelQuery:
    board: str
    title: str
    ref: str
    sql: str  # the panel's rawSql, macros unexpanded
    min_interval: str | None = None  # the panel's "Min interval" (`interval`)


def panel_queries(boards: tuple[str, ...] = BOARDS) -> list[PanelQuery]:
    """Every ClickHouse panel target of the committed dashboards."""
    out = []
    for uid in boards:
        board = load_dashboard(uid)
        for p in board["panels"]:
            if not is_clickhouse(p):
                continue
            for t in p["targets"]:
                out.append(PanelQuery(uid, p["title"], t["refId"], t["rawSql"], p.get("interval")))
    return out


def context(
    client: Any, end_ts: float, span_s: int, district: str | None, station: str | None
) -> QueryContext:
    """The context Grafana would send: range ending at `end_ts`, the board
    preview's interval (span / 120), variables at All or at one place."""

    def options(sql: str) -> list[str]:
        return [r[0] for r in client.query(sql).result_rows]

    districts = options("SELECT DISTINCT district FROM bk.cameras FINAL WHERE active ORDER BY 1")
    stations = options("SELECT DISTINCT station FROM bk.cameras FINAL WHERE active ORDER BY 1")
    operators = options("SELECT DISTINCT operator_id FROM bk.cameras FINAL WHERE active ORDER BY 1")
    return QueryContext(
        time_from=end_ts - span_s,
        time_to=end_ts,
        interval_s=max(1, span_s // 120),
        variables={
            "city": ["成都"],
            "district": [district] if district else ["$__all"],
            "station": [station] if station else ["$__all"],
            "operator": ["$__all"],
            "window": ["7d"],
            "snapshot_base": [""],  # the boards' hidden constant (BK_SNAPSHOT_PUBLIC_URL)
        },
        options={
            "district": districts,
            "station": stations,
            "operator": operators,
            "window": ["1h", "24h", "7d", "30d"],
        },
    )


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def selected_rows(client: Any) -> int:
    """Rows read from MergeTree tables by this process so far (ProfileEvents
    SelectedRows; chdb runs in-process and has no query_log). Reading the
    counter reads no MergeTree row itself."""
    return int(client.command("SELECT value FROM system.events WHERE event = 'SelectedRows'") or 0)


def time_queries(
    client: Any,
    runs: int,
    end_ts: float,
    ranges: tuple[str, ...] = tuple(RANGES),
    scopes: tuple[str, ...] = ("all", "district", "station"),
) -> list[dict[str, Any]]:
    place = client.query(
        "SELECT district, station FROM bk.cameras FINAL WHERE active ORDER BY camera_id LIMIT 1"
    ).result_rows[0]
    places = {"all": (None, None), "district": (place[0], None), "station": (place[0], place[1])}
    rows = []
    for q in panel_queries():
        for rname in ranges:
            span = RANGES[rname]
            for sname in scopes:
                d, s = places[sname]
                ctx = with_min_interval(context(client, end_ts, span, d, s), q.min_interval)
                sql = expand_query(q.sql, ctx)
                times, read = [], 0
                for _ in range(runs):
                    before = selected_rows(client)
                    t0 = time.perf_counter()
                    res = client.query(sql)
                    times.append(time.perf_counter() - t0)
                    read = selected_rows(client) - before
                print(
                    f"{q.board} / {q.title} ({q.ref}) {rname} {sname}: "
                    f"p95 {pct(times, 0.95) * 1000:.0f} ms, {read:,} rows read",
                    file=sys.stderr,
                    flush=True,
                )
                rows.append(
                    {
                        "board": q.board,
                        "panel": q.title,
                        "ref": q.ref,
                        "range": rname,
                        "scope": sname,
                        "p50": pct(times, 0.5),
                        "p95": pct(times, 0.95),
                        "read_rows": read,
                        "result_rows": len(res.result_rows),
                    }
                )
    return rows


def table_sizes(client: Any) -> list[tuple[str, int, int, int, int]]:
    return client.query(
        "SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes), "
        "count() FROM system.parts WHERE database = 'bk' AND active GROUP BY table ORDER BY table"
    ).result_rows


def report(
    scale: Scale,
    fill_s: dict[str, float],
    rows: list[dict[str, Any]],
    sizes: list[tuple[str, int, int, int, int]],
    runs: int,
) -> str:
    lines = [
        f"Scale: {scale.cameras} cameras, {scale.days} days, {scale.detections:,} detection rows "
        f"(a city-day at 1 fps is {scale.cameras * 86400:,}); fill "
        + ", ".join(f"{t} {s:.0f} s" for t, s in fill_s.items()),
        "",
        "| table | rows | compressed MiB | uncompressed MiB | parts |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, n, cb, ub, parts in sizes:
        lines.append(f"| bk.{t} | {n:,} | {cb / 2**20:,.1f} | {ub / 2**20:,.1f} | {parts} |")
    lines += [
        "",
        f"Panel queries ({runs} runs each; p50/p95 in ms; rows read = SelectedRows of the query):",
        "",
        "| board | panel | range | scope | p50 ms | p95 ms | rows read | result rows |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        title = r["panel"] + (f" ({r['ref']})" if r["ref"] != "A" else "")
        lines.append(
            f"| {r['board']} | {title} | {r['range']} | {r['scope']} | "
            f"{r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {r['read_rows']:,} | "
            f"{r['result_rows']} |"
        )
    worst = {}
    for r in rows:
        key = "30d" if r["range"] == "30d" else "<=7d"
        worst[key] = max(worst.get(key, 0.0), r["p95"])
    lines += [
        "",
        "Worst p95: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in worst.items())
        + " (targets: <= 1000 ms up to 7 d, <= 3000 ms at 30 d).",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cameras", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--detections", type=int, default=Scale.detections)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ranges", default="6h,24h,7d,30d", help="comma-separated subset")
    ap.add_argument("--scopes", default="all,district,station", help="comma-separated subset")
    ap.add_argument("--store", type=Path, help="store folder (default: a fresh temporary one)")
    ap.add_argument("--reuse", action="store_true", help="the store is filled already")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()

    import clickhouse_connect

    from clickhouse.migrate import migrate

    scale = Scale(cameras=args.cameras, days=args.days, detections=args.detections)
    store = args.store or Path(tempfile.mkdtemp(prefix="bk-store-scale-"))
    client = clickhouse_connect.get_client(dsn=f"chdb://{store}")
    try:
        fill_s: dict[str, float] = {}
        if not args.reuse:
            migrate(client)
            fill_s = fill(client, scale)
        end_ts = client.query(f"SELECT toUnixTimestamp(toDateTime('{END}', 'UTC'))").result_rows[0][
            0
        ]
        rows = time_queries(
            client,
            args.runs,
            float(end_ts),
            tuple(args.ranges.split(",")),
            tuple(args.scopes.split(",")),
        )
        text = report(scale, fill_s, rows, table_sizes(client), args.runs)
        print(text)
        if args.record:
            from bench.stream_stage import command_line, record

            record(
                "Store at city scale: a year of events, board panel queries", command_line(), text
            )
    finally:
        client.close()
        if not args.store and not args.keep:
            shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
