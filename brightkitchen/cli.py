"""`brightkitchen` command line: demo, replay, query and the long-running parts."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from brightkitchen import cli_inspections
from brightkitchen.cli_common import _fail, _settings, console
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
schemas_app = typer.Typer(no_args_is_help=True, help="Wire schemas.")
app.add_typer(schemas_app, name="schemas")
alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: list them, record dispositions.")
app.add_typer(alerts_app, name="alerts")
grafana_app = typer.Typer(no_args_is_help=True, help="Grafana: publish boards and alert rules.")
app.add_typer(grafana_app, name="grafana")
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics of the contract.")
app.add_typer(topics_app, name="topics")
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
        check_file,
    )
    from brightkitchen.replay import replay as run_replay
    from brightkitchen.runtime import PipelineError, PipelineRuntime

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
        counts = check_file(input, limit)
    except ReplayInputError as exc:
        raise _fail(str(exc), 2) from None
    console.print(f"replaying {sum(counts.values()):,} records from {input}: {counts}")
    last = {"phase": ""}

    def progress(phase: str, done: int, total: int) -> None:
        if phase != last["phase"] or phase == "publish":
            console.print(f"  {phase}: {done:,}/{total:,}")
            last["phase"] = phase

    try:
        with PipelineRuntime(settings, log=lambda s: console.print(f"  {s}")) as rt:
            result = run_replay(
                input, rt, progress, stall_timeout_s=stall_timeout, max_record_bytes=limit
            )
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


def _connect(settings: Settings, query: bool = False):
    """The store's client, or a one-line error naming the store."""
    from brightkitchen import store

    try:
        return store.connect(settings, query=query)
    except store.StoreError as exc:
        raise _fail(str(exc)) from None


@app.command()
def stream(
    app_name: str = typer.Option("cameras", "--app", help="cameras (scale out) | ops (one)"),
) -> None:
    """Run a stream worker against the configured broker (cameras: batched host; ops: Faust)."""
    settings = _settings()
    if settings.embedded_broker:
        raise _fail("set BK_KAFKA_BOOTSTRAP: a standalone stream worker needs a broker", 2)
    if app_name == "cameras":
        from stream_apps.shells.cameras import main

        main(settings)
        return
    if app_name != "ops":
        raise _fail(f"no stream app {app_name!r}; choose one of cameras, ops", 2)
    from stream_apps.agents.ops import make_ops_app

    sys.argv = [sys.argv[0], "worker", "-l", "info"]
    make_ops_app(settings).main()


@app.command()
def sink() -> None:
    """Run the store sink against the configured broker and store until interrupted."""
    from clickhouse.migrate import migrate
    from stream_apps.sink.consumer import Sink
    from stream_apps.sink.store_writer import StoreWriter

    settings = _settings()
    if settings.embedded_broker:
        raise _fail("set BK_KAFKA_BOOTSTRAP: a standalone sink needs a broker", 2)
    logging.basicConfig(level=logging.INFO)
    from prometheus_client import start_http_server

    start_http_server(settings.sink_metrics_port, addr=settings.web_bind)
    client = _connect(settings)
    migrate(client)
    conf = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": f"{settings.app_id}-sink",
        **settings.kafka_consumer_config(),
    }
    writer = StoreWriter(client)
    s = Sink(
        conf,
        writer.write,
        settings.sink_batch_rows,
        settings.sink_flush_s,
        quarantine=writer.quarantine,
        gate_detections=True,  # one sink per group: it reads every DLQ partition
    )
    try:
        s.run()
    except KeyboardInterrupt:
        s.stop()


def snapshot_store(settings: Settings):
    """The worker's Snapshotter, from BK_SNAPSHOT_STORE, BK_SNAPSHOT_RETENTION_DAYS and
    BK_SNAPSHOT_MIN_INTERVAL_S."""
    from inference_workers.snapshots import Snapshotter, open_store

    store = open_store(settings.snapshot_store, settings.snapshot_s3_endpoint)
    return Snapshotter(
        store,
        retention_s=settings.snapshot_retention_days * 86400,
        min_interval_s=settings.snapshot_min_interval_s,
    )


@app.command()
def worker(
    cameras: Path = typer.Option(..., "--cameras", help="YAML/JSON list of {camera_id, url, fps}"),
    model: Path = typer.Option(..., "--model", help="detector: .onnx, .pt, .pt2 or .engine"),
    class_map: Path | None = typer.Option(None, help="model label -> canonical class map"),
    device: str | None = typer.Option(None, help="cuda, cuda:1 or cpu (default: best)"),
    batch_size: int = typer.Option(8, min=1),
    compile: str = typer.Option(
        "off", help="PyTorch models: off, compile (torch.compile) or cuda-graph"
    ),
    metrics_port: int | None = typer.Option(None, help="serve Prometheus /metrics here"),
) -> None:
    """Run an inference worker: decode, sample, detect, measure quality, publish."""
    settings = _settings()
    if settings.embedded_broker:
        raise _fail("set BK_KAFKA_BOOTSTRAP: a worker publishes to a running broker", 2)
    try:
        from inference_workers.worker import run_worker
    except ImportError as exc:
        raise _fail(f"{exc}: install the extra: pip install -e '.[inference]'", 2) from None
    logging.basicConfig(level=logging.INFO)
    stats = run_worker(
        cameras,
        settings.kafka_bootstrap,
        model=model,
        device=device,
        batch_size=batch_size,
        compile=compile,
        class_map=class_map,
        metrics_port=metrics_port,
        metrics_addr=settings.worker_metrics_bind,
        snapshots=snapshot_store(settings),
        producer_config=settings.kafka_client_config(),
    )
    console.print(f"worker stopped: {stats}")


@app.command()
def deepstream(
    topic: str = typer.Option(..., help="topic nvmsgbroker publishes DeepStream payloads to"),
    frame_size: str = typer.Option(
        "1920x1080", help="source frame size, WIDTHxHEIGHT, of sensors not in --frame-sizes"
    ),
    frame_sizes: Path | None = typer.Option(
        None, help='JSON/YAML file: sensor id -> "WIDTHxHEIGHT" (per-camera frame sizes)'
    ),
    class_map: Path | None = typer.Option(
        None,
        help="JSON/YAML class map of the DeepStream model (labels, absence, model_labels); "
        "default: the default labels without absence rules",
    ),
    model: str = typer.Option("deepstream", help="model name written to each record"),
    unknown_confidence: float = typer.Option(
        0.5, min=0.0, max=1.0, help="score of an object DeepStream sent without a confidence"
    ),
) -> None:
    """Bridge DeepStream nvmsgconv payloads (minimal or full schema) to bk.detections.v1."""
    from inference_workers.classmap import ClassMap
    from inference_workers.deepstream import (
        DeepStreamAdapter,
        load_frame_sizes,
        parse_frame_size,
        run_bridge,
    )

    settings = _settings()
    if settings.embedded_broker:
        raise _fail("set BK_KAFKA_BOOTSTRAP: the bridge reads DeepStream's broker", 2)
    try:
        width, height = parse_frame_size(frame_size)
    except ValueError:
        raise _fail(f"--frame-size {frame_size!r} is not WIDTHxHEIGHT", 2) from None
    try:
        sizes = load_frame_sizes(frame_sizes) if frame_sizes else {}
        cmap = ClassMap.from_file(class_map) if class_map else None
    except (OSError, ValueError, TypeError) as exc:
        raise _fail(f"cannot read the bridge configuration: {exc}", 2) from None
    logging.basicConfig(level=logging.INFO)
    adapter = DeepStreamAdapter(
        class_map=cmap,
        frame_sizes=sizes,
        default_frame_size=(width, height),
        model=model,
        unknown_confidence=unknown_confidence,
    )
    import signal
    import threading

    stop = threading.Event()  # SIGINT/SIGTERM: publish the open frames, commit, exit
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    counts = run_bridge(
        settings.kafka_bootstrap, topic, adapter, settings.kafka_client_config(), stop=stop
    )
    console.print(f"bridge stopped: {counts}")


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
