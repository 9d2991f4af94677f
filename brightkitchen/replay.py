"""`brightkitchen replay`: publish a recorded feed as fast as possible and wait.

Each line of the input is ``{"topic": ..., "key": ..., "value": {...}}``. The
registry lines go first and are waited for, so every camera's owner is known
before its first frame (the answer must not depend on a race). Then the rest
go in file order. The command returns once every record has been processed by
the stream apps and every resulting event is in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from brightkitchen.broker_probe import refused_everywhere
from brightkitchen.runtime import PipelineRuntime
from schemas.records import INPUT_TOPICS, TOPIC_DISPOSITIONS, TOPIC_REGISTRY


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    value: msgspec.Raw
    key: str | None = None


MAX_RECORD_BYTES = 1_000_000 - 1024
"""Largest key + value a replay line may carry: the producer's ``message.max.bytes``
(librdkafka's default, 1,000,000 bytes, which Kafka's broker default 1,048,588 also
admits) less room for the record's framing. A broker that answers with a smaller
``max.message.bytes`` lowers it (:func:`broker_limit`)."""


class ReplayInputError(ValueError):
    """The input file is not a replay file; the message names the line."""


_envelope = msgspec.json.Decoder(Envelope)

KEY_FIELD = {topic: "camera_id" for topic in INPUT_TOPICS}
KEY_FIELD[TOPIC_DISPOSITIONS] = "alert_id"
"""The value field each input topic is partitioned by (co-partitioning rests on it)."""


class _Keyed(msgspec.Struct):
    camera_id: str | None = None
    alert_id: str | None = None
    operator_id: str | None = None


_keyed = msgspec.json.Decoder(_Keyed)


def partition_key(env: Envelope) -> str | None:
    """The key a record is published with: its value's key field, whatever the
    envelope says (a missing or wrong envelope key is corrected, never honoured).

    A value without that field (or not an object) is not a valid record of its
    topic: it keeps the envelope's key and the stream app dead-letters it with
    the reason, like any other bad input.
    """
    try:
        key = getattr(_keyed.decode(env.value), KEY_FIELD[env.topic])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return env.key
    return key if isinstance(key, str) and key else env.key


def read_envelopes(
    path: Path, max_record_bytes: int = MAX_RECORD_BYTES, keys: bool = True
) -> Iterator[tuple[int, Envelope]]:
    """(line number, envelope) for every non-blank line; bad lines raise.
    ``keys=False`` leaves the envelope's key as written (``partition_key`` decodes
    the value: a third of a validating pass, which only counts)."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            if len(line) > 6 * max_record_bytes + 4096:  # cannot fit, even \u-escaped
                raise ReplayInputError(
                    f"{path}:{number}: line of {len(line):,} bytes: a record may carry at "
                    f"most {max_record_bytes:,} bytes (the broker's message-size limit)"
                )
            try:
                env = _envelope.decode(line)
            except msgspec.DecodeError as exc:
                raise ReplayInputError(f"{path}:{number}: not a replay record: {exc}") from None
            if env.topic not in INPUT_TOPICS:
                raise ReplayInputError(
                    f"{path}:{number}: topic {env.topic!r} is not an input topic "
                    f"(expected one of {', '.join(INPUT_TOPICS)})"
                )
            size = len(env.value) + len((env.key or "").encode("utf-8", "surrogatepass"))
            if size > max_record_bytes:
                raise ReplayInputError(
                    f"{path}:{number}: record of {size:,} bytes (key and value): at most "
                    f"{max_record_bytes:,} bytes fit the broker's message-size limit"
                )
            if keys:
                env.key = partition_key(env)
            yield number, env


@dataclass
class ReplayPlan:
    """What one validating pass over a replay file found: the records per topic
    and the registry entries, which are published first (a city's registry is
    10^4-10^5 entries of ~300 B), so the file is read once more, not three times."""

    counts: dict[str, int]
    registry: list[Envelope]


def scan_file(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> ReplayPlan:
    """Validate every envelope before anything is published; count per topic and
    keep the registry entries."""
    if not path.is_file():
        raise ReplayInputError(f"{path}: no such file")
    counts: dict[str, int] = {}
    registry: list[Envelope] = []
    for _, env in read_envelopes(path, max_record_bytes, keys=False):
        counts[env.topic] = counts.get(env.topic, 0) + 1
        if env.topic == TOPIC_REGISTRY:
            env.key = partition_key(env)
            registry.append(env)
    if not counts:
        raise ReplayInputError(f"{path}: no records")
    return ReplayPlan(counts, registry)


def check_file(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> dict[str, int]:
    """Validate every envelope before anything is published; count per topic."""
    return scan_file(path, max_record_bytes).counts


class BrokerUnreachable(RuntimeError):
    """The configured broker did not answer; the message names it."""


def broker_limit(admin_config: dict, topics: tuple[str, ...] = INPUT_TOPICS) -> int:
    """MAX_RECORD_BYTES, or less where the broker's topics say ``max.message.bytes``
    is smaller. Raises BrokerUnreachable when the broker does not answer at all (before
    anything is published); a broker that answers metadata but not configs leaves the
    default."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    where = admin_config.get("bootstrap.servers")
    refused = refused_everywhere(where or "")
    if refused is not None:
        raise BrokerUnreachable(f"cannot reach the broker at {where}: {refused}")
    admin = AdminClient({**admin_config, "socket.timeout.ms": 5000, "log_level": 0})
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        error = exc.args[0] if exc.args else None
        reason = error.str() if hasattr(error, "str") else str(exc)
        raise BrokerUnreachable(f"cannot reach the broker at {where}: {reason}") from None
    limit = MAX_RECORD_BYTES
    try:
        futures = admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics], request_timeout=5
        )
        for future in futures.values():
            entry = future.result(timeout=6).get("max.message.bytes")
            if entry is not None and entry.value and entry.value.isdigit():
                limit = min(limit, int(entry.value) - 1024)
    except Exception:  # an answer is optional (Tansu may not serve DescribeConfigs)
        return limit
    return limit


@dataclass
class ReplayResult:
    records: int
    seconds: float
    counts: dict[str, int]


def replay(
    path: Path,
    runtime: PipelineRuntime,
    progress: Callable[[str, int, int], None] = lambda phase, done, total: None,
    stall_timeout_s: float = 120.0,
    max_record_bytes: int = MAX_RECORD_BYTES,
    plan: ReplayPlan | None = None,
) -> ReplayResult:
    """Publish ``path`` (the registry first), wait until processed and stored.
    ``plan``: the file's ``scan_file``, when the caller has validated it already."""
    plan = plan or scan_file(path, max_record_bytes)
    counts = plan.counts
    total = sum(counts.values())
    started = time.monotonic()
    sent = 0
    if plan.registry:
        for env in plan.registry:
            runtime.publish(env.topic, env.key, bytes(env.value))
            sent += 1
        runtime.flush()
        runtime.wait_until(runtime.unprocessed, "the registry", stall_timeout_s)
        progress("registry", sent, total)
    for _, env in read_envelopes(path):
        if env.topic == TOPIC_REGISTRY:
            continue
        runtime.publish(env.topic, env.key, bytes(env.value))
        sent += 1
        if sent % 20000 == 0:
            progress("publish", sent, total)
    progress("publish", sent, total)

    def tick(left: dict) -> None:
        progress("process", total - min(total, sum(left.values())), total)

    runtime.end_input()
    runtime.wait_until(runtime.unprocessed, "the stream apps", stall_timeout_s, on_tick=tick)
    runtime.wait_until(runtime.unstored, "the sink", stall_timeout_s)
    return ReplayResult(sent, time.monotonic() - started, counts)
