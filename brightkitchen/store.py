"""Connect to the store: the embedded chdb folder or a ClickHouse server.

chdb allows one store path per process and one process per path, so the
process that owns the embedded store (demo, replay, sink, query) opens it once
through :func:`connect` and keeps the client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import clickhouse_connect

from brightkitchen.settings import Settings


class StoreError(RuntimeError):
    """The store could not be opened; the message names the store."""


def describe(settings: Settings) -> str:
    if settings.embedded_store:
        return f"embedded store {settings.store_path.resolve()}"
    u = urlparse(settings.clickhouse_url or "")
    return f"ClickHouse server {u.hostname}:{u.port or 8123}"  # never the password


def connect(settings: Settings) -> Any:
    """A clickhouse-connect client for the configured store."""
    try:
        if settings.embedded_store:
            path = settings.store_path.resolve()
            path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(dsn=f"chdb://{path}")
        u = urlparse(settings.clickhouse_url or "")
        return clickhouse_connect.get_client(
            host=u.hostname or "localhost",
            port=u.port or (8443 if u.scheme == "https" else 8123),
            secure=u.scheme == "https",
            username=u.username or settings.clickhouse_user,
            password=settings.clickhouse_secret(),
        )
    except Exception as exc:
        raise StoreError(f"cannot open the {describe(settings)}: {exc}") from None
