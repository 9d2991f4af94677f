"""Builds the engines' `WorkingCalendar` from the `chinese-calendar` package.

Engines import only the standard library, so the calendar reaches them as
plain data. The maintained ``chinesecalendar`` package (module
``chinese_calendar``) carries the State Council's yearly holiday notices
(public holidays and make-up working days, 调休). Its data ends with the last
notice published; an optional override file adds or corrects later years
before the package is updated::

    {
      "holidays": ["2027-01-01", "2027-01-02"],
      "workdays": ["2027-02-07"],
      "covered_years": [2027]
    }

A day listed in the override's ``holidays`` is removed from the package's
``workdays`` and vice versa, so an override can also correct the package.
``covered_years`` defaults to the years the override's dates fall in.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from stream_apps.engines.sla import WorkingCalendar


class CalendarError(ValueError):
    """The override file is not what the module doc describes."""


def load_calendar(override: str | Path | None = None) -> WorkingCalendar:
    """The Chinese working-day calendar: package data plus the optional override file."""
    from chinese_calendar import constants  # imported here: only this loader needs it

    holidays = set(constants.holidays)
    workdays = set(constants.workdays)
    years = {d.year for d in holidays | workdays}
    if override is not None:
        extra_h, extra_w, extra_years = read_override(override)
        holidays = (holidays - extra_w) | extra_h
        workdays = (workdays - extra_h) | extra_w
        years |= extra_years
    return WorkingCalendar(holidays, workdays, covered_years=years)


def read_override(path: str | Path) -> tuple[set[date], set[date], set[int]]:
    """Holidays, workdays and covered years from an override file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalendarError(f"calendar override {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CalendarError(f"calendar override {path}: expected a JSON object")
    unknown = set(data) - {"holidays", "workdays", "covered_years"}
    if unknown:
        raise CalendarError(f"calendar override {path}: unknown keys {sorted(unknown)}")
    holidays = _dates(path, data.get("holidays", []), "holidays")
    workdays = _dates(path, data.get("workdays", []), "workdays")
    both = holidays & workdays
    if both:
        raise CalendarError(
            f"calendar override {path}: days both holiday and workday: "
            f"{sorted(d.isoformat() for d in both)}"
        )
    years = data.get("covered_years")
    if years is None:
        years = {d.year for d in holidays | workdays}
    elif not all(isinstance(y, int) for y in years):
        raise CalendarError(f"calendar override {path}: covered_years must be integers")
    return holidays, workdays, set(years)


def _dates(path: str | Path, values: object, key: str) -> set[date]:
    if not isinstance(values, list):
        raise CalendarError(f"calendar override {path}: {key} must be a list of YYYY-MM-DD")
    out = set()
    for v in values:
        try:
            out.add(date.fromisoformat(v))
        except (TypeError, ValueError):
            raise CalendarError(f"calendar override {path}: {key}: bad date {v!r}") from None
    return out


__all__ = ["CalendarError", "load_calendar", "read_override"]
