"""Rows/s into the embedded store (chdb) through StoreWriter, by batch size.

    python -m bench.sink [--rows 300000] [--batches 10000,50000,100000] [--record]

Records are decoded up front (the sink decodes while it consumes); each batch
is timed from decoded records to rows in the table: Arrow conversion
(`to_arrow`) and the insert separately. Detections come from the simulator
(real frames: 0-3 detections each, quality block); violations are built with
realistic field values. Every batch size writes into freshly created tables of
one fresh store, so no size pays for another's merges.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import clickhouse_connect

from bench.stream_stage import command_line, fleet, record
from clickhouse.migrate import migrate
from schemas.records import (
    TOPIC_DETECTIONS,
    TOPIC_VIOLATIONS,
    Evidence,
    FrameDetections,
    Violation,
    decode,
)
from stream_apps.engines.ids import stable_id
from stream_apps.sink.store_writer import StoreWriter

TABLES = {TOPIC_DETECTIONS: "bk.detections", TOPIC_VIOLATIONS: "bk.violations"}


def detections(n: int) -> list[FrameDetections]:
    cameras = 200
    seconds = n / cameras * 1.02 + 5
    out = [
        decode(FrameDetections, value)
        for _, topic, _, value in fleet(cameras, seconds)
        if topic == TOPIC_DETECTIONS
    ]
    return out[:n]


def violations(n: int) -> list[Violation]:
    rng = random.Random(7)
    classes = ["no_hat", "no_mask", "no_gloves", "smoking", "rodent", "trash_uncovered"]
    out = []
    for i in range(n):
        cam = f"cam-{rng.randrange(10_000):05d}"
        started = 1_793_577_600.0 + rng.uniform(0, 86_400)
        closed = i % 2 == 1
        out.append(
            Violation(
                v=1,
                violation_id=stable_id(f"{cam}/{i}"),
                camera_id=cam,
                operator_id=f"op-{rng.randrange(2000):04d}",
                cls=rng.choice(classes),
                severity="minor",
                state="closed" if closed else "open",
                started_at=started,
                detected_at=started + rng.uniform(1, 15),
                ended_at=started + rng.uniform(60, 900) if closed else None,
                peak_score=rng.uniform(0.5, 0.97),
                frames=rng.randrange(2, 600),
                evidence=Evidence(started + 3.0, (0.1, 0.2, 0.3, 0.4)),
            )
        )
    return out


def run(writer: StoreWriter, client, topic: str, records: list, batch: int) -> dict:
    client.command(f"TRUNCATE TABLE {TABLES[topic]}")
    convert = insert = 0.0
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        t0 = time.perf_counter()
        table = writer.to_arrow(topic, chunk)
        t1 = time.perf_counter()
        writer.write(topic, chunk)  # converts again: `write` is what the sink calls
        t2 = time.perf_counter()
        convert += t1 - t0
        insert += (t2 - t1) - (t1 - t0)
        del table
    n = len(records)
    # Duplicated frames of the feed may already have collapsed in a merge.
    stored = int(client.command(f"SELECT count() FROM {TABLES[topic]} FINAL"))
    if stored < 0.99 * n:
        raise RuntimeError(f"{TABLES[topic]}: {stored} rows stored of {n} written")
    return {"rows/s": n / (convert + insert), "convert": n / convert, "insert": n / insert}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=300_000, help="rows per table and batch size")
    ap.add_argument("--batches", default="10000,50000,100000")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]
    data = {TOPIC_DETECTIONS: detections(args.rows), TOPIC_VIOLATIONS: violations(args.rows)}
    client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp(prefix='bk-sink-')}")
    migrate(client)
    writer = StoreWriter(client)
    writer.write(TOPIC_VIOLATIONS, data[TOPIC_VIOLATIONS][:100])  # warm up chdb
    lines = [
        f"{args.rows:,} decoded records per table, written in batches; rows/s = records / "
        "(Arrow conversion + insert); conversion and insert alone beside.",
        "",
        "| table | batch | rows/s | Arrow conversion rows/s | chdb insert rows/s |",
        "|---|---|---|---|---|",
    ]
    for topic, records in data.items():
        for batch in sizes:
            r = run(writer, client, topic, records, batch)
            lines.append(
                f"| {TABLES[topic]} | {batch:,} | {r['rows/s']:,.0f} | {r['convert']:,.0f} | "
                f"{r['insert']:,.0f} |"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Sink: StoreWriter into chdb", command_line(), text)


if __name__ == "__main__":
    main()
