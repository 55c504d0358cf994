"""NME evaluation protocol (T-FAKE NME-IO, CHARLOTTE NME-diag subsets) on hand-built predictions."""

import numpy as np
import pandas as pd
import pytest

from thermbench.core import nme as nme_eval


def _face() -> np.ndarray:
    gt = np.zeros((68, 2))
    gt[:, 0] = np.arange(68) % 10
    gt[:, 1] = np.arange(68) // 10
    gt[36], gt[45] = (0.0, 20.0), (10.0, 20.0)  # inter-ocular distance 10
    return gt


def test_tfake_nme_io_fr_auc():
    gt = np.stack([_face(), _face()])
    pred = gt.copy()
    pred[1, :, 0] += 2.0  # every point 2 px off on a 10 px inter-ocular face -> NME 0.2
    out = nme_eval.summarize(nme_eval.nme_io(pred, gt))
    assert out["nme"] == pytest.approx(0.1)
    assert out["fr@0.1"] == pytest.approx(0.5)  # only the 0.2 image fails
    assert out["auc@0.1"] == pytest.approx(0.5)  # (0.1 - 0 + 0) / 2 / 0.1
    assert out["n"] == 2
    rows = nme_eval.ced_rows({"a": nme_eval.nme_io(pred, gt), "b": np.array([0.05])}, steps=3)
    assert rows == [{"nme": 0.0, "a": 0.5, "b": 0.0}, {"nme": 0.05, "a": 0.5, "b": 1.0},
                    {"nme": 0.1, "a": 0.5, "b": 1.0}]


def test_charlotte_subsets_use_only_labelled_points_and_box_diagonal():
    gt = np.zeros((2, 68, 2))
    visible = np.zeros((2, 68))
    # image 0, frontal: all points labelled, predicted exactly
    gt[0] = _face()
    visible[0] = 1
    # image 1, profile: 3 labelled points spanning a 3x4 box (diagonal 5)
    gt[1, [0, 1, 2]] = [(0.0, 0.0), (3.0, 0.0), (3.0, 4.0)]
    visible[1, [0, 1, 2]] = 1
    pred = gt.copy()
    pred[1, [0, 1, 2], 0] += 1.0  # 1 px off -> NME 0.2
    pred[1, 3:] = 1000.0  # unlabelled points are wildly off and must not count
    meta = pd.DataFrame({"view": ["front", "side"], "width_group": ["high", "low"]})
    out = nme_eval.charlotte_subsets(nme_eval.nme_diag(pred, gt, visible), meta)
    assert out["front"]["nme"] == pytest.approx(0.0)
    assert out["side"]["nme"] == pytest.approx(0.2)
    assert out["full"]["nme"] == pytest.approx(0.1)
    assert out["high"]["nme"] == pytest.approx(0.0) and out["low"]["nme"] == pytest.approx(0.2)
    assert out["mean"]["n"] == 0 and np.isnan(out["mean"]["nme"])
    assert out["full"]["fr@0.1"] == pytest.approx(0.5)


def test_charlotte_checks_other_box_and_unambiguous_side_points():
    """Side image: 4 mapped points, two of them unambiguous (nose tip 30, eye corner 45), box 6 x 8 (diagonal 10);
    its annotated box (every profile point, before mapping) has diagonal 20. Frontal image exact, annotated 40."""
    gt = np.zeros((2, 68, 2))
    visible = np.zeros((2, 68), dtype=bool)
    gt[0], visible[0] = _face(), True
    gt[1, [30, 45, 31, 17]] = [(0.0, 0.0), (6.0, 0.0), (0.0, 8.0), (6.0, 8.0)]
    visible[1, [30, 45, 31, 17]] = True
    pred = gt.copy()
    pred[1, [30, 45], 0] += 1.0   # unambiguous points 1 px off
    pred[1, [31, 17], 0] += 3.0   # the table's other points 3 px off: mean error 2 px
    meta = pd.DataFrame({"view": ["front", "side"], "diag_annotated_px": [40.0, 20.0]})
    out = nme_eval.charlotte_checks(pred, gt, visible, meta)
    assert out["annotated_box"]["side"]["nme"] == pytest.approx(2.0 / 20)
    assert out["annotated_box"]["front"]["nme"] == 0.0 and out["annotated_box"]["full"]["n"] == 2
    assert out["annotated_box"]["full"]["nme"] == pytest.approx(0.05)
    # unambiguous points alone, normalised by the mapped points' box as Table I: 1 / 10
    assert out["side_unambiguous"]["nme"] == pytest.approx(0.1) and out["side_unambiguous"]["n"] == 1
    assert nme_eval.nme_diag(pred, gt, visible)[1] == pytest.approx(0.2)  # Table I's Side: 2 / 10


def _shape(shift=(0.0, 0.0)) -> np.ndarray:
    # 68 points; the outer eye corners (36, 45) 10 px apart, so NME-IO = mean point error / 10.
    pts = np.random.default_rng(0).uniform(0, 50, (68, 2))
    pts[36], pts[45] = (0.0, 0.0), (10.0, 0.0)
    return pts + np.asarray(shift)


def test_mean_shape_baseline_predicts_the_training_mean():
    train = np.stack([_shape((1.0, 0.0)), _shape((-1.0, 0.0))])          # mean: the unshifted shape
    test = np.stack([_shape(), _shape((3.0, 4.0))])                       # 0 px and 5 px from it
    np.testing.assert_allclose(nme_eval.mean_shape_nme(train, test), [0.0, 0.5], atol=1e-12)
