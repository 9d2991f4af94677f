"""Re-reading a stretch of one partition (the ops app's catch-up at start) on the
embedded broker: in bounded chunks, exactly the offsets asked for, and a clear
error, not a hang, when the records are not there."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from brightkitchen.embedded import create_topics, start_broker
from stream_apps.partition_reader import read_range_chunks

pytestmark = pytest.mark.e2e
TOPIC = "bk.test-range.v1"


@pytest.fixture(scope="module")
def bootstrap():
    broker = start_broker()
    create_topics(broker.bootstrap, topics=[TOPIC], partitions=1)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(12):
        producer.produce(TOPIC, f"v{i}".encode(), f"k{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    yield broker.bootstrap
    broker.stop()


def test_a_range_comes_in_chunks_of_at_most_the_size_asked(bootstrap):
    config = {"bootstrap.servers": bootstrap}
    chunks = list(read_range_chunks(config, TOPIC, 0, 2, 11, chunk=4))
    assert [len(c) for c in chunks] == [4, 4, 1]
    records = [r for c in chunks for r in c]
    assert [off for off, _, _ in records] == list(range(2, 11))
    assert records[0][1:] == (b"k2", b"v2")


def test_an_empty_range_reads_nothing(bootstrap):
    assert list(read_range_chunks({"bootstrap.servers": bootstrap}, TOPIC, 0, 5, 5)) == []


def test_records_that_never_come_end_in_a_timeout_naming_the_range(bootstrap):
    config = {"bootstrap.servers": bootstrap}
    with pytest.raises(TimeoutError, match=r"bk.test-range.v1\[0\] offsets 10..19"):
        list(read_range_chunks(config, TOPIC, 0, 10, 20, stall_s=2.0))
