"""Infinity <-> None for JSON snapshots.

A clock that has not started is ``-inf`` (and a minimum not yet seen
``+inf``), so comparisons need no special case; JSON has no infinity, so a
snapshot writes such a value as ``null`` and restore puts the infinity back.
Every non-finite value is written as ``null``, as ``msgspec.json`` (what the
checkpoints are encoded with) would write it anyway.
"""

from __future__ import annotations

import math


def finite_or_none(x: float) -> float | None:
    """``x`` for a snapshot: ``None`` where it is not finite (a clock not started)."""
    return x if math.isfinite(x) else None


def inf_from_none(x: float | None, default: float = -math.inf) -> float:
    """A snapshot's value back: ``default`` (an infinity, ``-inf`` unless said) for ``None``."""
    return default if x is None else x
