"""Shell of the ops pipeline: alerts, SLA clocks, operator rates; dispositions endpoint.

One instance, its own consumer group (``<app id>-ops``): it reads every
partition of the camera app's outputs, the dispositions and the progress
records that carry the camera app's watermark.
"""

from __future__ import annotations

import faust

from schemas.records import TOPIC_DISPOSITIONS, encode
from stream_apps.agents.io import ShellIO, fatal
from stream_apps.app import make_app, settings
from stream_apps.calendar_loader import load_calendar
from stream_apps.dispositions_api import MAX_BODY_BYTES, accept_disposition
from stream_apps.http_body import BodyError, read_body
from stream_apps.metrics import ALERT_PRECISION as PRECISION
from stream_apps.metrics import ALERTS_OPEN as OPEN_ALERTS
from stream_apps.metrics import OPS_CLOCK as CLOCK
from stream_apps.metrics import SLA_BREACHES_OPEN as BREACHES_OPEN
from stream_apps.metrics import TIMELY_DISPOSAL as TIMELY
from stream_apps.notifier import Outbox, Sender
from stream_apps.ops_pipeline import OPS_INPUTS, OpsPipeline

app = make_app(f"{settings.app_id}-ops", settings.ops_web_port)
pipeline = OpsPipeline(
    load_calendar(settings.calendar_override),
    alert_params=settings.alerts,
    sla_params=settings.sla,
    rate_params=settings.rates,
    loop_params=settings.loop,
    notification_params=settings.notifications,
)
# issue 18: notifications go to a durable outbox before the input offsets are reported.
outbox = Outbox(settings.notify_outbox_path) if pipeline.notify.enabled() else None
# The sender has its own connection (WAL: one writer at a time, readers never block).
sender = (
    Sender(Outbox(settings.notify_outbox_path), per_minute=settings.notify_per_minute)
    if outbox is not None
    else None
)
io = ShellIO(app, "ops")
inputs = app.topic(*OPS_INPUTS)


@app.agent(inputs)
async def ops_agent(stream):
    try:
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            outputs = []
            last: dict[tuple[str, int], int] = {}
            for event in batch:
                msg = event.message
                outputs += pipeline.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
                last[(msg.topic, msg.partition)] = msg.offset
            await io.produce(outputs)
            if outbox is not None:
                outbox.add(pipeline.take_notifications())
            await io.report(last)
            OPEN_ALERTS.set(pipeline.alerts.open_alerts())
            export_gauges()
            if pipeline.clock > 0:
                CLOCK.set(pipeline.clock)
    except Exception:
        fatal("ops")


def export_gauges() -> None:
    """Refresh the gauges from the engines' state (cheap: a few dicts)."""
    BREACHES_OPEN.clear()
    for (kind, district), n in pipeline.open_breach_counts().items():
        BREACHES_OPEN.labels(kind, district).set(n)
    for cls, p in pipeline.alerts.precision(by="class").items():
        if p.precision is not None:
            PRECISION.labels(cls).set(p.precision)
    for (district, station), t in pipeline.sla.timely_disposal_rate(by="station").items():
        if t.rate is not None:
            TIMELY.labels(district, station).set(t.rate)


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
            request.headers.get("Authorization"), body, settings.dispositions_token
        )
        if record is not None:
            await app.topic(TOPIC_DISPOSITIONS).send(key=record.alert_id, value=encode(record))
        return self.json(answer, status=status)


# -- issue 18: the inspections endpoint (same auth and body rules as dispositions) ------
@app.page("/inspections")
class InspectionsView(faust.web.View):
    """POST one bk.inspections.v1 record (bearer token): 202, 401, 413 or 422."""

    async def get(self, request):
        return self.json({"error": "use POST"}, status=405)

    async def post(self, request):
        from schemas.records import TOPIC_INSPECTIONS
        from stream_apps.inspections_api import accept_inspection

        try:
            body = await read_body(request, MAX_BODY_BYTES, settings.http_body_timeout_s)
        except BodyError as exc:
            return self.json({"error": exc.message}, status=exc.status)
        status, answer, record = accept_inspection(
            request.headers.get("Authorization"), body, settings.dispositions_token
        )
        if record is not None:
            await app.topic(TOPIC_INSPECTIONS).send(key=record.operator_id, value=encode(record))
        return self.json(answer, status=status)


@app.timer(interval=1.0)
async def send_notifications():
    """Post due notifications (retries, rate limit) off the event loop."""
    if outbox is None:
        return
    import asyncio

    await asyncio.get_running_loop().run_in_executor(None, sender.send_due)
