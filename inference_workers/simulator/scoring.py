"""Score detected episodes against ground truth: pure functions, standard library only.

Not production code: it scores against the simulator's ground truth, so it lives
beside the simulator. Used by bench/quality.py on that truth and on what the stream
apps stored in `bk.violations` / `bk.camera_events`.

Matching rules (per camera and class, or per camera and kind):

1. Truth episodes closer than ``merge_gap_s`` are merged first: the contract
   makes them one episode, so the processor must raise one.
2. A detected episode spans ``[started_at, ended_at]``; ``ended_at`` ``None`` means
   still open at the end of the input and spans to ``horizon`` (default: forever).
   A truth ``end`` of ``None`` (an angle change that stays) spans forever too.
3. A detected episode matches the truth episode (same camera and class) that it
   overlaps most once the truth is widened by ``tolerance_s`` on both sides.
   The first detected episode (by ``started_at``) matched to a truth episode is
   its detection; any later one matched to the same truth episode is a duplicate.
   A detected episode that matches nothing is a false positive.

Figures: ``precision`` = matched detected / detected (duplicates are not false,
they are counted apart); ``recall`` = truth episodes with a match / truth
episodes; ``duplicates_per_episode`` = duplicates / truth episodes; latency =
``detected_at - truth start``; start error = ``started_at - truth start``; end
error = ``ended_at - truth end`` (only where both are known). Errors and
latencies are summarised as p50 / p95 of their absolute values, in seconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

INF = math.inf


def _get(row: Any, *names: str) -> Any:
    """The first present field of a mapping or an object (msgspec Structs, dataclasses)."""
    for name in names:
        if isinstance(row, Mapping):
            if name in row:
                return row[name]
        elif hasattr(row, name):
            return getattr(row, name)
    return None


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Metrics:
    """Episode-level figures for one class (or overall)."""

    truth: int = 0
    detected: int = 0
    matched_truth: int = 0
    matched_detected: int = 0
    false_positives: int = 0
    duplicates: int = 0
    open_at_end: int = 0
    precision: float | None = None
    recall: float | None = None
    duplicates_per_episode: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    start_err_p50: float | None = None
    start_err_p95: float | None = None
    end_err_p50: float | None = None
    end_err_p95: float | None = None
    latencies: list[float] = field(default_factory=list, repr=False)
    start_errs: list[float] = field(default_factory=list, repr=False)
    end_errs: list[float] = field(default_factory=list, repr=False)

    def finish(self) -> Metrics:
        self.precision = self.matched_detected / self.detected if self.detected else None
        self.recall = self.matched_truth / self.truth if self.truth else None
        self.duplicates_per_episode = self.duplicates / self.truth if self.truth else None
        self.latency_p50 = percentile(map(abs, self.latencies), 50)
        self.latency_p95 = percentile(map(abs, self.latencies), 95)
        self.start_err_p50 = percentile(map(abs, self.start_errs), 50)
        self.start_err_p95 = percentile(map(abs, self.start_errs), 95)
        self.end_err_p50 = percentile(map(abs, self.end_errs), 50)
        self.end_err_p95 = percentile(map(abs, self.end_errs), 95)
        return self

    def add(self, other: Metrics) -> None:
        for name in (
            "truth",
            "detected",
            "matched_truth",
            "matched_detected",
            "false_positives",
            "duplicates",
            "open_at_end",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies += other.latencies
        self.start_errs += other.start_errs
        self.end_errs += other.end_errs

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name in ("latencies", "start_errs", "end_errs"):
            d.pop(name)
        return d


@dataclass
class EpisodeScores:
    """Per-class metrics plus the overall figures (episodes of all classes pooled)."""

    per_class: dict[str, Metrics]
    overall: Metrics
    unmatched_truth: list[dict[str, Any]] = field(default_factory=list, repr=False)
    false_positive_rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "per_class": {k: m.as_dict() for k, m in sorted(self.per_class.items())},
        }


@dataclass
class _Truth:
    start: float
    end: float | None  # None: lasts forever
    matches: list[_Detected] = field(default_factory=list)


@dataclass
class _Detected:
    started_at: float
    detected_at: float | None
    ended_at: float | None
    row: Any


def merge_truth(
    intervals: Iterable[tuple[float, float | None]], merge_gap_s: float
) -> list[tuple[float, float | None]]:
    """Sort and merge intervals whose gap is below ``merge_gap_s``; None ends absorb the rest."""
    out: list[list[Any]] = []
    for start, end in sorted(intervals, key=lambda se: se[0]):
        if out:
            last = out[-1]
            last_end = INF if last[1] is None else last[1]
            if start - last_end < merge_gap_s:
                if end is None or last[1] is None:
                    last[1] = None
                else:
                    last[1] = max(last[1], end)
                continue
        out.append([start, end])
    return [(s, e) for s, e in out]


def _class_of(row: Any) -> str:
    cls = _get(row, "cls", "kind")
    if cls is None:
        raise ValueError(f"row has neither 'cls' nor 'kind': {row!r}")
    return str(cls)


def score_episodes(
    truth: Iterable[Any],
    detected: Iterable[Any],
    merge_gap_s: float = 60.0,
    tolerance_s: float = 30.0,
    horizon: float | None = None,
) -> EpisodeScores:
    """Match detected episodes to truth intervals of the same camera and class.

    ``truth`` rows carry ``camera_id``, ``cls`` (or ``kind``), ``start``, ``end``;
    ``detected`` rows carry ``camera_id``, ``cls`` (or ``kind``), ``started_at``,
    ``detected_at`` (optional) and ``ended_at`` (None while open). Rows may be
    mappings or objects with those attributes (e.g. `schemas.records.Violation`).
    """
    truth_by: dict[tuple[str, str], list[tuple[float, float | None]]] = defaultdict(list)
    for row in truth:
        truth_by[(str(_get(row, "camera_id")), _class_of(row))].append(
            (float(_get(row, "start")), _opt_float(_get(row, "end")))
        )
    det_by: dict[tuple[str, str], list[_Detected]] = defaultdict(list)
    for row in detected:
        det_by[(str(_get(row, "camera_id")), _class_of(row))].append(
            _Detected(
                started_at=float(_get(row, "started_at", "start")),
                detected_at=_opt_float(_get(row, "detected_at")),
                ended_at=_opt_float(_get(row, "ended_at", "end")),
                row=row,
            )
        )
    far = INF if horizon is None else horizon
    per_class: dict[str, Metrics] = defaultdict(Metrics)
    scores = EpisodeScores(per_class={}, overall=Metrics())
    for key in sorted(set(truth_by) | set(det_by)):
        camera_id, cls = key
        m = per_class[cls]
        truths = [_Truth(s, e) for s, e in merge_truth(truth_by.get(key, []), merge_gap_s)]
        dets = sorted(det_by.get(key, []), key=lambda d: d.started_at)
        m.truth += len(truths)
        m.detected += len(dets)
        for d in dets:
            d_end = far if d.ended_at is None else d.ended_at
            if d.ended_at is None:
                m.open_at_end += 1
            best: _Truth | None = None
            best_overlap = -INF
            for t in truths:
                t_end = INF if t.end is None else t.end
                lo = max(d.started_at, t.start - tolerance_s)
                hi = min(d_end, t_end + tolerance_s)
                if hi < lo:
                    continue
                if hi - lo > best_overlap:
                    best, best_overlap = t, hi - lo
            if best is None:
                m.false_positives += 1
                scores.false_positive_rows.append(
                    {"camera_id": camera_id, "cls": cls, "started_at": d.started_at,
                     "ended_at": d.ended_at}
                )  # fmt: skip
            else:
                m.matched_detected += 1
                best.matches.append(d)
        for t in truths:
            if not t.matches:
                scores.unmatched_truth.append(
                    {"camera_id": camera_id, "cls": cls, "start": t.start, "end": t.end}
                )
                continue
            m.matched_truth += 1
            m.duplicates += len(t.matches) - 1
            first = t.matches[0]
            if first.detected_at is not None:
                m.latencies.append(first.detected_at - t.start)
            m.start_errs.append(first.started_at - t.start)
            last = t.matches[-1]
            if t.end is not None and last.ended_at is not None:
                m.end_errs.append(last.ended_at - t.end)
    for cls, m in per_class.items():
        scores.overall.add(m)
        scores.per_class[cls] = m.finish()
    scores.overall.finish()
    return scores


@dataclass
class FalseAlarms:
    """Camera events raised where the truth says nothing must be reported."""

    camera_days: float
    counts: dict[str, int]
    per_camera_day: dict[str, float]
    total: int
    total_per_camera_day: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def false_alarms_per_camera_day(
    must_not_report: Iterable[Any],
    detected: Iterable[Any],
    cameras: int,
    hours: float,
    tolerance_s: float = 0.0,
    truth: Iterable[Any] | None = None,
) -> FalseAlarms:
    """Detected camera events of a kind that overlap a must-not-report window of that kind.

    A detected event that overlaps a real event of its kind (``truth``, when given)
    is not a false alarm even if it also touches a look-alike. Rates are per
    camera-day: ``cameras * hours / 24``.
    """
    windows: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in must_not_report:
        end = _opt_float(_get(row, "end"))
        windows[(str(_get(row, "camera_id")), _class_of(row))].append(
            (float(_get(row, "start")), INF if end is None else end)
        )
    real: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in truth or ():
        end = _opt_float(_get(row, "end"))
        real[(str(_get(row, "camera_id")), _class_of(row))].append(
            (float(_get(row, "start")), INF if end is None else end)
        )

    def overlaps(spans: list[tuple[float, float]], a: float, b: float) -> bool:
        return any(a <= e + tolerance_s and b >= s - tolerance_s for s, e in spans)

    counts: dict[str, int] = defaultdict(int)
    for row in detected:
        key = (str(_get(row, "camera_id")), _class_of(row))
        a = float(_get(row, "started_at", "start"))
        end = _opt_float(_get(row, "ended_at", "end"))
        b = INF if end is None else end
        if key in windows and overlaps(windows[key], a, b) and not overlaps(real[key], a, b):
            counts[key[1]] += 1
    camera_days = cameras * hours / 24.0
    kinds = sorted({k for _, k in windows} | set(counts))
    per = {k: (counts.get(k, 0) / camera_days if camera_days else 0.0) for k in kinds}
    total = sum(counts.values())
    return FalseAlarms(
        camera_days=camera_days,
        counts={k: counts.get(k, 0) for k in kinds},
        per_camera_day=per,
        total=total,
        total_per_camera_day=total / camera_days if camera_days else 0.0,
    )
