"""Export one JSON Schema file per contract topic into schemas/json/.

Run `brightkitchen schemas export` (or `python -m schemas.export`) after
changing records.py; tests/unit/test_schemas.py fails when the committed files
drift from the code.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from schemas.records import TOPIC_RECORDS

JSON_DIR = Path(__file__).parent / "json"


def _clean_descriptions(node: Any) -> Any:
    """Dedent every docstring-derived description.

    msgspec < 0.23 copies ``__doc__`` verbatim and 0.23 dedents it; cleaning
    here makes the exported text the same whichever version is installed.
    """
    if isinstance(node, dict):
        return {
            k: inspect.cleandoc(v)
            if k == "description" and isinstance(v, str)
            else _clean_descriptions(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(v) for v in node]
    return node


def render() -> dict[str, str]:
    """File name -> JSON Schema text, for every contract topic."""
    out: dict[str, str] = {}
    for topic, record_type in sorted(TOPIC_RECORDS.items()):
        schema = _clean_descriptions(msgspec.json.schema(record_type))
        schema["$id"] = f"https://brightkitchen.example/schemas/{topic}.json"
        schema["title"] = topic
        text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False)
        out[f"{topic}.json"] = text + "\n"
    return out


def export(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in export():
        print(p)
