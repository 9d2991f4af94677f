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
import collections
import functools
import time
from math import inf

from schemas.records import TOPIC_CAMERA_STATUS, TOPIC_DETECTIONS, TOPIC_REGISTRY
from stream_apps.agents.io import ShellIO, fatal
from stream_apps.app import make_app, settings
from stream_apps.camera_pipeline import STATE_TOPIC, CameraPipeline
from stream_apps.engines.camera_health import CameraHealthEngine
from stream_apps.metrics import STREAM_RECORDS as RECORDS
from stream_apps.partition_reader import read_latest, read_range

app = make_app(settings.app_id, settings.web_port)
INPUTS = (TOPIC_REGISTRY, TOPIC_DETECTIONS, TOPIC_CAMERA_STATUS)
pipeline = CameraPipeline(
    settings.violations,
    health_factory=functools.partial(CameraHealthEngine, settings.camera_health),
    app_name="cameras",
    live=settings.live_clock_lag_s is not None,
)
inputs = app.topic(*INPUTS)
kafka_config = {"bootstrap.servers": settings.kafka_bootstrap, **settings.kafka_consumer_config()}
io = ShellIO(app, "cameras", internal=[STATE_TOPIC])
restored: set[int] = set()
verified: set[tuple[str, int]] = set()
last_checkpoint: dict[int, float] = {}


@app.agent(inputs)
async def camera_agent(stream):
    try:
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            outputs = []
            last: dict[tuple[str, int], int] = {}
            per_topic: collections.Counter[str] = collections.Counter()
            for event in batch:
                msg = event.message
                tp = (msg.topic, msg.partition)
                if tp not in verified:
                    outputs += await catch_up(msg.topic, msg.partition, msg.offset)
                outputs += pipeline.handle(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
                last[tp] = msg.offset
                per_topic[msg.topic] += 1
            for topic, n in per_topic.items():
                RECORDS.labels(topic).inc(n)
            for partition in {p for _, p in last}:
                outputs += pipeline.advance(partition)
            now = time.monotonic()
            for partition in {p for _, p in last}:
                if now - last_checkpoint.get(partition, 0.0) >= settings.checkpoint_interval_s:
                    outputs += pipeline.checkpoint(partition)
                    last_checkpoint[partition] = now
            await io.produce(outputs)
            await io.report(last, watermarks(last))
    except Exception:
        fatal("cameras")


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
    await io.produce(outputs)
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
        await io.produce(outputs)


def watermarks(last: dict[tuple[str, int], int]) -> dict[tuple[str, int], float]:
    """The ops app's clock: each detections partition's watermark (only frames move it)."""
    out = {}
    for topic, partition in last:
        engines = pipeline.partitions.get(partition)
        if topic == TOPIC_DETECTIONS and engines is not None and engines.watermark != -inf:
            out[(topic, partition)] = engines.watermark
    return out
