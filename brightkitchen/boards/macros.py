"""Grafana's macro and variable syntax, expanded as Grafana and the ClickHouse plugin do.

`expand_query(sql, ctx)` is the single place that knows the macro and variable
syntax the dashboards use; the dashboard tests run every query through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

ALL = "$__all"
"""The value Grafana gives a variable whose "All" option is selected."""


@dataclass
class QueryContext:
    """What Grafana would know when it sends a query: time range, interval, variables.

    `variables` maps a name to its selected values (a list; `[ALL]` for "All").
    `options` maps a name to every value the variable offers, used when "All"
    is selected and a query formats the variable (`${v:singlequote}`).
    """

    time_from: float
    time_to: float
    interval_s: int = 60
    variables: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        try:
            selected = self.variables[name]
        except KeyError:
            raise KeyError(f"query uses an unknown variable ${name}") from None
        if ALL in selected:
            return list(self.options.get(name, []))
        return list(selected)


class MacroError(ValueError):
    """A query uses a macro or variable the expander does not know."""


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose `(` is at `open_paren`, split at top-level
    commas, and the index just past its `)`."""
    depth, start, args = 0, open_paren + 1, []
    quote: str | None = None
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise MacroError(f"unbalanced parentheses after position {open_paren}")


def _apply_conditional_all(sql: str, ctx: QueryContext) -> str:
    # Like the plugin (frontend, before variables are interpolated): innermost
    # last, `1=1` when the variable selects "All" (or nothing).
    macro = "$__conditionalAll("
    while (at := sql.rfind(macro)) != -1:
        args, end = _macro_args(sql, at + len(macro) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}")
        m = re.search(r"\$\{?(\w+)\}?", args[1])
        if not m:
            raise MacroError(f"$__conditionalAll without a variable: {args[1]!r}")
        selected = ctx.variables.get(m.group(1), [])
        phrase = "1=1" if not selected or ALL in selected else args[0]
        sql = sql[:at] + phrase + sql[end:]
    return sql


def _quote(value: str, q: str) -> str:
    return q + value.replace("\\", "\\\\").replace(q, "\\" + q) + q


_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)|\[\[(\w+)\]\]")


def _interpolate_variables(sql: str, ctx: QueryContext) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        fmt = m.group(2)
        if name.startswith("__"):
            return m.group(0)  # a global (`${__from}`...) or macro: not a variable
        values = ctx.values(name)
        if fmt == "singlequote":
            return ",".join(_quote(v, "'") for v in values) or "''"
        if fmt == "doublequote":
            return ",".join(_quote(v, '"') for v in values) or '""'
        if fmt == "csv":
            return ",".join(values)
        if fmt in (None, "raw"):
            if len(values) != 1:
                raise MacroError(
                    f"${name} has {len(values)} values; a multi-value variable needs a "
                    "format such as ${" + name + ":singlequote}"
                )
            return values[0]
        raise MacroError(f"unsupported variable format {fmt!r} of ${name}")

    return _VARIABLE.sub(sub, sql)


def _macros(ctx: QueryContext) -> dict[str, Any]:
    f, t = int(ctx.time_from), int(ctx.time_to)
    fm, tm = int(ctx.time_from * 1000), int(ctx.time_to * 1000)
    n = max(1, int(ctx.interval_s))
    day_f = datetime.fromtimestamp(f, UTC).date().isoformat()
    day_t = datetime.fromtimestamp(t, UTC).date().isoformat()
    return {
        "timeFilter": lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})",
        "timeFilter_ms": lambda c: (
            f"{c} >= fromUnixTimestamp64Milli({fm}) AND {c} <= fromUnixTimestamp64Milli({tm})"
        ),
        "dateFilter": lambda c: f"{c} >= toDate('{day_f}') AND {c} <= toDate('{day_t}')",
        "timeFrom": lambda c: f"{c} >= toDateTime({f})",
        "timeTo": lambda c: f"{c} <= toDateTime({t})",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {n} second)",
        "timeInterval_ms": lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {n * 1000} millisecond)"
        ),
        "fromTime_ms": f"fromUnixTimestamp64Milli({fm})",
        "toTime_ms": f"fromUnixTimestamp64Milli({tm})",
        "fromTime": f"toDateTime({f})",
        "toTime": f"toDateTime({t})",
        "interval_s": str(n),
    }


_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def with_min_interval(ctx: QueryContext, min_interval: str | None) -> QueryContext:
    """`ctx` for a panel with Grafana's "Min interval" (the panel's `interval`,
    e.g. "1m"): the interval is at least it, rounded up to a multiple of it, so
    that a panel reading a per-minute rollup gets whole minutes per bucket.
    Grafana's own rounding ("nice" intervals: 1m, 2m, 5m, ...) gives multiples
    of a minute too."""
    if not min_interval:
        return ctx
    m = _DURATION.match(min_interval.strip())
    if m is None:
        raise MacroError(f"unsupported panel interval {min_interval!r} (e.g. 30s, 1m, 1h)")
    floor = int(m.group(1)) * _UNIT_S[m.group(2)]
    if floor <= 0:
        return ctx
    n = max(1, int(ctx.interval_s))
    return replace(ctx, interval_s=-(-n // floor) * floor)


_MACRO = re.compile(r"\$__(\w+)")


def expand_query(sql: str, ctx: QueryContext) -> str:
    """`sql` as the ClickHouse server would receive it from Grafana.

    Supports `$__conditionalAll`, variables (`$v`, `${v}`, `${v:singlequote}`,
    `${v:doublequote}`, `${v:csv}`, `${v:raw}`) and the plugin's macros
    `$__timeFilter`, `$__timeFilter_ms`, `$__dateFilter`, `$__timeFrom`,
    `$__timeTo`, `$__timeInterval`, `$__timeInterval_ms`, `$__fromTime(_ms)`,
    `$__toTime(_ms)` and `$__interval_s`. Anything else raises MacroError.
    """
    sql = _apply_conditional_all(sql, ctx)
    sql = _interpolate_variables(sql, ctx)
    macros = _macros(ctx)
    out, pos = [], 0
    for m in _MACRO.finditer(sql):
        if m.start() < pos:
            continue
        name = m.group(1)
        if name not in macros:
            raise MacroError(f"unknown macro $__{name}")
        expansion = macros[name]
        out.append(sql[pos : m.start()])
        if callable(expansion):
            if m.end() >= len(sql) or sql[m.end()] != "(":
                raise MacroError(f"$__{name} needs an argument")
            args, pos = _macro_args(sql, m.end())
            out.append(expansion(args[0].strip()))
        else:
            out.append(expansion)
            pos = m.end()
    out.append(sql[pos:])
    return "".join(out)
