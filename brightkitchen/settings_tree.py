"""What the settings tree is made of: engine sections, valid names, their docs.

The engines' frozen parameter dataclasses are the single source of every engine
default, bound and description (a field's ``metadata["help"]`` or the attribute
docstring under it). The settings model uses those dataclasses as its sections;
this module walks them to list every valid ``BK_*`` name (so a misspelt one is
an error naming the closest valid name) and to render the settings reference.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

PREFIX = "BK_"
NESTED = "__"

# BK_* variables that are not settings of a BrightKitchen process: read by
# deployment tooling (compose interpolation, Alertmanager, Grafana provisioning),
# by the loader itself, or by benchmarks and tests.
NOT_SETTINGS_NAMES = frozenset(
    {
        "BK_ENV_FILE",
        "BK_SETTINGS_FILE",
        "BK_TANSU_LOG",
        "BK_ONCALL_WEBHOOK_URL",
        "BK_DINGTALK_WEBHOOK_URL",
        "BK_WECOM_WEBHOOK_URL",
        "BK_IMAGE",
        "BK_STREAM_REPLICAS",
        "BK_CAMERAS_FILE",
    }
)
NOT_SETTINGS_PREFIXES = ("BK_BENCH_", "BK_GRAFANA_", "BK_HYPOTHESIS_", "BK_TEST_")


class UnknownSettingError(ValueError):
    """A ``BK_*`` variable or settings-file key that names no setting."""

    def __init__(self, name: str, suggestion: str | None, where: str) -> None:
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"unknown setting {name} ({where}){hint}")
        self.name = name
        self.suggestion = suggestion


@dataclasses.dataclass(frozen=True)
class SettingDoc:
    """One leaf of the tree as the reference documents it."""

    env: str
    type: str
    default: str
    help: str


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def dict_value_dataclass(tp: Any) -> type | None:
    """The dataclass a ``dict[str, X]`` field maps to, when X is one."""
    tp = _unwrap_optional(tp)
    if typing.get_origin(tp) in (dict, Mapping):
        args = typing.get_args(tp)
        if len(args) == 2 and dataclasses.is_dataclass(args[1]):
            return args[1]
    return None


def is_mapping(tp: Any) -> bool:
    return typing.get_origin(_unwrap_optional(tp)) in (dict, Mapping)


def attribute_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string literal under a field) of a class body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    docs: dict[str, str] = {}
    if not isinstance(body, ast.ClassDef):
        return docs
    stmts = body.body
    for stmt, nxt in zip(stmts, stmts[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def field_help(cls: type, f: dataclasses.Field) -> str:
    return str(f.metadata.get("help") or attribute_docs(cls).get(f.name, ""))


def dataclass_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def walk_dataclass(cls: type, env: str, default: Any) -> Iterator[SettingDoc]:
    """Leaves of one engine parameter dataclass, with their env names."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{env}{NESTED}{f.name.upper()}"
        tp = hints.get(f.name, Any)
        value = getattr(default, f.name) if default is not None else dataclass_default(f)
        if dataclasses.is_dataclass(_unwrap_optional(tp)):
            yield from walk_dataclass(_unwrap_optional(tp), name, value)
            continue
        yield SettingDoc(name, type_name(tp), _render(value), field_help(cls, f))
        value_cls = dict_value_dataclass(tp)
        if value_cls is not None and isinstance(value, dict):
            for key, item in value.items():
                yield from walk_dataclass(value_cls, f"{name}{NESTED}{str(key).upper()}", item)


def type_name(tp: Any) -> str:
    """A short readable type: ``dict[str, ClassParams]``, ``float | None``."""
    text = getattr(tp, "__name__", None) if not typing.get_args(tp) else None
    return re.sub(r"\b[A-Za-z_][\w]*\.", "", text or str(tp))


def _render(value: Any) -> str:
    if isinstance(value, frozenset):
        return ",".join(sorted(value)) or "(none)"
    if dataclasses.is_dataclass(value):
        return "…"
    if (
        isinstance(value, dict)
        and value
        and all(dataclasses.is_dataclass(v) for v in value.values())
    ):
        return f"{len(value)} entries (see below)"
    return "unset" if value is None else str(value)


def reference_table(rows: list[SettingDoc]) -> str:
    """The settings reference as a Markdown table (docs/settings.md)."""
    lines = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for row in rows:
        meaning = " ".join(row.help.split()).replace("|", "\\|")
        default = row.default.replace("|", "\\|")
        kind = row.type.replace("|", "\\|")
        lines.append(f"| `{row.env}` | {kind} | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


class NameIndex:
    """Every valid ``BK_*`` name of a settings model, for checking and suggestions."""

    def __init__(self, exact: set[str], open_prefixes: dict[str, type | None]) -> None:
        self.exact = exact
        # BK_SECTION__FIELD of a dict field: any key below it, and below a key
        # the fields of the dict's value dataclass.
        self.open_prefixes = open_prefixes

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> NameIndex:
        """``fields``: top-level setting name -> annotation."""
        exact: set[str] = set()
        open_prefixes: dict[str, type | None] = {}

        def visit(name: str, tp: Any) -> None:
            exact.add(name)
            inner = _unwrap_optional(tp)
            if dataclasses.is_dataclass(inner):
                hints = typing.get_type_hints(inner)
                for f in dataclasses.fields(inner):
                    visit(f"{name}{NESTED}{f.name.upper()}", hints.get(f.name, Any))
            elif is_mapping(inner):
                open_prefixes[name + NESTED] = dict_value_dataclass(inner)

        for key, tp in fields.items():
            visit(PREFIX + key.upper(), tp)
        return cls(exact, open_prefixes)

    def valid(self, name: str) -> bool:
        if name in self.exact:
            return True
        for prefix, value_cls in self.open_prefixes.items():
            if name.startswith(prefix):
                rest = name[len(prefix) :].split(NESTED)
                if len(rest) == 1 and rest[0]:
                    return True
                if value_cls is not None and len(rest) == 2 and rest[0]:
                    fields = {f.name.upper() for f in dataclasses.fields(value_cls)}
                    return rest[1] in fields
        return False

    def closest(self, name: str) -> str | None:
        found = difflib.get_close_matches(name, sorted(self.exact), n=1, cutoff=0.6)
        return found[0] if found else None


def is_tooling_name(name: str) -> bool:
    return name in NOT_SETTINGS_NAMES or name.startswith(NOT_SETTINGS_PREFIXES)


def check_environment(index: NameIndex, environ: Mapping[str, str]) -> None:
    """Raise UnknownSettingError for the first BK_* variable that names no setting."""
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or is_tooling_name(upper):
            continue
        if not index.valid(upper):
            raise UnknownSettingError(name, index.closest(upper), "environment variable")


def check_mapping(index: NameIndex, data: Mapping[str, Any], where: str) -> None:
    """The same check for a nested settings mapping (a settings file)."""

    def names(prefix: str, node: Mapping[str, Any]) -> Iterator[str]:
        for key, value in node.items():
            name = f"{prefix}{str(key).upper()}"
            yield name
            if isinstance(value, Mapping):
                yield from names(name + NESTED, value)

    for name in names(PREFIX, data):
        if not index.valid(name):
            raise UnknownSettingError(name, index.closest(name), where)
