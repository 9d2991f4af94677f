"""The long-running hosts a deployment's services run: `stream`, `sink`, `worker`,
`deepstream`.

Apart from `cli`, which a user's commands keep to; `cli` registers these as
top-level commands (`brightkitchen sink`, ...). Each imports its pipeline only
when it runs, so `--help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from brightkitchen.cli_common import _connect, _fail, _settings, console
from brightkitchen.settings import Settings


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
    from stream_apps.shells.gc_policy import tune_for_throughput

    tune_for_throughput()
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
