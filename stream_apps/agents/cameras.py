"""Shell of the camera pipeline: registry + detections + camera status in.

Per batch: hand each record to the pipeline, advance each touched partition's
watermark, produce the outputs (keyed by camera, so per-camera order holds),
wait for their delivery, then report progress. Offsets are committed by Faust
after the batch is acknowledged, so a crash replays at most the batches since
the last commit; ids are deterministic and the store deduplicates.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter

from schemas.records import (
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    Progress,
    encode,
)
from stream_apps.app import app, settings
from stream_apps.camera_pipeline import CameraPipeline

RECORDS = Counter("bk_stream_records_total", "Input records processed", ["topic"])
DEAD_LETTERS = Counter("bk_dlq_records_total", "Records sent to the DLQ", ["topic"])
OUTPUTS = Counter("bk_stream_outputs_total", "Output records produced", ["topic"])

pipeline = CameraPipeline(settings.violations.params(), app_name="cameras")
inputs = app.topic(TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
progress_topic = app.topic(TOPIC_PROGRESS)
# Highest offset delivered per output "topic/partition", reported with progress.
delivered: dict[str, int] = {}


@app.agent(inputs)
async def camera_agent(stream):
    async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
        outputs = []
        last: dict[tuple[str, int], int] = {}
        for event in batch:
            msg = event.message
            outputs += pipeline.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
            last[(msg.topic, msg.partition)] = msg.offset
            RECORDS.labels(msg.topic).inc()
        for partition in {p for _, p in last}:
            outputs += pipeline.advance(partition)
        await produce(outputs)
        await report(last)


async def produce(outputs) -> None:
    if not outputs:
        return
    futures = []
    for out in outputs:
        futures.append(await app.topic(out.topic).send(key=out.key, value=out.value))
        OUTPUTS.labels(out.topic).inc()
        if out.topic.endswith("dlq.v1"):
            DEAD_LETTERS.labels(out.topic).inc()
    for meta in await asyncio.gather(*futures):
        name = f"{meta.topic}/{meta.partition}"
        if meta.offset > delivered.get(name, -1):
            delivered[name] = meta.offset


async def report(last: dict[tuple[str, int], int]) -> None:
    for (topic, partition), offset in last.items():
        msg = Progress(
            app="cameras", topic=topic, partition=partition, offset=offset, outputs=delivered
        )
        await progress_topic.send(key=f"{topic}/{partition}", value=encode(msg))
