import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from raw_builders import build_thermeval_frames
from thermbench.core.io import InputError
from thermbench.models.rtmdet import build_rtmdet, decode_top_box, load_mmdet_checkpoint, normalize_detector_input
from thermbench.speed import detector_fit
from thermbench.speed.detect_then_pose import PAD_VALUE, iou, letterbox, person_frames

ROOT = Path(__file__).resolve().parents[2]


def test_letterbox_keeps_the_aspect_top_left_and_pads_the_rest():
    image = np.full((256, 192), 7, dtype=np.uint8)
    frame, scale = letterbox(image, (320, 320))
    assert scale == 1.25 and frame.shape == (320, 320)
    assert (frame[:, :240] == 7).all() and (frame[:, 240:] == PAD_VALUE).all()


def test_priors_lie_level_by_level_row_by_row():
    points, strides = detector_fit.priors((64, 32), (16, 32))
    # stride 16: 2 rows x 4 cols, then stride 32: 1 row x 2 cols
    assert points.tolist() == [[0, 0], [16, 0], [32, 0], [48, 0], [0, 16], [16, 16], [32, 16], [48, 16],
                               [0, 0], [32, 0]]
    assert strides.tolist() == [16.0] * 8 + [32.0] * 2


def test_a_point_is_positive_inside_its_box_near_its_centre_and_for_the_smallest_box():
    points = torch.tensor([[10.0, 10.0], [30.0, 10.0], [50.0, 10.0], [12.0, 12.0], [13.0, 13.0]])
    strides = torch.tensor([8.0, 8.0, 8.0, 1.0, 1.0])
    boxes = torch.tensor([[0.0, 0.0, 60.0, 20.0], [5.0, 5.0, 15.0, 15.0]])
    # box 0 (centre (30, 10)) at stride 8 reaches 20 px: (10, 10) and (30, 10) qualify, (50, 10) lies 20 px off (not
    # within); (10, 10) lies in box 1 too, the smaller. At stride 1 the reach is 2.5 px: (12, 12) is 2 px from box 1's
    # centre (10, 10), (13, 13) 3 px, and both are far from box 0's.
    assert detector_fit.assign(points, strides, boxes).tolist() == [1, 0, -1, 1, -1]
    assert detector_fit.assign(points, strides, torch.zeros((0, 4))).tolist() == [-1] * 5


def test_iou_and_giou_by_hand():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0]])
    iou_ab, giou_ab = detector_fit.iou_and_giou(a, b)
    # 1 / (4 + 4 - 1) = 1/7, hull 9: 1/7 - (9 - 7)/9; disjoint unit squares: 0 - (3 - 2)/3
    assert iou_ab.tolist() == pytest.approx([1 / 7, 0.0])
    assert giou_ab.tolist() == pytest.approx([1 / 7 - 2 / 9, -1 / 3])


def test_a_perfect_box_costs_no_box_loss_and_an_empty_frame_only_class_loss():
    points = torch.tensor([[16.0, 16.0], [48.0, 48.0]])
    strides = torch.tensor([8.0, 8.0])
    box = torch.tensor([[8.0, 8.0, 24.0, 24.0]])
    distances = torch.tensor([[[8.0, 8.0, 8.0, 8.0], [1.0, 1.0, 1.0, 1.0]]])
    logits = torch.tensor([[20.0, -20.0]])  # sure of the positive, sure the other is background
    cls_loss, box_loss = detector_fit.loss(logits, distances, points, strides, [box])
    assert box_loss.item() == pytest.approx(0.0, abs=1e-6) and cls_loss.item() == pytest.approx(0.0, abs=1e-6)
    cls_loss, box_loss = detector_fit.loss(logits, distances, points, strides, [torch.zeros((0, 4))])
    assert box_loss.item() == 0 and cls_loss.item() > 1  # a confident positive where there is none


def _world(n, rng, size=64):
    frames, boxes = [], []
    for _ in range(n):
        frame = rng.integers(0, 60, (size, size)).astype(np.uint8)
        w, h = rng.integers(16, 36, 2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        frame[y:y + h, x:x + w] = 200
        frames.append(frame)
        boxes.append(np.array([[x, y, x + w, y + h]], float))
    return np.stack(frames), boxes


def test_a_short_fit_finds_bright_rectangles():
    rng = np.random.default_rng(0)
    train, train_boxes = _world(48, rng)
    test, test_boxes = _world(8, rng)
    torch.manual_seed(0)
    model = build_rtmdet("nano", (64, 64))
    history = detector_fit.fit(model, train, train_boxes, steps=80, batch_size=8, lr=4e-3, seed=0)
    assert len(history) == 80 and not model.training
    assert np.mean([h["box_loss"] for h in history[-10:]]) < 0.5 * np.mean([h["box_loss"] for h in history[:10]])
    with torch.no_grad():
        top = [decode_top_box([o.numpy() for o in model(normalize_detector_input(torch.from_numpy(f)[None, None]))],
                              model.cfg.strides)[0] for f in test]
    assert np.median(iou(np.stack(top), np.concatenate(test_boxes))) > 0.5


def test_frames_of_another_size_are_refused():
    with pytest.raises(ValueError, match="differ from the detector's input"):
        detector_fit.fit(build_rtmdet("nano", (64, 64)), np.zeros((1, 32, 64), np.uint8), [np.zeros((0, 4))], 1, 1,
                         1e-3, 0)


def test_person_frames_are_letterboxed_with_their_boxes_scaled(tmp_path):
    prepared, raw = build_thermeval_frames(tmp_path, np.random.default_rng(0), ["train", "test", "train"])
    frames, boxes = person_frames(prepared, raw, ("train",), (64, 64))
    assert frames.shape == (2, 64, 64) and len(boxes) == 2
    first = pd.read_csv(prepared / "frames.csv").persons[0]
    np.testing.assert_allclose(boxes[0], np.array(json.loads(first)) * (64 / 96))  # 96 px high -> 64
    assert (frames[:, :, 43:] == PAD_VALUE).all()  # 64 px wide -> 43 (rounded), then padding
    first_only, _ = person_frames(prepared, raw, ("train",), (64, 64), count=1)
    assert np.array_equal(first_only, frames[:1])
    with pytest.raises(InputError, match="no frames in split"):
        person_frames(prepared, raw, ("val",), (64, 64))


def test_a_fitted_detector_is_checked_on_the_test_split_and_saved_as_mmdet_lays_it_out(tmp_path):
    prepared, raw = build_thermeval_frames(tmp_path, np.random.default_rng(1), ["train"] * 24 + ["test"] * 4)
    cfg = detector_fit.DetectorFitConfig(detector="nano", input_size=(64, 64), fit_splits=("train",),
                                         test_split="test", steps=3, batch_size=2, lr=1e-3, threads=1)
    model, numbers = detector_fit.fit_detector(cfg, prepared, raw, seed=0)
    assert numbers["fit_frames"] == 24 and numbers["frames"] == 4 and numbers["steps"] == 3
    assert 0 <= numbers["top_box_matched_share"] <= 1 and numbers["box_loss_last10"] > 0
    detector_fit.save_mmdet_checkpoint(model, tmp_path / "det/rtmdet-nano.pth")
    loaded = load_mmdet_checkpoint(build_rtmdet("nano", (64, 64)), tmp_path / "det/rtmdet-nano.pth")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())
    again, _ = detector_fit.fit_detector(cfg, prepared, raw, seed=0)  # seeded: the same weights again
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in again.state_dict().items())


def test_the_stage_writes_a_checkpoint_that_loads_and_labelled_numbers(tmp_path):
    prepared, raw = build_thermeval_frames(tmp_path, np.random.default_rng(2), ["train"] * 4 + ["test"] * 2)
    params = {"seed": 0, "data": {"source": {"thermeval": "synthetic"}},
              "detector_fit": {"detector": "nano", "input_size": [64, 64], "fit_splits": ["train"],
                               "test_split": "test", "steps": 2, "batch_size": 2, "lr": 1e-3, "threads": 1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, str(ROOT / "stages/speed/detector_fit.py"), "--prepared", str(prepared), "--raw", str(raw),
           "--out", "det/rtmdet-nano.pth", "--metrics", "metrics/detector_fit.json"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    numbers = json.loads((tmp_path / "metrics/detector_fit.json").read_text())
    assert numbers["data"] == "synthetic" and numbers["fit_frames"] == 4 and numbers["frames"] == 2
    load_mmdet_checkpoint(build_rtmdet("nano", (64, 64)), tmp_path / "det/rtmdet-nano.pth")
