"""The lifecycle every engine promises, stated once.

An engine is created per stream-processor instance and owns the state of the
cameras (keys) routed to it.

- ``feed(record) -> list[event]``: one decoded input record. Records arrive in
  event-time order per key, *mostly*: a record may be up to the configured
  lateness late, or arrive twice. The engine's answer must not depend on
  either. Returns the output events this record caused (maybe none).
- ``advance(now) -> list[event]``: the watermark moved to ``now`` (event time,
  seconds). Emits what silence decides (a camera offline, an episode closed
  because nothing more was seen). Never reads the wall clock itself: the shell
  passes ``now``.
- ``snapshot() -> dict``: JSON-serialisable state, small. Restoring it into a
  fresh engine and feeding the records after the snapshot gives exactly the
  events an uninterrupted engine gives: no second ``open``.
- ``restore(snapshot)``: load state written by ``snapshot``; records already
  covered by it that are fed again (an at-least-once replay) are ignored. A
  snapshot names its ``version``; restore refuses one it cannot read
  (`check_snapshot_version`) rather than guess.

Engines never log per record, never sleep and never read the clock.
"""

from __future__ import annotations

from typing import Any, Protocol

from schemas.records import Record


class Engine(Protocol):
    def feed(self, record: Record) -> list[Record]: ...

    def advance(self, now: float) -> list[Record]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, snapshot: dict[str, Any]) -> None: ...


def check_snapshot_version(
    engine: str, version: Any, supported: int, app: str, also: tuple[int, ...] = ()
) -> None:
    """Refuse a snapshot ``version`` other than the one ``engine`` writes
    (``supported``) and the older ones it still reads (``also``): a ValueError
    naming them, and what to do: start the ``app`` app without the old checkpoint."""
    if version != supported and version not in also:
        readable = ", ".join(str(v) for v in (*also, supported))
        raise ValueError(
            f"{engine} snapshot version {version!r}: this engine reads version "
            f"{readable} only; start the {app} app without the old checkpoint"
        )
