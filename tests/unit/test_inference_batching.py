"""Drop-oldest queue and letterbox batches."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from inference_workers.batching import FrameQueue


def test_a_full_queue_drops_the_oldest_item_and_counts_it():
    q = FrameQueue(3, key=lambda item: item[0])
    for i in range(5):
        q.put(("cam-a" if i < 4 else "cam-b", i))
    assert q.dropped == 2
    assert q.dropped_by_key == {"cam-a": 2}
    assert [i for _, i in q.get_batch(10, timeout=0)] == [2, 3, 4]


def test_put_returns_the_evicted_item():
    q = FrameQueue(1)
    assert q.put("a") is None
    assert q.put("b") == "a"


def test_get_batch_returns_at_most_max_items_oldest_first():
    q = FrameQueue(10)
    for i in range(5):
        q.put(i)
    assert q.get_batch(3, timeout=0) == [0, 1, 2]
    assert q.get_batch(3, timeout=0) == [3, 4]
    assert q.get_batch(3, timeout=0.01) == []


def test_get_batch_wakes_when_another_thread_puts():
    q = FrameQueue(4)
    threading.Timer(0.05, q.put, args=("x",)).start()
    assert q.get_batch(4, timeout=2.0) == ["x"]


def test_letterbox_keeps_aspect_pads_and_unmaps_boxes_back_to_the_frame():
    torch = pytest.importorskip("torch")
    from inference_workers.batching import PAD_VALUE, Batcher

    b = Batcher(64)
    wide = np.full((20, 40, 3), 255, np.uint8)  # 2:1 frame -> 64x32 content, 16 px bands
    tall = np.zeros((40, 10, 3), np.uint8)
    batch, boxes = b.letterbox(b.device_frames([wide, tall]), batch_size=4)
    assert batch.shape == (4, 3, 64, 64) and batch.dtype == torch.float32
    assert boxes[0].scale == pytest.approx(1.6) and (boxes[0].pad_x, boxes[0].pad_y) == (0, 16)
    assert batch[0, :, 16:48].min() == pytest.approx(1.0)
    assert batch[0, :, :16].max() == pytest.approx(PAD_VALUE)
    assert batch[3].max() == pytest.approx(PAD_VALUE)  # unused rows are padding
    # A box covering the whole content area maps back to the whole frame.
    dets = torch.tensor([[0.0, 16.0, 64.0, 48.0, 0.9, 1.0], [-5.0, 0.0, 32.0, 70.0, 0.5, 0.0]])
    back = boxes[0].unmap(dets)
    assert back[0, :4].tolist() == pytest.approx([0, 0, 1, 1])
    assert back[1, :4].tolist() == pytest.approx([0, 0, 0.5, 1])  # clipped to the frame
    assert back[:, 4:].tolist() == dets[:, 4:].tolist()
