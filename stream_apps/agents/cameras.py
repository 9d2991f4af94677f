"""Shell of the camera pipeline: registry + detections + camera status in.

Per batch: make sure each partition's state is restored, hand each record to
the pipeline, advance each touched partition's watermark, produce the outputs
(keyed by camera, so per-camera order holds), wait for their delivery, report
progress, and checkpoint changed state every ``checkpoint_interval_s``.

Faust commits offsets on its own schedule (at-least-once). A restored
checkpoint says which offsets it covers: older records that come again are
skipped, and records the committed offset skipped past the checkpoint are
re-read directly, so state and input always line up.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Counter

from schemas.records import (
    TOPIC_CAMERA_STATUS,
    TOPIC_DETECTIONS,
    TOPIC_DLQ,
    TOPIC_PROGRESS,
    TOPIC_REGISTRY,
    Progress,
    encode,
)
from stream_apps.app import app, settings
from stream_apps.camera_pipeline import STATE_TOPIC, CameraPipeline
from stream_apps.partition_reader import read_latest, read_range

RECORDS = Counter("bk_stream_records_total", "Input records processed", ["topic"])
DEAD_LETTERS = Counter("bk_dlq_records_total", "Records sent to the DLQ", ["source_topic"])
OUTPUTS = Counter("bk_stream_outputs_total", "Output records produced", ["topic"])
CHECKPOINTS = Counter("bk_checkpoint_records_total", "State records checkpointed")

INPUTS = (TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
pipeline = CameraPipeline(settings.violations.params(), app_name="cameras")
inputs = app.topic(*INPUTS)
kafka_config = {"bootstrap.servers": settings.kafka_bootstrap, **settings.kafka_client_config()}
# Highest offset delivered per output "topic/partition", reported with progress.
delivered: dict[str, int] = {}
restored: set[int] = set()
verified: set[tuple[str, int]] = set()
last_checkpoint: dict[int, float] = {}


@app.agent(inputs)
async def camera_agent(stream):
    async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
        outputs = []
        last: dict[tuple[str, int], int] = {}
        for event in batch:
            msg = event.message
            tp = (msg.topic, msg.partition)
            if tp not in verified:
                outputs += await catch_up(msg.topic, msg.partition, msg.offset)
            outputs += pipeline.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
            last[tp] = msg.offset
            RECORDS.labels(msg.topic).inc()
        for partition in {p for _, p in last}:
            outputs += pipeline.advance(partition)
        now = time.monotonic()
        for partition in {p for _, p in last}:
            if now - last_checkpoint.get(partition, 0.0) >= settings.checkpoint_interval_s:
                outputs += pipeline.checkpoint(partition)
                last_checkpoint[partition] = now
        await produce(outputs)
        await report(last)


async def catch_up(topic: str, partition: int, offset: int) -> list:
    """First record of a topic-partition since assignment: restore and fill the gap."""
    loop = asyncio.get_running_loop()
    if partition not in restored:
        state = await loop.run_in_executor(None, read_latest, kafka_config, STATE_TOPIC, partition)
        pipeline.restore(partition, state)
        restored.add(partition)
        last_checkpoint[partition] = time.monotonic()
    verified.add((topic, partition))
    expected = pipeline.expected_offset(topic, partition)
    if offset <= expected:
        return []
    missed = await loop.run_in_executor(
        None, read_range, kafka_config, topic, partition, expected, offset
    )
    outputs = []
    for off, key, value in missed:
        outputs += pipeline.handle(topic, partition, off, key, value)
    return outputs


@app.on_partitions_revoked.connect
async def on_revoked(app_, revoked, **kwargs) -> None:
    """Checkpoint what this worker gives away, then forget it."""
    mine = {tp.partition for tp in revoked if tp.topic in INPUTS}
    outputs = []
    for partition in mine & restored:
        outputs += pipeline.checkpoint(partition)
    await produce(outputs)
    for partition in mine:
        pipeline.drop(partition)
        restored.discard(partition)
        last_checkpoint.pop(partition, None)
    verified.difference_update({v for v in verified if v[1] in mine})


if settings.live_clock_lag_s is not None:

    @app.timer(interval=5.0)
    async def live_clock() -> None:
        """Live mode: silence is decided even when a whole partition stops sending."""
        now = time.time() - settings.live_clock_lag_s
        outputs = []
        for partition in list(restored):
            outputs += pipeline.advance(partition, now)
        await produce(outputs)


async def produce(outputs) -> None:
    if not outputs:
        return
    futures = []
    for out in outputs:
        futures.append(
            await app.topic(out.topic).send(key=out.key, value=out.value, partition=out.partition)
        )
        if out.topic == STATE_TOPIC:
            CHECKPOINTS.inc()
        else:
            OUTPUTS.labels(out.topic).inc()
        if out.topic == TOPIC_DLQ:
            DEAD_LETTERS.labels("input").inc()
    for meta in await asyncio.gather(*futures):
        if meta.topic == STATE_TOPIC:
            continue  # not for the sink: progress lists only what it must store
        name = f"{meta.topic}/{meta.partition}"
        if meta.offset > delivered.get(name, -1):
            delivered[name] = meta.offset


async def report(last: dict[tuple[str, int], int]) -> None:
    for (topic, partition), offset in last.items():
        msg = Progress(
            app="cameras", topic=topic, partition=partition, offset=offset, outputs=delivered
        )
        await app.topic(TOPIC_PROGRESS).send(key=f"{topic}/{partition}", value=encode(msg))
