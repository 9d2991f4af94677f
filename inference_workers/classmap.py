"""Model labels -> the canonical violation classes of the contract.

A kitchen model's own labels differ from model to model ("chef_hat", "head",
"mouse", ...). A `ClassMap` is plain configuration (a dict in the cameras/model
settings, or YAML/JSON) that says:

- `labels`: a model label that *is* a violation maps straight to a canonical
  class (`mouse` -> `rodent`, `cigarette` -> `smoking`);
- `absence`: a violation that is the *absence* of something is derived from a
  subject box without a matching item box: a `person` whose upper part holds no
  `hat` box is `no_hat`, scored with the person's score.

Labels that map to nothing are dropped (the contract only carries canonical
classes) unless `keep_unmapped` is set. Labels match case-insensitively
(DeepStream's event path writes `Person`, `Mouse`). `mouse` is not in the
default map: in COCO (most public detectors and DeepStream's samples) it is a
computer mouse; a kitchen model whose `mouse` is a rodent says so in its class
map file (`{"labels": {"mouse": "rodent"}}`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.records import VIOLATION_CLASSES, Detection

if TYPE_CHECKING:
    from inference_workers.backends.base import LabeledBox


@dataclass(frozen=True)
class AbsenceRule:
    """`emit` for every `subject` box with no `item` box inside its `region`."""

    subject: str  # model label of the box that must carry the item, e.g. "person"
    item: str  # model label of the item, e.g. "hat"
    emit: str  # canonical class, e.g. "no_hat"
    # Part of the subject box (x1, y1, x2, y2, relative to it) where the item must
    # be: a hat sits in the top of a person box, gloves anywhere.
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    # Fraction of the item box that must fall in that region for it to count as worn.
    min_item_inside: float = 0.5
    min_subject_score: float = 0.4


@dataclass
class ClassMap:
    labels: dict[str, str] = field(default_factory=dict)
    absence: list[AbsenceRule] = field(default_factory=list)
    keep_unmapped: bool = False

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> ClassMap:
        """{"labels": {...}, "absence": [{"subject", "item", "emit", ...}], "keep_unmapped"}."""
        rules = []
        for r in cfg.get("absence", ()):
            r = dict(r)
            if "region" in r:
                r["region"] = tuple(float(v) for v in r["region"])
            rules.append(AbsenceRule(**r))
        cm = cls(
            labels=dict(cfg.get("labels", {})),
            absence=rules,
            keep_unmapped=bool(cfg.get("keep_unmapped", False)),
        )
        cm.validate()
        if "model_labels" in cfg:  # the labels the model has: keeps only rules it can serve
            cm = cm.for_model(cfg["model_labels"])
        return cm

    @classmethod
    def from_file(cls, path: str | Path) -> ClassMap:
        """A class map from a YAML or JSON file (the `from_dict` layout)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            cfg = yaml.safe_load(text)
        else:
            cfg = json.loads(text)
        if not isinstance(cfg, Mapping):
            raise ValueError(f"class map {path} is not a mapping")
        return cls.from_dict(cfg)

    @classmethod
    def default(cls) -> ClassMap:
        """Canonical labels map to themselves, plus common names of public kitchen models."""
        labels = {c: c for c in VIOLATION_CLASSES}
        labels.update(
            {
                "rat": "rodent",
                "rodent": "rodent",
                "cat": "animal",
                "dog": "animal",
                "cockroach": "animal",
                "cigarette": "smoking",
                "smoke": "smoking",
                "phone": "phone_use",
                "cell phone": "phone_use",
                "trash_can_open": "trash_uncovered",
                "head_no_hat": "no_hat",
                "face_no_mask": "no_mask",
            }
        )
        rules = [
            AbsenceRule("person", "hat", "no_hat", region=(0.0, 0.0, 1.0, 0.35)),
            AbsenceRule("person", "mask", "no_mask", region=(0.0, 0.0, 1.0, 0.35)),
        ]
        return cls(labels=labels, absence=rules)

    def _folded(self) -> dict[str, str]:
        key = tuple(self.labels.items())
        if getattr(self, "_fold_key", None) != key:
            self._fold_key = key
            self._fold = {k.casefold(): v for k, v in self.labels.items()}
        return self._fold

    def validate(self) -> None:
        canonical = set(VIOLATION_CLASSES)
        bad = {v for v in self.labels.values() if v not in canonical}
        bad |= {r.emit for r in self.absence if r.emit not in canonical}
        if bad and not self.keep_unmapped:
            raise ValueError(f"class map targets non-canonical classes: {sorted(bad)}")

    def for_model(self, model_labels: Iterable[str]) -> ClassMap:
        """The rules this model can serve: an absence rule needs both labels in the model.

        Without this a model that cannot see hats would report every person as no_hat.
        """
        have = {str(label).casefold() for label in model_labels}
        rules = [
            r for r in self.absence if r.subject.casefold() in have and r.item.casefold() in have
        ]
        return ClassMap(dict(self.labels), rules, self.keep_unmapped)

    def apply(self, dets: list[LabeledBox]) -> list[Detection]:
        """One image's model detections -> canonical `Detection` records."""
        out = []
        labels = self._folded()
        for d in dets:
            cls = labels.get(d.label.casefold())
            if cls is None and self.keep_unmapped:
                cls = d.label
            if cls is not None:
                out.append(Detection(cls=cls, score=d.score, box=d.box))
        for rule in self.absence:
            item, subject = rule.item.casefold(), rule.subject.casefold()
            items = [d.box for d in dets if d.label.casefold() == item]
            for d in dets:
                if d.label.casefold() != subject or d.score < rule.min_subject_score:
                    continue
                region = _sub_box(d.box, rule.region)
                if not any(_inside_fraction(b, region) >= rule.min_item_inside for b in items):
                    out.append(Detection(cls=rule.emit, score=d.score, box=d.box))
        return out


def _sub_box(box, rel):
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    return (x1 + rel[0] * w, y1 + rel[1] * h, x1 + rel[2] * w, y1 + rel[3] * h)


def _inside_fraction(item, region) -> float:
    """Fraction of the item box's area that lies inside region."""
    ix = max(0.0, min(item[2], region[2]) - max(item[0], region[0]))
    iy = max(0.0, min(item[3], region[3]) - max(item[1], region[1]))
    area = max(0.0, item[2] - item[0]) * max(0.0, item[3] - item[1])
    return ix * iy / area if area > 0 else 0.0
