"""Read a whole HTTP request body, however it arrives, up to a limit.

``request.content.read(n)`` returns what is buffered *now*: a body sent in two
TCP segments was cut to its first one. :func:`read_body` reads until the end of
the body (Content-Length or the last chunk of ``Transfer-Encoding: chunked``;
aiohttp decodes both), stops as soon as it passes ``max_bytes``, and gives up on
a client that takes longer than ``timeout_s`` for the whole body (a slow sender
holds a connection, never the endpoint). Shared by every POST endpoint of the
ops web server.
"""

from __future__ import annotations

import asyncio

MAX_BODY_BYTES = 16 * 1024
"""Default limit of a POST body."""

BODY_TIMEOUT_S = 30.0
"""Longest a client may take to send one whole body."""


class BodyError(Exception):
    """A body that cannot be accepted: ``status`` (413, 408, 400) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(
    request, max_bytes: int = MAX_BODY_BYTES, timeout_s: float = BODY_TIMEOUT_S
) -> bytes:
    """The whole body of an aiohttp ``request``; BodyError if too large, too slow or cut."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BodyError(413, f"body larger than {max_bytes} bytes")
    try:
        async with asyncio.timeout(timeout_s):
            return await read_stream(request.content, max_bytes)
    except TimeoutError:
        raise BodyError(408, f"body not received within {timeout_s:g} s") from None


async def read_stream(content, max_bytes: int) -> bytes:
    """Everything ``content`` (an aiohttp StreamReader) yields until its end."""
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            part = await content.read(65536)
        except Exception as exc:  # aiohttp: a chunk framing error, a closed connection
            raise BodyError(400, f"body not readable: {exc}") from None
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > max_bytes:
            raise BodyError(413, f"body larger than {max_bytes} bytes")
        parts.append(part)
