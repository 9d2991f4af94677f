"""A test's reader of whole topics: assigned partitions from offset 0, no group.

A group subscription on the embedded broker waits for the group's first
rebalance (about half the session timeout: 23 s at librdkafka's default);
assigning every partition reads at once.
"""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition


def consumer_from_start(bootstrap: str, *topics: str) -> Consumer:
    """A consumer assigned every partition of ``topics`` from the first offset."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bk-test-reader", "enable.auto.commit": False}
    )
    metadata = consumer.list_topics(timeout=10)
    consumer.assign(
        [
            TopicPartition(topic, partition, 0)
            for topic in topics
            for partition in sorted(metadata.topics[topic].partitions)
        ]
    )
    return consumer
