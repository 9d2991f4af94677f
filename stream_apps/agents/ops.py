"""Shell of the ops pipeline: alerts, SLA clocks, operator rates; dispositions endpoint.

One instance, its own consumer group (``<app id>-ops``): it reads every
partition of the camera app's outputs, the dispositions and the progress
records that carry the camera app's watermark.

``make_ops_app(settings)`` builds it; importing this module does nothing. On
start the shell restores the latest checkpoint from ``bk.state.ops.v1`` and
re-reads what the group's committed offsets skipped past it; it checkpoints
every ``checkpoint_interval_s`` and when its partitions are revoked, so a
``kill -9`` loses nothing and raises nothing twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import faust

from schemas.records import TOPIC_DISPOSITIONS, TOPIC_INSPECTIONS, encode
from stream_apps.agents.io import ShellIO, fatal
from stream_apps.app import make_app
from stream_apps.calendar_loader import load_calendar
from stream_apps.dispositions_api import MAX_BODY_BYTES, accept_disposition
from stream_apps.http_body import BodyError, read_body
from stream_apps.inspections_api import accept_inspection
from stream_apps.metrics import ALERT_PRECISION as PRECISION
from stream_apps.metrics import ALERTS_OPEN as OPEN_ALERTS
from stream_apps.metrics import OPS_CLOCK as CLOCK
from stream_apps.metrics import SLA_BREACHES_OPEN as BREACHES_OPEN
from stream_apps.metrics import TIMELY_DISPOSAL as TIMELY
from stream_apps.notifier import Outbox, Sender
from stream_apps.partition_reader import (
    committed_offsets,
    partitions_of,
    read_latest,
    read_range_chunks,
)
from stream_apps.pipelines.ops import OPS_INPUTS, OPS_STATE_TOPIC, OpsPipeline

if TYPE_CHECKING:  # the CLI builds Settings and hands it down; imports point down
    from brightkitchen.settings import Settings


class OpsShell:
    """The state of one ops worker: its pipeline, restore and checkpoint bookkeeping."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.pipeline = OpsPipeline(
            load_calendar(settings.calendar_override),
            alert_params=settings.alerts,
            sla_params=settings.sla,
            rate_params=settings.rates,
            loop_params=settings.loop,
            notification_params=settings.notifications,
            disposition_max_skew_s=settings.disposition_max_skew_s,
        )
        # Notifications go to a durable outbox before the input offsets are
        # reported; the sender has its own connection (WAL: readers never block).
        enabled = self.pipeline.notify.enabled()
        self.outbox = Outbox(settings.notify_outbox_path) if enabled else None
        self.sender = (
            Sender(Outbox(settings.notify_outbox_path), per_minute=settings.notify_per_minute)
            if enabled
            else None
        )
        self.io = ShellIO(app, "ops", internal=[OPS_STATE_TOPIC])
        self.kafka_config = {
            "bootstrap.servers": settings.kafka_bootstrap,
            **settings.kafka_consumer_config(),
        }
        self.restored = False
        self.restoring = asyncio.Lock()
        self.dirty = False  # records handled since the last checkpoint
        # Held from handling a batch until its outputs are produced: a checkpoint
        # taken in between would cover records whose outputs a kill could lose.
        self.working = asyncio.Lock()
        self.verified: set[tuple[str, int]] = set()
        self.last_checkpoint = 0.0

    async def restore(self) -> None:
        """Load the latest checkpoint once (at start, and after a revocation)."""
        async with self.restoring:
            if self.restored:
                return
            loop = asyncio.get_running_loop()
            state = await loop.run_in_executor(
                None, read_latest, self.kafka_config, OPS_STATE_TOPIC, 0
            )
            self.pipeline.restore(state)
            self.restored = True
            self.last_checkpoint = time.monotonic()
            self.export_gauges()  # a restarted worker pages on what it knew at once

    async def catch_up(self, topic: str, partition: int, offset: int) -> list:
        """First record of a topic-partition since start: re-read what the committed
        offset skipped past the checkpoint."""
        self.verified.add((topic, partition))
        expected = self.pipeline.expected_offset(topic, partition)
        if offset <= expected:
            return []
        loop = asyncio.get_running_loop()
        chunks = read_range_chunks(self.kafka_config, topic, partition, expected, offset)
        out = []
        try:
            while chunk := await loop.run_in_executor(None, next, chunks, None):
                for off, key, value in chunk:
                    out += self.pipeline.handle(topic, partition, off, key, value)
        finally:
            await loop.run_in_executor(None, chunks.close)
        return out

    async def start(self) -> None:
        """At start, before any input: restore the checkpoint and re-read what the
        group committed past it (everything, without a checkpoint), so the state and
        the open-breach gauges that page on-call are whole even if no new input
        ever arrives."""
        async with self.working:
            await self.restore()
            loop = asyncio.get_running_loop()

            def committed() -> dict[tuple[str, int], int]:
                inputs = partitions_of(self.kafka_config, OPS_INPUTS)
                return committed_offsets(self.kafka_config, self.app.conf.id, inputs)

            committed = await loop.run_in_executor(None, committed)
            outputs = []
            for (topic, partition), offset in sorted(committed.items()):
                outputs += await self.catch_up(topic, partition, offset)
            await self.io.produce(outputs)
            self.dirty = self.dirty or bool(outputs)
            self.export_gauges()

    async def batch(self, batch) -> None:
        async with self.working:
            await self._batch(batch)

    async def _batch(self, batch) -> None:
        if not self.restored:
            await self.restore()
        pipeline = self.pipeline
        outputs = []
        last: dict[tuple[str, int], int] = {}
        for event in batch:
            msg = event.message
            tp = (msg.topic, msg.partition)
            if tp not in self.verified:
                outputs += await self.catch_up(msg.topic, msg.partition, msg.offset)
            outputs += pipeline.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
            last[tp] = msg.offset
        self.dirty = self.dirty or bool(last)
        if time.monotonic() - self.last_checkpoint >= self.settings.checkpoint_interval_s:
            outputs += self.take_checkpoint()
        await self.io.produce(outputs)
        if self.outbox is not None:
            self.outbox.add(pipeline.take_notifications())
        await self.io.report(last)
        OPEN_ALERTS.set(pipeline.alerts.open_alerts())
        self.export_gauges()
        if pipeline.clock > 0:
            CLOCK.set(pipeline.clock)

    def take_checkpoint(self) -> list:
        self.dirty = False
        self.last_checkpoint = time.monotonic()
        return self.pipeline.checkpoint()

    async def checkpoint_now(self) -> None:
        if self.restored:
            await self.io.produce(self.take_checkpoint())

    async def checkpoint_between_batches(self, wait_s: float = 5.0) -> None:
        """Checkpoint once no batch is between handling and producing (a revocation).

        If a batch does not finish within ``wait_s``, no checkpoint is taken: the
        next owner restores the previous one and re-reads past it, which is
        slower but exact; a checkpoint taken mid-batch would not be.
        """
        try:
            await asyncio.wait_for(self.working.acquire(), wait_s)
        except TimeoutError:
            return
        try:
            await self.checkpoint_now()
        finally:
            self.working.release()

    async def checkpoint_if_idle(self) -> None:
        """Input drained: checkpoint what changed since the last one, so a kill -9
        after a quiet spell loses nothing that was handled."""
        due = time.monotonic() - self.last_checkpoint >= self.settings.checkpoint_interval_s
        if self.restored and self.dirty and due and not self.working.locked():
            async with self.working:
                await self.checkpoint_now()

    def export_gauges(self) -> None:
        """Refresh the gauges from the engines' state (cheap: a few dicts)."""
        pipeline = self.pipeline
        BREACHES_OPEN.clear()
        for (kind, district), n in pipeline.open_breach_counts().items():
            BREACHES_OPEN.labels(kind, district).set(n)
        for cls, p in pipeline.alerts.precision(by="class").items():
            if p.precision is not None:
                PRECISION.labels(cls).set(p.precision)
        for (district, station), t in pipeline.sla.timely_disposal_rate(by="station").items():
            if t.rate is not None:
                TIMELY.labels(district, station).set(t.rate)


def make_ops_app(settings: Settings) -> faust.App:
    """The ops Faust app built from ``settings`` (its state lives on ``app.ops_shell``)."""
    app = make_app(f"{settings.app_id}-ops", settings.ops_web_port, settings)
    shell = app.ops_shell = OpsShell(app, settings)
    inputs = app.topic(*OPS_INPUTS)

    @app.agent(inputs, name="ops_agent")
    async def ops_agent(stream):
        try:
            async for batch in stream.take_events(
                settings.batch_max, within=settings.batch_within_s
            ):
                await shell.batch(batch)
        except Exception:
            fatal("ops")

    @app.on_partitions_revoked.connect
    async def on_revoked(app_, revoked, **kwargs) -> None:
        """Checkpoint before giving the inputs away (shutdown or rebalance)."""
        if any(tp.topic in OPS_INPUTS for tp in revoked):
            await shell.checkpoint_between_batches()
            shell.restored = False
            shell.verified.clear()

    @app.page("/dispositions")
    class DispositionsView(faust.web.View):
        """POST one bk.dispositions.v1 record (bearer token): 202, 401, 413 or 422."""

        async def get(self, request):
            return self.json({"error": "use POST"}, status=405)

        async def post(self, request):
            try:
                body = await read_body(request, MAX_BODY_BYTES, settings.http_body_timeout_s)
            except BodyError as exc:
                return self.json({"error": exc.message}, status=exc.status)
            status, answer, record = accept_disposition(
                request.headers.get("Authorization"),
                body,
                settings.dispositions_token,
                clock=shell.pipeline.reported_clock(),
                max_skew_s=settings.disposition_max_skew_s,
            )
            if record is not None:
                await app.topic(TOPIC_DISPOSITIONS).send(key=record.alert_id, value=encode(record))
            return self.json(answer, status=status)

    @app.page("/inspections")
    class InspectionsView(faust.web.View):
        """POST one bk.inspections.v1 record (bearer token): 202, 401, 413 or 422."""

        async def get(self, request):
            return self.json({"error": "use POST"}, status=405)

        async def post(self, request):
            try:
                body = await read_body(request, MAX_BODY_BYTES, settings.http_body_timeout_s)
            except BodyError as exc:
                return self.json({"error": exc.message}, status=exc.status)
            status, answer, record = accept_inspection(
                request.headers.get("Authorization"), body, settings.dispositions_token
            )
            if record is not None:
                await app.topic(TOPIC_INSPECTIONS).send(
                    key=record.operator_id, value=encode(record)
                )
            return self.json(answer, status=status)

    @app.task
    async def start():
        try:
            await shell.start()
        except Exception:
            fatal("ops")

    @app.timer(interval=1.0)
    async def checkpoint_when_idle():
        await shell.checkpoint_if_idle()

    @app.timer(interval=1.0)
    async def send_notifications():
        """Post due notifications (retries, rate limit) off the event loop."""
        if shell.sender is not None:
            await asyncio.get_running_loop().run_in_executor(None, shell.sender.send_due)

    return app
