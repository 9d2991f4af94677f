"""CLI of the alerts: `alerts list` (from the store), `alerts dispose` (onto
bk.dispositions.v1)."""

from __future__ import annotations

import sys

import typer

from brightkitchen.cli_common import _connect, _fail, _settings, console

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: list them, record dispositions.")


@alerts_app.command("list")
def alerts_list(
    all_states: bool = typer.Option(False, "--all", help="resolved alerts too"),
    limit: int = typer.Option(100, min=1),
) -> None:
    """Alerts from the store (open ones by default), oldest first, as JSON lines.

    `snapshot` is the URI of the evidence image (file://… or s3://…), null if none;
    `snapshot_link` is what a browser opens: s3://bucket/key under
    BK_SNAPSHOT_PUBLIC_URL when that is set, else the same URI."""
    import json

    from brightkitchen import store
    from inference_workers.snapshot_links import snapshot_link

    where = "" if all_states else "WHERE state IN ('open', 'verified')"
    sql = (
        "SELECT alert_id, state, cls, severity, operator_id, kitchen_id, district, station, "
        "camera_ids, created_at, snapshot "
        f"FROM bk.alerts FINAL {where} ORDER BY created_at LIMIT {limit}"
    )
    settings = _settings()
    client = _connect(settings)
    try:
        out = client.raw_query(sql, fmt="JSONEachRow", settings={"readonly": 1})
    except Exception as exc:
        raise _fail(store.first_line(exc)) from None
    for line in out.decode("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        row["snapshot_link"] = snapshot_link(row.get("snapshot"), settings.snapshot_public_url)
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@alerts_app.command("dispose")
def alerts_dispose(
    alert_id: str = typer.Argument(..., help="the alert's id (see `alerts list`)"),
    action: str = typer.Option(..., help="verified | false_positive | rectified | closed"),
    actor: str = typer.Option(..., help="who decided"),
    note: str = typer.Option("", help="free text"),
    ts: float | None = typer.Option(None, help="event time (Unix s); default now"),
) -> None:
    """Record an inspector's decision on bk.dispositions.v1."""
    import time

    from confluent_kafka import Producer

    from brightkitchen.broker_probe import refused_everywhere
    from schemas.records import TOPIC_DISPOSITIONS, Disposition, RecordError, decode, encode

    settings = _settings()
    if settings.embedded_broker:
        raise _fail(
            "set BK_KAFKA_BOOTSTRAP to the broker the ops app reads "
            "(the embedded broker lives only as long as demo/replay)",
            2,
        )
    raw = {"v": 1, "alert_id": alert_id, "ts": ts or time.time(), "actor": actor}
    raw |= {"action": action, "note": note}
    try:
        record = decode(Disposition, encode_json(raw))
    except RecordError as exc:
        raise _fail(str(exc), 2) from None
    refused = refused_everywhere(settings.kafka_bootstrap)
    if refused is not None:
        raise _fail(f"cannot reach the broker at {settings.kafka_bootstrap}: {refused}")
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            **settings.kafka_client_config(),
            "log_level": 0,  # an unreachable broker is the one line below, not a log flood
        }
    )
    producer.produce(TOPIC_DISPOSITIONS, key=record.alert_id, value=encode(record))
    if producer.flush(15):
        raise _fail(
            f"the disposition was not delivered within 15 s: "
            f"cannot reach the broker at {settings.kafka_bootstrap}?"
        )
    console.print(f"{record.action} recorded for alert {record.alert_id}")


def encode_json(value: dict) -> bytes:
    import msgspec

    return msgspec.json.encode(value)
