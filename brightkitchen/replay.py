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

from brightkitchen.runtime import PipelineRuntime
from schemas.records import INPUT_TOPICS, TOPIC_REGISTRY


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    value: msgspec.Raw
    key: str | None = None


class ReplayInputError(ValueError):
    """The input file is not a replay file; the message names the line."""


_envelope = msgspec.json.Decoder(Envelope)


def read_envelopes(path: Path) -> Iterator[tuple[int, Envelope]]:
    """(line number, envelope) for every non-blank line; bad lines raise."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                env = _envelope.decode(line)
            except msgspec.DecodeError as exc:
                raise ReplayInputError(f"{path}:{number}: not a replay record: {exc}") from None
            if env.topic not in INPUT_TOPICS:
                raise ReplayInputError(
                    f"{path}:{number}: topic {env.topic!r} is not an input topic "
                    f"(expected one of {', '.join(INPUT_TOPICS)})"
                )
            yield number, env


def check_file(path: Path) -> dict[str, int]:
    """Validate every envelope before anything is published; count per topic."""
    if not path.is_file():
        raise ReplayInputError(f"{path}: no such file")
    counts: dict[str, int] = {}
    for _, env in read_envelopes(path):
        counts[env.topic] = counts.get(env.topic, 0) + 1
    if not counts:
        raise ReplayInputError(f"{path}: no records")
    return counts


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
) -> ReplayResult:
    counts = check_file(path)
    total = sum(counts.values())
    started = time.monotonic()
    registry = counts.get(TOPIC_REGISTRY, 0)
    sent = 0
    if registry:
        for _, env in read_envelopes(path):
            if env.topic == TOPIC_REGISTRY:
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

    runtime.flush()
    runtime.wait_until(runtime.unprocessed, "the stream apps", stall_timeout_s, on_tick=tick)
    runtime.wait_until(runtime.unstored, "the sink", stall_timeout_s)
    return ReplayResult(sent, time.monotonic() - started, counts)
