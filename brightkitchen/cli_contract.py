"""CLI that publishes the committed contract to the systems around the pipeline:
`topics create` (Kafka), `schemas export` (JSON Schema files), `grafana push`
(boards and alert rules). One-shot jobs; nothing here runs the pipeline.
"""

from __future__ import annotations

import typer

from brightkitchen.cli_common import _fail, _settings, console

schemas_app = typer.Typer(no_args_is_help=True, help="Wire schemas.")
grafana_app = typer.Typer(no_args_is_help=True, help="Grafana: publish boards and alert rules.")
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics of the contract.")


@topics_app.command("create")
def topics_create() -> None:
    """Create every contract topic that does not exist yet (idempotent; a one-shot job)."""
    from brightkitchen.embedded import create_topics

    settings = _settings()
    if settings.embedded_broker:
        raise _fail("set BK_KAFKA_BOOTSTRAP: topics are created on a running broker", 2)
    try:
        created = create_topics(
            settings.kafka_bootstrap,
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            retention_ms=settings.retention_ms,
            client_config=settings.kafka_client_config(),
        )
    except Exception as exc:  # KafkaException carries the broker's answer
        raise _fail(f"broker {settings.kafka_bootstrap}: {exc}") from None
    console.print(f"created {len(created)} topics: {', '.join(created) or 'none (all exist)'}")


@grafana_app.command("push")
def grafana_push(
    url: str = typer.Option(..., help="Grafana base URL, e.g. https://grafana.city.gov.cn"),
    token: str = typer.Option(
        ..., envvar="BK_GRAFANA_TOKEN", help="service-account token (or BK_GRAFANA_TOKEN)"
    ),
) -> None:
    """Publish the committed dashboards and alert rules through Grafana's API."""
    from grafana_client import GrafanaApi

    from brightkitchen.grafana_push import PushError, push

    api = GrafanaApi.from_url(url, credential=token)
    try:
        report = push(
            api,
            progress=lambda s: console.print(f"  {s}"),
            snapshot_base=_settings().snapshot_public_url,
        )
    except PushError as exc:
        raise _fail(str(exc), 2) from None
    except Exception as exc:  # the client's errors carry Grafana's answer
        raise _fail(f"Grafana at {url}: {exc}") from None
    console.print(
        f"pushed {len(report.dashboards)} dashboards, {len(report.rules)} alert rules, "
        f"{len(report.contact_points)} contact points"
        + (", notification policy" if report.policy else "")
    )


@schemas_app.command("export")
def schemas_export() -> None:
    """Write schemas/json/*.json from schemas/records.py."""
    from schemas.export import export

    for path in export():
        console.print(str(path))
