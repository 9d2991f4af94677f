"""What every CLI module shares: the error console, settings loading, the store's
client, one-line failures.

Its own module so that `cli` and its command modules (`cli_workers`, `cli_alerts`,
`cli_contract`, `cli_inspections`) import it and not each other.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from brightkitchen.settings import Settings, SettingsError, load

console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return load()
    except SettingsError as exc:  # names the variable, key or file
        console.print(
            f"[red]invalid BK_* settings:[/red] {escape(_settings_line(exc))}", highlight=False
        )
        raise typer.Exit(2) from None


def _settings_line(exc: Exception) -> str:
    """A settings error on one line: pydantic's errors as ``BK_NAME: why``."""
    errors = getattr(exc.__context__, "errors", None)
    if callable(errors):
        return "; ".join(
            f"BK_{'__'.join(str(p) for p in e.get('loc', ())).upper()}: {e.get('msg')}"
            for e in errors()
        )
    return " ".join(str(exc).split())


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _connect(settings: Settings, query: bool = False):
    """The store's client, or a one-line error naming the store."""
    from brightkitchen import store

    try:
        return store.connect(settings, query=query)
    except store.StoreError as exc:
        raise _fail(str(exc)) from None
