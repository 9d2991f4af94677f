"""Deterministic output ids: the same parts always give the same id.

Every record an engine emits carries an id that is a pure function of what
the record is about (camera, class and start of an episode; alert and kind of
a breach...). A replay, a restart or a second worker therefore writes the
rows already in the store again under the same ids and the store dedupes
them. That only holds while the construction does not move by a byte, so it
is frozen here, in one place, for every engine:

- the parts are joined with ``|``; a string stands as it is, ``None`` as the
  empty string, and a number (always an event time here) with three decimals,
  to the millisecond (``1764633600`` and ``1764633600.0`` are one id);
- the joined text, UTF-8, is hashed to 32 hex characters (128 bits).

Two hashes are in use, both kept so no existing id changes: BLAKE2b with a
16-byte digest for every engine (the default), and the first 32 hex
characters of SHA-1 for camera-health events (``construction="sha1"``).
"""

from __future__ import annotations

import hashlib
from typing import Literal

Part = str | int | float | None
Construction = Literal["blake2b", "sha1"]


def _text(part: Part) -> str:
    if part is None:
        return ""
    if isinstance(part, str):
        return part
    if isinstance(part, int | float) and not isinstance(part, bool):
        return f"{part:.3f}"
    raise TypeError(f"stable_id: a part is a str, a number or None, not {type(part).__name__}")


def stable_id(*parts: Part, construction: Construction = "blake2b") -> str:
    """The 32-hex-character id of ``parts`` (see the module doc for the rules).

    ``construction="sha1"`` is camera health's historic hash, kept so its
    event ids stay what the store already holds; new ids use the default.
    """
    raw = "|".join(map(_text, parts)).encode()
    if construction == "blake2b":
        return hashlib.blake2b(raw, digest_size=16).hexdigest()
    if construction == "sha1":
        return hashlib.sha1(raw).hexdigest()[:32]
    raise ValueError(f"stable_id: unknown construction {construction!r}")
