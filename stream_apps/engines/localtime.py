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


def month_of(ts: float, offset_s: float = CHINA_OFFSET_S) -> str:
    """Local month "YYYY-MM" of an instant."""
    return local_day(ts, offset_s).strftime("%Y-%m")
