"""What every shell does after feeding its pipeline: produce, then report progress."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable

from schemas.records import TOPIC_DLQ, TOPIC_PROGRESS, Progress, encode
from stream_apps.metrics import DEAD_LETTERS
from stream_apps.metrics import STREAM_OUTPUTS as OUTPUTS
from stream_apps.pipelines.output import Output

log = logging.getLogger(__name__)


class ShellIO:
    """Produces a batch's outputs, waits for delivery, reports progress.

    ``delivered`` keeps the highest offset delivered per output "topic/partition"
    (internal topics excluded) and goes out with every progress record, so a
    reader knows which outputs to wait for.
    """

    def __init__(self, app, app_name: str, internal: Iterable[str] = ()) -> None:
        self.app = app
        self.app_name = app_name
        self.internal = frozenset(internal)
        self.delivered: dict[str, int] = {}

    async def produce(self, outputs: list[Output]) -> None:
        if not outputs:
            return
        futures = []
        for out in outputs:
            futures.append(
                await self.app.topic(out.topic).send(
                    key=out.key, value=out.value, partition=out.partition
                )
            )
            OUTPUTS.labels(self.app_name, out.topic).inc()
            if out.topic == TOPIC_DLQ:
                DEAD_LETTERS.labels(self.app_name).inc()
        for meta in await asyncio.gather(*futures):
            if meta.topic in self.internal:
                continue
            name = f"{meta.topic}/{meta.partition}"
            if meta.offset > self.delivered.get(name, -1):
                self.delivered[name] = meta.offset

    async def report(
        self,
        last: dict[tuple[str, int], int],
        watermarks: dict[tuple[str, int], float] | None = None,
    ) -> None:
        watermarks = watermarks or {}
        for (topic, partition), offset in last.items():
            msg = Progress(
                app=self.app_name,
                topic=topic,
                partition=partition,
                offset=offset,
                outputs=self.delivered,
                watermark=watermarks.get((topic, partition)),
            )
            await self.app.topic(TOPIC_PROGRESS).send(key=f"{topic}/{partition}", value=encode(msg))


def fatal(app_name: str) -> None:
    """An agent failed: end the worker process so its supervisor restarts it.

    Faust would keep the process alive with the agent dead, consuming nothing;
    a restart resumes from the last checkpoint and commit, which is safe
    (at-least-once, idempotent ids).
    """
    log.critical("the %s agent crashed; stopping the worker", app_name, exc_info=True)
    logging.shutdown()
    os._exit(70)
