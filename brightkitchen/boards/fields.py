"""Grafana's field semantics the preview draws: units, thresholds, reduce options,
and the transformations the boards use, read from the panel's JSON."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _property(panel: Mapping[str, Any], column: str, prop: str) -> Any:
    """A field property: the byName override for ``column``, else the defaults."""
    config = panel.get("fieldConfig", {})
    for override in config.get("overrides", []):
        matcher = override.get("matcher", {})
        if matcher.get("id") == "byName" and matcher.get("options") == column:
            for p in override.get("properties", []):
                if p.get("id") == prop:
                    return p.get("value")
    return config.get("defaults", {}).get(prop)


def unit(panel: Mapping[str, Any], column: str) -> str | None:
    return _property(panel, column, "unit")


_LINK_SCHEMES = ("http://", "https://", "file://")


def cell_link(panel: Mapping[str, Any], column: str, value: Any) -> str | None:
    """The URL of the column's first data link for this cell, when it is one a
    static page can follow: a template that needs only ``${__value.raw}`` /
    ``${__value.text}`` and yields an http(s):// or file:// URL (drill-downs to
    other boards need Grafana; other schemes, ``javascript:`` included, are
    never links)."""
    links = _property(panel, column, "links") or []
    if not links or value is None:
        return None
    url = str(links[0].get("url", ""))
    url = url.replace("${__value.raw}", str(value)).replace("${__value.text}", str(value))
    if "${" in url or not url.lower().startswith(_LINK_SCHEMES):
        return None
    return url


def colour(panel: Mapping[str, Any], column: str, value: Any) -> str | None:
    """The colour of the highest threshold step ``value`` reaches (None: no thresholds)."""
    thresholds = _property(panel, column, "thresholds") or {}
    steps = thresholds.get("steps") or []
    if not _is_number(value) or len(steps) < 2:
        return None
    chosen = steps[0].get("color")
    for step in steps[1:]:
        if step.get("value") is not None and value >= step["value"]:
            chosen = step.get("color")
    return {"green": "#56a64b", "orange": "#e0752d", "red": "#c4162a", "yellow": "#f2cc0c"}.get(
        chosen, chosen
    )


def format_value(value: Any, unit_name: str | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if not _is_number(value):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if unit_name == "percentunit":
        value, unit_name = value * 100, "percent"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    suffix = {"percent": " %", "s": " s", "ms": " ms", "fps": " fps"}.get(unit_name or "", "")
    return text + suffix


def transform(
    panel: Mapping[str, Any], columns: list[str], rows: list[tuple]
) -> tuple[list[str], list[tuple]]:
    """Apply the panel's transformations that the boards use (groupingToMatrix)."""
    for t in panel.get("transformations", []):
        if t.get("id") != "groupingToMatrix":
            continue
        o = t["options"]
        try:
            ri, ci, vi = (columns.index(o[k]) for k in ("rowField", "columnField", "valueField"))
        except (KeyError, ValueError):
            continue
        keys = list(dict.fromkeys(str(r[ci]) for r in rows))
        cells: dict[str, dict[str, Any]] = {}
        for r in rows:
            cells.setdefault(str(r[ri]), {})[str(r[ci])] = r[vi]
        empty = 0 if o.get("emptyValue") == "zero" else None
        columns = [f"{o['rowField']}\\{o['columnField']}", *keys]
        rows = [(name, *(row.get(k, empty) for k in keys)) for name, row in cells.items()]
    return columns, rows


def bar_items(panel: Mapping[str, Any], columns: list[str], rows: list[tuple]) -> list[tuple]:
    """(label, value, column) per bar/slice, as Grafana draws a bar gauge or pie:
    ``reduceOptions.values`` true gives one per row of the chosen field; otherwise
    every numeric field is reduced to one value (its last non-null)."""
    numeric = [i for i in range(len(columns)) if any(_is_number(r[i]) for r in rows)]
    labels = [i for i in range(len(columns)) if i not in numeric]
    reduce = panel.get("options", {}).get("reduceOptions", {})
    pattern = reduce.get("fields") or ""
    if pattern.startswith("/") and pattern.endswith("/") and len(pattern) > 1:
        chosen = [i for i in numeric if re.search(pattern[1:-1], columns[i])] or numeric
    else:
        chosen = numeric
    if reduce.get("values"):
        return [
            (" / ".join(str(r[i]) for i in labels) or columns[c], r[c], columns[c])
            for r in rows
            for c in chosen
        ]
    items = []
    for c in chosen:
        values = [r[c] for r in rows if r[c] is not None]
        items.append((columns[c], values[-1] if values else None, columns[c]))
    return items


def grouped_bars(columns: list[str], rows: list[tuple]) -> list[tuple]:
    """(label, value, column) for a bar chart: one group per row, one bar per
    numeric column (so wide, matrix-shaped rows stack by column)."""
    numeric = [i for i in range(len(columns)) if any(_is_number(r[i]) for r in rows)]
    labels = [i for i in range(len(columns)) if i not in numeric]
    out = []
    for r in rows:
        group = " / ".join(str(r[i]) for i in labels)
        for c in numeric:
            name = f"{group} · {columns[c]}" if len(numeric) > 1 else group
            out.append((name, r[c], columns[c]))
    return out
