"""`brightkitchen` command line: the root app and the commands a user runs (demo,
replay, query, ...); the worker hosts, alerts and contract commands live in the
`cli_*` modules it registers."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from brightkitchen import cli_alerts, cli_contract, cli_inspections, cli_workers
from brightkitchen.cli_common import _connect, _fail, _settings, console
from brightkitchen.settings import Settings, name_index
from brightkitchen.settings_tree import UnknownSettingError, check_environment

_debug = {"on": False}


class _App(typer.Typer):
    """The CLI: any failure a command did not turn into a message still ends in one
    line (``error: ...``, exit 1); ``--debug`` shows the traceback."""

    def __call__(self, *args, **kwargs):
        _debug["on"] = "--debug" in sys.argv[1:]
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if _debug["on"]:
                raise
            Console(stderr=True, soft_wrap=True).print(
                f"[red]error:[/red] {escape(_one_line(exc))} (run with --debug for the traceback)",
                highlight=False,
            )
            sys.exit(1)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 500:
        text = text[:500] + "…"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


app = _App(
    add_completion=False,
    no_args_is_help=True,
    help="BrightKitchen: realtime bright-kitchen (明厨亮灶) food-safety supervision.",
)
app.add_typer(cli_contract.schemas_app, name="schemas")
app.add_typer(cli_alerts.alerts_app, name="alerts")
app.add_typer(cli_contract.grafana_app, name="grafana")
app.add_typer(cli_contract.topics_app, name="topics")
app.add_typer(cli_inspections.inspections_app, name="inspections")
app.add_typer(cli_inspections.report_app, name="report")


@app.callback()
def _check_settings_names(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks instead of one-line errors"),
) -> None:
    """Every command refuses a misspelt BK_* variable (it would leave a default in force)."""
    if debug:
        _debug["on"] = True
    try:
        check_environment(name_index(), os.environ)
    except UnknownSettingError as exc:
        console.print(f"[red]invalid BK_* settings:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def _pipeline_failures() -> Iterator[None]:
    """A demo pipeline that fails or is interrupted exits with its reason, not a traceback."""
    from brightkitchen.runtime import PipelineError

    try:
        yield
    except (PipelineError, OSError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; every child process was stopped", 130) from None


@app.command()
def demo(
    cameras: int | None = typer.Option(
        None, min=1, help="simulated cameras (default 50; city: 10,000)"
    ),
    minutes: float | None = typer.Option(
        None, min=0.05, help="wall-clock minutes to run (default 2; city: 1)"
    ),
    speed: float = typer.Option(10.0, min=0.1, help="kitchen time per wall-clock time"),
    seed: int = typer.Option(7, help="simulator seed"),
    source: str = typer.Option(
        "simulator", help="simulator | video (a real inference worker on generated clips)"
    ),
    profile: str = typer.Option(
        "default",
        help="default | city (10,000 cameras at 1 fps in real time: does this machine keep up?)",
    ),
) -> None:
    """The whole pipeline on the embedded default with a simulated camera fleet."""
    from brightkitchen.demo import run_demo

    settings = _settings()
    if profile == "city":
        return _city_demo(settings, cameras or 10_000, minutes or 1.0)
    if profile != "default":
        raise _fail(f"--profile {profile!r}: want default or city", 2)
    cameras, minutes = cameras or 50, minutes or 2.0
    if cameras > 5000:
        raise _fail(f"--cameras {cameras}: at most 5000 (use --profile city for more)", 2)
    with _pipeline_failures():
        code = run_demo(settings, console, cameras, minutes, speed, seed, source)
    raise typer.Exit(code)


def _city_demo(settings: Settings, cameras: int, minutes: float) -> None:
    """`demo --profile city`: real-time pace, lag every 5 s, a verdict at the end."""
    from brightkitchen.city import run_city

    console.print(
        f"[bold]BrightKitchen city profile[/bold]: {cameras:,} simulated cameras at 1 fps "
        f"for {minutes:g} min of real time"
    )
    try:
        with _pipeline_failures():
            report = run_city(
                settings, cameras, minutes * 60, log=lambda s: console.print(f"  {s}")
            )
    except ValueError as exc:  # a fleet too large for the embedded broker
        raise _fail(str(exc), 2) from None
    console.print(report.markdown().split("\n\n", 2)[-1])
    if report.failure:
        raise typer.Exit(1)


@app.command()
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="replay file to write (.jsonl)"),
    cameras: int = typer.Option(40, min=1),
    minutes: float = typer.Option(120.0, min=1, help="kitchen time to simulate"),
    seed: int = typer.Option(7),
    profile: str = typer.Option(
        "default",
        help="default | violations_only | health_stress | sla-holiday | inspections-month",
    ),
) -> None:
    """Write a simulated feed for `replay`, and its ground truth beside it."""
    from inference_workers.simulator import FleetConfig, write_replay

    if profile == "inspections-month":  # issue 18: brightkitchen/inspections_scenario.py
        from brightkitchen import inspections_scenario

        n = inspections_scenario.write(out)
        console.print(f"wrote {out}: {n:,} records (see brightkitchen/inspections_scenario.py)")
        return
    if profile == "sla-holiday":
        from brightkitchen import sla_scenario

        n = sla_scenario.write(out)
        console.print(f"wrote {out}: {n:,} records (see brightkitchen/sla_scenario.py)")
        return
    try:
        config = FleetConfig.for_profile(
            profile, cameras=cameras, duration_s=minutes * 60, seed=seed
        )
    except (KeyError, ValueError) as exc:
        raise _fail(f"bad simulation settings: {exc}", 2) from None
    truth = out.with_suffix(".truth.json")
    stats = write_replay(config, out, truth)
    console.print(f"wrote {out} and {truth}: {stats}")


@app.command()
def replay(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL file of recorded records"),
    stall_timeout: float = typer.Option(120.0, help="fail after this long without progress"),
) -> None:
    """Publish a recorded feed as fast as possible; exit 0 once every event is stored."""
    from brightkitchen.replay import (
        MAX_RECORD_BYTES,
        BrokerUnreachable,
        ReplayInputError,
        broker_limit,
        scan_file,
    )
    from brightkitchen.replay import replay as run_replay
    from brightkitchen.runtime import PipelineError, PipelineRuntime
    from stream_apps.shells.gc_policy import tune_for_throughput

    tune_for_throughput()  # the sink thread of this process batches city-sized inputs
    settings = _settings()
    limit = MAX_RECORD_BYTES
    if not settings.embedded_broker:
        try:
            limit = broker_limit(
                {"bootstrap.servers": settings.kafka_bootstrap, **settings.kafka_client_config()}
            )
        except BrokerUnreachable as exc:
            raise _fail(str(exc)) from None
    try:
        plan = scan_file(input, limit)
    except ReplayInputError as exc:
        raise _fail(str(exc), 2) from None
    counts = plan.counts
    console.print(f"replaying {sum(counts.values()):,} records from {input}: {counts}")
    last = {"phase": ""}

    def progress(phase: str, done: int, total: int) -> None:
        if phase != last["phase"] or phase == "publish":
            console.print(f"  {phase}: {done:,}/{total:,}")
            last["phase"] = phase

    try:
        with PipelineRuntime(settings, log=lambda s: console.print(f"  {s}")) as rt:
            result = run_replay(
                input, rt, progress, stall_timeout_s=stall_timeout, max_record_bytes=limit,
                plan=plan,
            )  # fmt: skip
            stats = rt.sink.stats
            console.print(
                f"done: {result.records:,} records in {result.seconds:.1f} s "
                f"({result.records / max(result.seconds, 1e-9):,.0f}/s); "
                f"{stats.rows:,} rows stored in {stats.batches} batches"
            )
    except (PipelineError, OSError, RuntimeError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def query(
    sql: str = typer.Argument(
        ..., help="one read-only statement (SELECT/WITH/SHOW/DESCRIBE/EXPLAIN)"
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="write the answer to this file (needed for binary FORMATs)"
    ),
) -> None:
    """Run one read-only statement on the store and print its answer (JSON lines by default).

    The statement is checked first, by ClickHouse's own parser and sqlglot's: only
    SELECT/WITH/SHOW/DESCRIBE/EXPLAIN, no INTO OUTFILE, no SETTINGS, no table function
    or table engine that reaches files, URLs, other servers or programs. A binary
    FORMAT (Parquet, Arrow, Native, ...) needs --out.
    """
    from brightkitchen import store

    settings = _settings()
    if out is not None and settings.embedded_store:
        target, root = out.resolve(), settings.store_path.resolve()
        if target == root or root in target.parents:
            raise _fail(f"--out {out}: inside the embedded store {root}; choose another path", 2)
    client = _connect(settings, query=True)
    read_only = {"readonly": 1, "output_format_json_quote_64bit_integers": 0}
    try:
        # chdb keeps a query's settings for the session: the checks run read-only too.
        if settings.embedded_store:
            client.raw_query("SELECT 1", settings=read_only)
        checked = store.check_read_only(client, sql)
    except store.QueryRefused as exc:
        raise _fail(f"query refused: {exc}", 2) from None
    if checked.binary and out is None:
        raise _fail(
            f"FORMAT {checked.fmt} is binary: give --out FILE to write it (never printed as text)",
            2,
        )
    try:
        answer = client.raw_query(
            checked.body,
            fmt=checked.fmt,
            settings=read_only,
        )
    except Exception as exc:
        message = store.first_line(exc)
        if "UNKNOWN_DATABASE" in message:
            message += (
                f" — the {store.describe(settings)} holds no data yet: "
                "run `brightkitchen demo` or `brightkitchen replay` first"
            )
        raise _fail(message) from None
    if out is not None:
        try:
            out.write_bytes(answer)
        except OSError as exc:
            raise _fail(f"--out {out}: {exc.strerror or exc}") from None
        console.print(f"wrote {len(answer):,} bytes of {checked.fmt} to {out}")
        return
    sys.stdout.buffer.write(answer)  # bytes as the store sent them, never re-decoded
    sys.stdout.buffer.flush()


# The worker hosts (cli_workers.py), registered here: `--help` lists commands in this order.
app.command()(cli_workers.stream)
app.command()(cli_workers.sink)
app.command()(cli_workers.worker)
app.command()(cli_workers.deepstream)


@app.command(name="migrate")
def migrate_cmd() -> None:
    """Apply pending ClickHouse migrations to the configured store."""
    from brightkitchen import store
    from clickhouse.migrate import migrate

    settings = _settings()
    client = _connect(settings)
    try:
        applied = migrate(client)
    except Exception as exc:
        raise _fail(f"migrating the {store.describe(settings)}: {store.first_line(exc)}") from None
    console.print(f"{store.describe(settings)}: applied {applied or 'nothing (up to date)'}")


@app.command()
def board(
    name: str = typer.Argument(..., help="city | camera-health | operator-risk | sla | pipeline"),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write"),
) -> None:
    """Render a static preview of a Grafana board from the store (same queries)."""
    from brightkitchen.boards import render_board

    settings = _settings()
    client = _connect(settings)
    if settings.embedded_store:  # a fresh folder has no tables yet: an empty board
        from clickhouse.migrate import migrate

        migrate(client)
    try:
        path = render_board(client, name, out, snapshot_base=settings.snapshot_public_url)
    except KeyError as exc:
        raise _fail(f"no board {name!r}: {exc}", 2) from None
    console.print(f"wrote {path}")


@app.command("settings")
def settings_cmd(
    effective: bool = typer.Option(
        False, "--effective", help="print the values in force (JSON; secrets masked) instead"
    ),
) -> None:
    """Every BK_* setting with its default and meaning (docs/settings.md is this table)."""
    if effective:
        import json

        values = _settings().model_dump(mode="json")
        for secret in ("kafka_sasl_password", "clickhouse_password", "dispositions_token"):
            if values.get(secret):
                values[secret] = "***"
        typer.echo(json.dumps(values, indent=1, ensure_ascii=False))
        return
    from brightkitchen.settings import settings_reference_page

    typer.echo(settings_reference_page(), nl=False)


if __name__ == "__main__":
    app()
