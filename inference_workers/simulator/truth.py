"""`GroundTruth`: what really happened in a simulated run, and its JSON form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class GroundTruth:
    """What really happened in a simulated run (times are Unix seconds, UTC).

    - ``violations``: ``{camera_id, cls, start, end}``; ``start``/``end`` are the
      first and last frame on which the class is truly present.
    - ``camera_events``: ``{camera_id, kind, start, end, scenario}`` the health
      engine must raise; ``end`` is the first normal frame after it, or ``None``
      for ``angle_changed`` (the new view stays).
    - ``must_not_report``: ``{camera_id, kind, start, end, scenario}``: look-alikes
      of ``kind`` that must raise nothing.
    - ``violation_lookalikes``: ``{camera_id, cls, start, end, scenario}``: what
      must not be reported as a violation of ``cls`` (a stationary look-alike, a
      frozen picture's false positive).
    - ``meta``: the run's start, end, seed and camera ids.
    """

    violations: list[dict[str, Any]] = field(default_factory=list)
    camera_events: list[dict[str, Any]] = field(default_factory=list)
    must_not_report: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    violation_lookalikes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "meta": self.meta,
                "violations": self.violations,
                "camera_events": self.camera_events,
                "must_not_report": self.must_not_report,
                "violation_lookalikes": self.violation_lookalikes,
            },
            ensure_ascii=False,
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> GroundTruth:
        obj = json.loads(data)
        return cls(
            violations=obj["violations"],
            camera_events=obj["camera_events"],
            must_not_report=obj["must_not_report"],
            meta=obj.get("meta", {}),
            violation_lookalikes=obj.get("violation_lookalikes", []),
        )

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        return cls.from_json(Path(path).read_bytes())
