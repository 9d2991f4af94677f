"""A refused connection at every bootstrap address is known at once; anything
less certain is left to the Kafka client."""

from __future__ import annotations

import socket

from brightkitchen.broker_probe import refused_everywhere
from brightkitchen.embedded import free_port


def test_every_address_refusing_is_the_reason():
    a, b = free_port(), free_port()
    reason = refused_everywhere(f"127.0.0.1:{a},127.0.0.1:{b}")
    assert reason == f"127.0.0.1:{a}: connection refused; 127.0.0.1:{b}: connection refused"


def test_one_listening_address_is_enough():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert refused_everywhere(f"127.0.0.1:{free_port()},127.0.0.1:{port}") is None


def test_what_cannot_be_tried_is_left_to_the_client():
    assert refused_everywhere("no-port-here") is None
    assert refused_everywhere("127.0.0.1:notaport") is None
    assert refused_everywhere("host.invalid:9092") is None  # does not resolve: not "refused"
