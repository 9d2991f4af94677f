"""Detector backends, YOLO decoding and batched NMS, the class map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inference_workers.backends.base import LabeledBox  # noqa: E402
from inference_workers.backends.yolo import (  # noqa: E402
    box_iou_batched,
    decode_yolo,
)
from inference_workers.classmap import AbsenceRule, ClassMap  # noqa: E402


def naive_nms(boxes, scores, classes, thr):
    order = np.argsort(-scores, kind="stable")
    keep = []
    for i in order:
        ok = True
        for j in keep:
            if classes[i] != classes[j]:
                continue
            iou = box_iou_batched(
                torch.tensor(boxes[i])[None, None], torch.tensor(boxes[j])[None, None]
            ).item()
            if iou > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def raw_output(cx, cy, w, h, cls_scores):
    """[1, 4+C, A] from per-anchor lists."""
    rows = [cx, cy, w, h, *np.asarray(cls_scores).T]
    return torch.tensor(np.array(rows, dtype=np.float32))[None]


def test_nms_keeps_the_best_of_overlapping_same_class_boxes_only():
    out = raw_output(
        cx=[50, 52, 50, 200],
        cy=[50, 50, 50, 200],
        w=[40, 40, 40, 30],
        h=[40, 40, 40, 30],
        cls_scores=[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.6, 0.0]],
    )
    (dets,) = decode_yolo(out, min_score=0.25, iou_threshold=0.5)
    got = [(round(float(d[4]), 2), int(d[5])) for d in dets]
    # 0.8 overlaps 0.9 (same class) and goes; 0.7 is another class and stays.
    assert got == [(0.9, 0), (0.7, 1), (0.6, 0)]
    assert dets[0, :4].tolist() == pytest.approx([30, 30, 70, 70])


def test_batched_nms_equals_greedy_nms_on_random_boxes():
    rng = np.random.default_rng(7)
    n, a, c = 3, 200, 3
    xy = rng.uniform(0, 100, (n, a, 2))
    wh = rng.uniform(5, 40, (n, a, 2))
    scores = rng.uniform(0, 1, (n, a, c)) ** 3
    out = torch.tensor(np.concatenate([xy, wh, scores], axis=2).transpose(0, 2, 1)).float()
    dets = decode_yolo(out, min_score=0.1, iou_threshold=0.4, max_detections=1000)
    for i in range(n):
        best, cls = scores[i].max(1), scores[i].argmax(1)
        boxes = np.concatenate([xy[i] - wh[i] / 2, xy[i] + wh[i] / 2], axis=1)
        cand = np.nonzero(best >= 0.1)[0]
        keep = naive_nms(boxes[cand], best[cand], cls[cand], 0.4)
        expected = sorted(best[cand][keep].tolist(), reverse=True)
        assert dets[i][:, 4].tolist() == pytest.approx(expected, rel=1e-5)


def test_max_detections_caps_each_image():
    out = raw_output([10, 100, 200], [10, 100, 200], [5, 5, 5], [5, 5, 5], [[0.9], [0.8], [0.7]])
    (dets,) = decode_yolo(out.repeat(1, 1, 1), max_detections=2)
    assert len(dets) == 2


def test_class_map_renames_labels_and_drops_unmapped_ones():
    cm = ClassMap(labels={"mouse": "rodent"})
    got = cm.apply(
        [LabeledBox("mouse", 0.8, (0, 0, 0.1, 0.1)), LabeledBox("cup", 0.9, (0, 0, 1, 1))]
    )
    assert [(d.cls, d.score) for d in got] == [("rodent", 0.8)]


def test_a_person_without_a_hat_in_the_top_of_the_box_is_no_hat():
    rule = AbsenceRule("person", "hat", "no_hat", region=(0, 0, 1, 0.35))
    cm = ClassMap(absence=[rule])
    person_a = LabeledBox("person", 0.9, (0.1, 0.1, 0.3, 0.9))
    person_b = LabeledBox("person", 0.8, (0.6, 0.1, 0.8, 0.9))
    hat_on_a = LabeledBox("hat", 0.7, (0.15, 0.1, 0.25, 0.2))
    hat_on_table = LabeledBox("hat", 0.7, (0.62, 0.8, 0.7, 0.88))  # near b's feet, not worn
    got = cm.apply([person_a, person_b, hat_on_a, hat_on_table])
    assert [(d.cls, d.box) for d in got] == [("no_hat", person_b.box)]


def test_absence_rules_need_a_model_that_can_see_the_item():
    cm = ClassMap.default().for_model(["person", "mouse"])
    assert cm.absence == []
    assert cm.apply([LabeledBox("person", 0.9, (0, 0, 1, 1))]) == []


def test_class_map_from_dict_rejects_non_canonical_targets():
    with pytest.raises(ValueError, match="non-canonical"):
        ClassMap.from_dict({"labels": {"mouse": "mice"}})
    cm = ClassMap.from_dict(
        {
            "labels": {"rat": "rodent"},
            "absence": [{"subject": "p", "item": "g", "emit": "no_gloves"}],
        }
    )
    assert cm.absence[0].emit == "no_gloves"


def nudenet_model() -> Path:
    nudenet = pytest.importorskip("nudenet")
    pytest.importorskip("onnxruntime")
    p = Path(nudenet.__file__).parent / "320n.onnx"
    if not p.exists():
        pytest.skip("nudenet's 320n.onnx is missing")
    return p


def synthetic_face(size: int = 320) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.full((size, size, 3), 200, np.uint8)
    img[((xx - 160) / 60) ** 2 + ((yy - 150) / 80) ** 2 < 1] = (224, 172, 140)
    for cx in (135, 185):
        img[((xx - cx) / 10) ** 2 + ((yy - 130) / 6) ** 2 < 1] = (40, 30, 30)
    return img


def test_onnx_backend_runs_a_real_yolov8_model_on_a_batch():
    from inference_workers.backends import load_detector
    from inference_workers.backends.base import DecodeParams

    det = load_detector(nudenet_model(), device="cpu", decode=DecodeParams(min_score=0.05))
    assert det.input_size == 320 and len(det.labels) == 18
    x = torch.from_numpy(synthetic_face()).permute(2, 0, 1).float()[None] / 255
    batch = torch.cat([x, torch.full_like(x, 0.5)])
    raw = det.forward(batch)
    assert raw.shape == (2, 4 + 18, 2100)
    results = det.infer(batch)
    assert len(results) == 2
    assert results[0], "the synthetic face should give at least one low-score box"
    for dets in results:
        for d in dets:
            assert d.label in det.labels
            assert 0.05 <= d.score <= 1
            assert all(0 <= v <= 1 for v in d.box) and d.box[0] <= d.box[2]


def test_torch_backend_decodes_a_yolo_format_module():
    from inference_workers.backends.pytorch import TorchDetector

    class Fixed(torch.nn.Module):
        def forward(self, x):  # one confident box per image, centred
            n = x.shape[0]
            out = torch.zeros(n, 4 + 2, 8)
            out[:, :4, 0] = torch.tensor([32.0, 32.0, 16.0, 16.0])
            out[:, 5, 0] = 0.9
            return (out,)

    det = TorchDetector(Fixed(), labels=["a", "b"], input_size=64, device="cpu")
    (dets,) = det.infer(torch.zeros(1, 3, 64, 64))
    assert dets == [LabeledBox("b", pytest.approx(0.9), (0.375, 0.375, 0.625, 0.625))]


def test_a_torch_export_program_loads_by_its_pt2_suffix(tmp_path):
    from inference_workers.backends import load_detector

    class Fixed(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros(x.shape[0], 5, 4) + x.mean() * 0
            out[:, :4, 0] = torch.tensor([16.0, 16.0, 8.0, 8.0])
            out[:, 4, 0] = 0.7
            return out

    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(
        Fixed(), (torch.zeros(2, 3, 32, 32),), dynamic_shapes={"x": {0: batch}}
    )
    path = tmp_path / "fixed.pt2"
    torch.export.save(program, str(path))
    det = load_detector(path, labels=["rat"], input_size=32, device="cpu")
    results = det.infer(torch.zeros(3, 3, 32, 32))
    assert [[d.label for d in r] for r in results] == [["rat"]] * 3


class TinyYolo(torch.nn.Module):
    """A real (random-weight) conv net with YOLOv8-format output [N, 4+2, 64]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(3, 6, 3, stride=8, padding=1)

    def forward(self, x):
        y = self.conv(x).flatten(2)
        return torch.cat([torch.sigmoid(y[:, :4]) * 64, torch.sigmoid(y[:, 4:])], 1)


def test_a_compiled_torch_detector_gives_the_eager_results():
    from inference_workers.backends.pytorch import TorchDetector

    batch = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    eager = TorchDetector(TinyYolo(), labels=["a", "b"], input_size=64, device="cpu")
    compiled = TorchDetector(
        TinyYolo(), labels=["a", "b"], input_size=64, device="cpu", compile="compile"
    )
    torch.testing.assert_close(compiled.forward(batch), eager.forward(batch))
    want, got = eager.infer_raw(batch), compiled.infer_raw(batch)
    assert [len(d) for d in got] == [len(d) for d in want] and sum(map(len, want)) > 0
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_compile_modes_refuse_what_they_cannot_run(tmp_path):
    from inference_workers.backends import load_detector
    from inference_workers.backends.pytorch import TorchDetector

    with pytest.raises(ValueError, match="needs a CUDA device"):
        TorchDetector(TinyYolo(), labels=["a", "b"], device="cpu", compile="cuda-graph")
    with pytest.raises(ValueError, match="want one of off, compile, cuda-graph"):
        TorchDetector(TinyYolo(), labels=["a", "b"], device="cpu", compile="fast")
    script = torch.jit.script(TinyYolo())
    with pytest.raises(ValueError, match="cannot trace a TorchScript module"):
        TorchDetector(script, labels=["a", "b"], device="cpu", compile="compile")
    with pytest.raises(ValueError, match=r"needs a PyTorch model .* not m\.onnx"):
        load_detector(tmp_path / "m.onnx", compile="compile")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_a_cuda_graph_replay_gives_the_eager_results():
    from inference_workers.backends.pytorch import TorchDetector

    script = torch.jit.script(TinyYolo())  # capture works for TorchScript too
    eager = TorchDetector(script, labels=["a", "b"], input_size=64, device="cuda")
    graphed = TorchDetector(
        script, labels=["a", "b"], input_size=64, device="cuda", compile="cuda-graph"
    )
    for seed in (1, 2):  # the second replay must not see the first one's input
        batch = torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(graphed.forward(batch), eager.forward(batch))


def test_a_compiled_model_gets_batches_of_one_shape_on_cpu():
    from inference_workers.backends.pytorch import TorchDetector
    from inference_workers.worker import InferencePipeline

    def pad_to(compile: str) -> int | None:
        det = TorchDetector(
            TinyYolo(), labels=["a"], input_size=64, device="cpu", compile=compile, warmup=False
        )
        return InferencePipeline(det, worker_id="w", batch_size=4).pad_to

    assert (pad_to("off"), pad_to("compile")) == (None, 4)
