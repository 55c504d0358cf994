"""Hand-computed checks of the metric functions (design §5)."""

import math

import numpy as np
import pytest

from thermbench.core import metrics as M
from thermbench.core import nme as N

nan = float("nan")


def test_greedy_match_closest_pair_first_not_row_order():
    # GT0 is 3 px from P0 and 4 px from P1; GT1 is 1 px from P0.  Greedy takes (GT1,P0) first, then (GT0,P1).
    gt = np.array([[0.0, 0.0], [3.0, 1.0]])
    pred = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert M.greedy_match(gt, pred, 80) == [(0, 1, 4.0), (1, 0, 1.0)]


def test_greedy_match_ties_broken_by_gt_then_pred_index():
    # Both GT points are exactly 5 px from the single prediction: the lower GT index wins.
    gt = np.array([[0.0, 0.0], [10.0, 0.0]])
    pred = np.array([[5.0, 0.0]])
    assert M.greedy_match(gt, pred, 80) == [(0, 0, 5.0)]
    # One GT, two predictions at exactly 2 px: the lower prediction index wins.
    assert M.greedy_match(np.array([[0.0, 0.0]]), np.array([[0.0, 2.0], [2.0, 0.0]]), 80) == [(0, 0, 2.0)]


def test_greedy_match_cap_unmatched_and_nan_predictions():
    gt = np.array([[0.0, 0.0], [100.0, 100.0]])
    pred = np.array([[nan, nan], [0.0, 80.0], [0.0, 80.1], [3.0, 4.0]])
    # P3 (5 px) matches GT0; P1 is exactly at the 80 px cap from GT0 but GT0 is taken; GT1 has nothing within 80.
    assert M.greedy_match(gt, pred, 80) == [(0, 3, 5.0)]
    # No predictions at all: no matches.
    assert M.greedy_match(gt, np.zeros((0, 2)), 80) == []
    # The cap is inclusive.
    assert M.greedy_match(gt[:1], pred[1:2], 80) == [(0, 0, 80.0)]


def test_matched_errors_and_summary_stats():
    gt = np.array([[0.0, 0.0], [50.0, 0.0], [200.0, 0.0]])
    pred = np.array([[0.0, 3.0], [50.0, 8.0], [999.0, 999.0]])  # last prediction unmatched (beyond cap)
    err = M.matched_errors(gt, pred, 80)
    np.testing.assert_array_equal(err, [3.0, 8.0, nan])
    assert M.detection_rate(err) == pytest.approx(2 / 3)
    assert M.mean_error(err) == pytest.approx(5.5)
    assert M.median_error(err) == pytest.approx(5.5)


def test_pck_counts_misses_as_failures_and_is_inclusive():
    err = np.array([1.0, 3.0, 5.0, 12.0, nan])
    assert M.pck(err, [3, 5, 10, 20]) == {3: 0.4, 5: 0.6, 10: 0.6, 20: 0.8}


def test_empty_and_all_missed():
    assert math.isnan(M.detection_rate(np.array([])))
    assert math.isnan(M.mean_error(np.array([nan, nan])))
    assert math.isnan(M.median_error(np.array([])))
    assert M.pck(np.array([nan, nan]), [10]) == {10: 0.0}


def test_nme_with_visibility():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 1.0], [100.0, 0.0]],   # errors 5, 1, 100
                     [[0.0, 2.0], [nan, nan], [0.0, 0.0]]])     # errors 2, NaN, 0
    vis = np.array([[1, 1, 0], [1, 0, 1]])
    # image 0: (5+1)/2 = 3, / norm 10 -> 0.3 ; image 1: (2+0)/2 = 1 (the NaN point is invisible), / 4 -> 0.25
    np.testing.assert_allclose(N.nme(pred, gt, vis, np.array([10.0, 4.0])), [0.3, 0.25])
    # visible=None: every point counts, so image 1 (NaN prediction) becomes NaN.
    out = N.nme(pred, gt, None, np.array([10.0, 4.0]))
    assert out[0] == pytest.approx((5 + 1 + 100) / 3 / 10) and math.isnan(out[1])
    # no visible point -> NaN
    assert math.isnan(N.nme(pred[:1], gt[:1], np.zeros((1, 3)), np.array([1.0]))[0])


def test_interocular_distance_uses_points_36_and_45():
    gt = np.zeros((1, 68, 2))
    gt[0, 36] = [10.0, 20.0]
    gt[0, 45] = [40.0, 60.0]
    gt[0, 39] = [999.0, 999.0]  # inner corner must be ignored
    np.testing.assert_allclose(N.interocular_distance(gt), [50.0])


def test_bbox_diagonal_only_visible_points():
    gt = np.array([[[0.0, 0.0], [6.0, 8.0], [500.0, 500.0]],
                   [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    vis = np.array([[1, 1, 0], [0, 0, 0]])
    out = N.bbox_diagonal(gt, vis)
    assert out[0] == pytest.approx(10.0) and math.isnan(out[1])
    assert N.bbox_diagonal(gt[1:])[0] == pytest.approx(math.sqrt(8))


def test_failure_rate_auc_and_ced():
    nmes = np.array([0.0, 0.05, 0.1, 0.2, nan])
    # failures: 0.2 and NaN (0.1 is not > 0.1)
    assert N.failure_rate(nmes, 0.1) == pytest.approx(0.4)
    # exact AUC: mean of max(0.1 - e, 0) / 0.1 = (1 + 0.5 + 0 + 0 + 0) / 5
    assert N.auc_ced(nmes, 0.1) == pytest.approx(0.3)
    x, y = N.ced_curve(nmes, 0.1, steps=3)
    np.testing.assert_allclose(x, [0.0, 0.05, 0.1])
    np.testing.assert_allclose(y, [0.2, 0.4, 0.6])
    # The trapezoid area of a fine CED approaches the exact AUC.
    x, y = N.ced_curve(nmes, 0.1, steps=100001)
    assert np.trapz(y, x) / 0.1 == pytest.approx(N.auc_ced(nmes, 0.1), abs=1e-4)


def test_nose_summary_block():
    # 3 GT noses: errors 2 and 6 px matched, one miss. Detection 2/3; mean (2+6)/2 = 4; median 4;
    # PCK over all 3 GT: @3 -> 1/3, @10 -> 2/3 (the miss never counts).
    out = M.nose_summary(np.array([2.0, np.nan, 6.0]), [3, 10])
    assert out["n_gt"] == 3
    assert out["detection_rate"] == pytest.approx(2 / 3)
    assert out["mean_px"] == pytest.approx(4.0) and out["median_px"] == pytest.approx(4.0)
    assert out["pck"] == {"3px": pytest.approx(1 / 3), "10px": pytest.approx(2 / 3)}
