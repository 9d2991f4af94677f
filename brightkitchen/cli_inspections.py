"""CLI of the regulators' loop: `inspections record|plan`, `report key-monitoring`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from brightkitchen.cli_common import _fail, _settings

inspections_app = typer.Typer(no_args_is_help=True, help="Inspections: record them, see the plan.")
report_app = typer.Typer(no_args_is_help=True, help="Printable reports for the stations.")


@inspections_app.command("record")
def inspections_record(
    operator: str = typer.Option(..., help="the operator's id (registry operator_id)"),
    inspector: str = typer.Option(..., help="who inspected"),
    station: str = typer.Option("", help="the inspector's station (市场监管所)"),
    kind: str = typer.Option("on_site", help="on_site | online"),
    result: str = typer.Option("pass", help="pass | issues_found | closed_down"),
    note: str = typer.Option("", help="free text"),
    ts: float | None = typer.Option(None, help="event time (Unix s); default now"),
) -> None:
    """Record an inspection on bk.inspections.v1 (the plan counts it)."""
    import msgspec
    from confluent_kafka import Producer

    from schemas.records import TOPIC_INSPECTIONS, Inspection, RecordError, decode, encode

    settings = _settings()
    raw = {
        "v": 1,
        "operator_id": operator,
        "ts": ts or time.time(),
        "inspector": inspector,
        "station": station,
        "kind": kind,
        "result": result,
        "note": note,
    }
    try:
        record = decode(Inspection, msgspec.json.encode(raw))
    except RecordError as exc:
        raise _fail(str(exc), 2) from None
    if settings.embedded_broker:
        raise _fail(
            "set BK_KAFKA_BOOTSTRAP to the broker the ops app reads "
            "(the embedded broker lives only as long as demo/replay)",
            2,
        )
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, **settings.kafka_client_config()}
    )
    producer.produce(TOPIC_INSPECTIONS, key=record.operator_id, value=encode(record))
    if producer.flush(15):
        raise _fail("the inspection was not delivered within 15 s")
    typer.echo(f"{record.kind} inspection of {record.operator_id} recorded ({record.result})")


def _rows(sql: str, parameters: dict) -> list[dict]:
    from brightkitchen import store

    try:
        client = store.connect(_settings())
        result = client.query(sql, parameters=parameters, settings={"readonly": 1})
    except Exception as exc:
        raise _fail(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)) from None
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


@inspections_app.command("plan")
def inspections_plan(
    station: str = typer.Option(..., "--station", help="the station (市场监管所)"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
) -> None:
    """The station's operators this month, riskiest first: grade, last and next inspection."""
    from brightkitchen.reports import PLAN_SQL, local, plan_text

    rows = _rows(PLAN_SQL, {"station": station})
    if as_json:
        import json

        for r in rows:
            times = ("last_inspection_at", "last_on_site_at", "next_due_at", "as_of")
            out = {k: (local(v) if k in times else v) for k, v in r.items()}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    sys.stdout.write(plan_text(rows))


@report_app.command("key-monitoring")
def report_key_monitoring(
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W46 (Beijing time)"),
    station: str = typer.Option("", "--station", help="one station; default all"),
    csv_out: Path | None = typer.Option(None, "--csv", help="write CSV here (default stdout)"),
    html_out: Path | None = typer.Option(None, "--html", help="write a printable HTML page here"),
) -> None:
    """Operators on the key-monitoring list during a week, per station (CSV and HTML)."""
    from brightkitchen.reports import (
        KEY_MONITORING_SQL,
        iso_week,
        key_monitoring_csv,
        key_monitoring_html,
    )

    try:
        start, end = iso_week(week)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    rows = _rows(
        KEY_MONITORING_SQL,
        {
            "week_start": start.replace(tzinfo=None),
            "week_end": end.replace(tzinfo=None),
            "station": station,
        },
    )
    text = key_monitoring_csv(rows)
    if csv_out is None:
        sys.stdout.write(text)
    else:
        csv_out.write_text(text, encoding="utf-8")
    if html_out is not None:
        html_out.write_text(key_monitoring_html(rows, week, station), encoding="utf-8")
        typer.echo(f"wrote {html_out} ({len(rows)} operators)", err=True)
