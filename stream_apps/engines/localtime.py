"""Local calendar days of event time, for engines that count per day or month.

China has one fixed offset (UTC+8, no DST since 1991); engines take the offset
as a parameter rather than a time-zone database, so they stay stdlib-only and
a replay never depends on the host's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

CHINA_OFFSET_S = 8 * 3600.0


def local_day(ts: float, offset_s: float = CHINA_OFFSET_S) -> date:
    """The local calendar day of an instant."""
    return datetime.fromtimestamp(ts + offset_s, UTC).date()


def day_start(day: date, offset_s: float = CHINA_OFFSET_S) -> float:
    """The instant local midnight begins ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() - offset_s


def next_midnight(ts: float, offset_s: float = CHINA_OFFSET_S) -> float:
    """The first local midnight strictly after ``ts``."""
    return day_start(local_day(ts, offset_s) + timedelta(days=1), offset_s)


def first_midnight_to_step(
    pending: float | None, now: float, cap: int, offset_s: float = CHINA_OFFSET_S
) -> float | None:
    """The first of the local midnights from ``pending`` to ``now`` an engine emits at,
    when it is before ``now`` and the jump covers at most ``cap`` midnights (each is
    then a step of its own); else None (nothing before ``now``, or a jump past the
    catch-up bound, which the engine shortens itself)."""
    if pending is None or pending >= now:
        return None
    t, n = pending, 0
    while t <= now:
        n += 1
        if n > cap:
            return None
        t = next_midnight(t, offset_s)
    return pending


def month_of(ts: float, offset_s: float = CHINA_OFFSET_S) -> str:
    """Local month "YYYY-MM" of an instant."""
    return local_day(ts, offset_s).strftime("%Y-%m")
