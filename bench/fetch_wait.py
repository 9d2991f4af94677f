"""Produce-to-consume latency of the embedded broker against the consumer's fetch wait.

    python -m bench.fetch_wait [--waits 10,50,500,1500] [--records 100]

One record every 50 ms onto a fresh 4-partition topic, a librdkafka consumer
with ``fetch.wait.max.ms`` = each value in turn; latency = consume time minus
the produce time carried in the value. A Kafka broker answers a fetch as soon
as data arrives; Tansu holds it for the whole wait, which is why
BK_FETCH_MAX_WAIT_MS is short (see bench/RESULTS.md).

The price of a short wait is idle polling: the broker's CPU while
``--idle-consumers`` consumers (the embedded pipeline has about 5) wait on an
empty topic is measured beside each latency.
"""

from __future__ import annotations

import argparse
import threading
import time

from confluent_kafka import Consumer, Producer

from bench.stream_stage import command_line, cpu_seconds, pct, record
from brightkitchen.embedded import create_topics, start_broker

TOPIC = "bk.bench.fetch-wait"


def measure(bootstrap: str, wait_ms: int, n: int, gap_s: float) -> list[float]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bk-fetch-wait-{time.time_ns()}",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": wait_ms,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([TOPIC])
    while not consumer.assignment():
        consumer.poll(0.1)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})

    def produce() -> None:
        # The consumer starts at "latest": give its first fetch time to land.
        time.sleep(2 * wait_ms / 1000 + 0.5)
        for i in range(n):
            producer.produce(TOPIC, key=str(i % 8).encode(), value=repr(time.time()).encode())
            producer.flush()
            time.sleep(gap_s)

    thread = threading.Thread(target=produce)
    thread.start()
    latencies: list[float] = []
    deadline = time.time() + 2 * wait_ms / 1000 + n * gap_s + 10
    while len(latencies) < n and time.time() < deadline:
        msg = consumer.poll(0.1)
        if msg is not None and not msg.error():
            latencies.append(time.time() - float(msg.value()))
    thread.join()
    consumer.close()
    return latencies


def idle_broker_cpu(broker, wait_ms: int, consumers: int, seconds: float) -> float:
    """Cores of broker CPU while ``consumers`` idle consumers poll an empty topic."""
    clients = []
    for i in range(consumers):
        c = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": f"bk-idle-{i}-{time.time_ns()}",
                "fetch.wait.max.ms": wait_ms,
                "session.timeout.ms": 6000,
            }
        )
        c.subscribe([TOPIC])
        clients.append(c)
    while not all(c.assignment() for c in clients):
        for c in clients:
            c.poll(0.05)
    stop = threading.Event()

    def poll_all() -> None:
        while not stop.is_set():
            for c in clients:
                c.poll(0.01)

    poller = threading.Thread(target=poll_all)
    poller.start()
    c0 = cpu_seconds(broker.process.pid)
    stop.wait(seconds)  # the measuring window
    used = cpu_seconds(broker.process.pid) - c0
    stop.set()
    poller.join()
    for c in clients:
        c.close()
    return used / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--waits", default="10,50,500,1500", help="fetch.wait.max.ms values")
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--gap-s", type=float, default=0.05)
    ap.add_argument("--idle-consumers", type=int, default=5)
    ap.add_argument("--idle-s", type=float, default=20.0)
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    broker = start_broker()
    try:
        create_topics(broker.bootstrap, topics=[TOPIC], partitions=4)
        lines = [
            f"{args.records} records, one every {args.gap_s * 1000:.0f} ms, embedded Tansu broker, "
            "librdkafka consumer.",
            "",
            "| fetch.wait.max.ms | received | latency p50 s | p99 s | max s | "
            f"broker CPU with {args.idle_consumers} idle consumers (cores) |",
            "|---|---|---|---|---|---|",
        ]
        for wait in (int(w) for w in args.waits.split(",")):
            lat = measure(broker.bootstrap, wait, args.records, args.gap_s)
            idle = idle_broker_cpu(broker, wait, args.idle_consumers, args.idle_s)
            lines.append(
                f"| {wait} | {len(lat)} | {pct(lat, 50):.3f} | {pct(lat, 99):.3f} | "
                f"{max(lat, default=float('nan')):.3f} | {idle:.3f} |"
            )
            print(lines[-1], flush=True)
    finally:
        broker.stop()
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("Broker fetch wait vs produce-to-consume latency", command_line(), text)


if __name__ == "__main__":
    main()
