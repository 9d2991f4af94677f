"""Export one JSON Schema file per contract topic into schemas/json/.

Run `brightkitchen schemas export` (or `python -m schemas.export`) after
changing records.py; tests/unit/test_schemas.py fails when the committed files
drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from schemas.records import TOPIC_RECORDS

JSON_DIR = Path(__file__).parent / "json"


def render() -> dict[str, str]:
    """File name -> JSON Schema text, for every contract topic."""
    out: dict[str, str] = {}
    for topic, record_type in sorted(TOPIC_RECORDS.items()):
        schema = msgspec.json.schema(record_type)
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
