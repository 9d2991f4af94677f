"""Is anything listening at the broker's bootstrap addresses?

librdkafka retries a refused connection until its timeout (10-15 s in our
commands) before it says the broker is unreachable. A refused TCP connection
at every bootstrap address is certain at once: the commands fail on it
immediately. A timeout or a host that resolves slowly proves nothing and
leaves the decision to librdkafka.
"""

from __future__ import annotations

import socket


def refused_everywhere(bootstrap: str, timeout_s: float = 2.0) -> str | None:
    """The reason when every ``host:port`` of ``bootstrap`` refuses a TCP
    connection; None when one accepts, one cannot be tried, or one times out."""
    reasons = []
    for address in (a.strip() for a in bootstrap.split(",")):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            return None
        host = host.strip("[]")  # [::1]:9092
        try:
            socket.create_connection((host, int(port)), timeout=timeout_s).close()
            return None
        except ConnectionRefusedError:
            reasons.append(f"{address}: connection refused")
        except OSError:
            return None
    return "; ".join(reasons) or None
