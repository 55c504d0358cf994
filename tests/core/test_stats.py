"""Hand-computed checks of the interval helpers: t interval and t test over seeds, Holm across a family, the
bootstrap over test images."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from thermbench.core import stats


def test_t_interval_hand_computed():
    # [1, 3]: mean 2, sd sqrt(2), se sd / sqrt(2) = 1; t(0.975, 1 df) = 12.706205 -> 2 -/+ 12.706205
    mean, low, high = stats.t_interval(np.array([1.0, 3.0]))
    assert mean == 2.0
    assert low == pytest.approx(2 - 12.706205, abs=1e-6) and high == pytest.approx(2 + 12.706205, abs=1e-6)
    # [2, 4, 6]: mean 4, sd 2, se 2 / sqrt(3) = 1.154701; t(0.975, 2 df) = 4.302653 -> half 4.968275
    mean, low, high = stats.t_interval([2.0, 4.0, 6.0])
    assert mean == 4.0
    assert low == pytest.approx(4 - 4.968275, abs=1e-6) and high == pytest.approx(4 + 4.968275, abs=1e-6)


def test_t_interval_at_another_confidence_and_with_one_value():
    # 90%: t(0.95, 1 df) = 6.313752, se 1 -> [2 - 6.313752, 2 + 6.313752]
    _, low, high = stats.t_interval([1.0, 3.0], 0.90)
    assert (low, high) == (pytest.approx(-4.313752, abs=1e-6), pytest.approx(8.313752, abs=1e-6))
    # A single value: its mean, no interval.
    assert stats.t_interval([0.7]) == (0.7, None, None)


def test_t_p_value_hand_computed():
    # [1, 3]: t = 2 / 1 = 2 on 1 df (a Cauchy): p = 2 * (1/2 - atan(2) / pi) = 1 - 2 * 1.107149 / pi = 0.295167
    assert stats.t_p_value(np.array([1.0, 3.0])) == pytest.approx(1 - 2 * math.atan(2) / math.pi)
    assert stats.t_p_value(np.array([1.0, 3.0])) == pytest.approx(0.295167, abs=1e-6)
    # [2, 4, 6]: t = 4 / (2 / sqrt(3)) = 2 sqrt(3), t^2 = 12 on 2 df, where sf(t) = 1/2 - t / (2 sqrt(2 + t^2)):
    # p = 1 - 2 sqrt(3) / sqrt(14) = 1 - 0.925820 = 0.074180; the sign of the mean does not matter (two-sided)
    assert stats.t_p_value([2.0, 4.0, 6.0]) == pytest.approx(0.074180, abs=1e-6)
    assert stats.t_p_value([-2.0, -4.0, -6.0]) == pytest.approx(0.074180, abs=1e-6)


def test_t_p_value_constant_series_and_too_few_values():
    assert stats.t_p_value([0.5, 0.5, 0.5]) == 0.0    # sd 0, mean not 0: certain
    assert stats.t_p_value([-0.25, -0.25]) == 0.0
    assert stats.t_p_value([0.0, 0.0, 0.0]) == 1.0    # sd 0, mean 0: no evidence at all
    assert stats.t_p_value([0.3]) == 1.0              # n < 2
    assert stats.t_p_value([]) == 1.0


def test_holm_adjust_and_levels_of_a_three_p_family():
    p = {"a": 0.01, "b": 0.04, "c": 0.03}
    # Ordered a (0.01), c (0.03), b (0.04); multipliers 3, 2, 1:
    # a 3 x 0.01 = 0.03; c 2 x 0.03 = 0.06; b 1 x 0.04 = 0.04 -> raised to 0.06 (step-down is monotone)
    adj = stats.holm_adjust(p)
    assert adj == {"a": pytest.approx(0.03), "c": pytest.approx(0.06), "b": pytest.approx(0.06)}
    # Levels 1 - 0.05 / (m - rank + 1): a 1 - 0.05/3, c 1 - 0.05/2, b 1 - 0.05/1
    assert stats.holm_levels(p) == {"a": pytest.approx(1 - 0.05 / 3), "c": pytest.approx(0.975),
                                    "b": pytest.approx(0.95)}
    # At alpha 0.10 the level of the smallest p is 1 - 0.10 / 3.
    assert stats.holm_levels(p, alpha=0.10)["a"] == pytest.approx(1 - 0.10 / 3)


def test_holm_adjust_is_monotone_in_p_and_capped_at_one():
    # x 0.6 x 2 = 1.2 -> capped at 1; y 0.7 x 1 = 0.7 -> raised to 1 by monotonicity
    assert stats.holm_adjust({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}
    # y 0.2 x 2 = 0.4; x 0.7 x 1 = 0.7
    assert stats.holm_adjust({"x": 0.7, "y": 0.2}) == {"y": pytest.approx(0.4), "x": pytest.approx(0.7)}
    rng = np.random.default_rng(3)
    p = {f"c{i}": float(v) for i, v in enumerate(rng.uniform(0, 0.5, 7))}
    adj = stats.holm_adjust(p)
    order = sorted(p, key=p.get)
    assert all(adj[a] <= adj[b] for a, b in zip(order, order[1:]))
    assert all(p[n] <= adj[n] <= 1.0 for n in p)
    # One comparison: nothing to correct.
    assert stats.holm_adjust({"only": 0.02}) == {"only": 0.02}
    assert stats.holm_levels({"only": 0.02}) == {"only": pytest.approx(0.95)}


def test_holm_ties_are_ordered_by_name():
    # Equal p: "a" ranks first (multiplier 2), "b" second (1, raised to a's 0.04).
    assert stats.holm_adjust({"b": 0.02, "a": 0.02}) == {"a": pytest.approx(0.04), "b": pytest.approx(0.04)}
    assert stats.holm_levels({"b": 0.02, "a": 0.02}) == {"a": pytest.approx(0.975), "b": pytest.approx(0.95)}


def test_bootstrap_mean_is_seeded_and_its_mean_is_the_array_mean():
    v = np.random.default_rng(1).normal(0.1, 0.02, 40)
    first, again = stats.bootstrap_mean(v, n=500, seed=4), stats.bootstrap_mean(v, n=500, seed=4)
    assert first == again
    assert stats.bootstrap_mean(v, n=500, seed=5) != first
    assert first["mean"] == pytest.approx(float(v.mean()), abs=1e-15)
    assert first["low"] < first["mean"] < first["high"]


def test_bootstrap_mean_of_two_values_hand_computed():
    # Resampling [0, 1] (2 draws): means 0, 0.5, 1 with probability 1/4, 1/2, 1/4. 25% of the 2000 means are 0 and
    # 25% are 1, so the 2.5th and 97.5th percentiles are exactly 0 and 1. sd of the mean: sqrt(0.375 - 0.25) = 0.354
    b = stats.bootstrap_mean(np.array([0.0, 1.0]), seed=0)
    assert b["mean"] == 0.5 and b["low"] == 0.0 and b["high"] == 1.0
    assert b["se"] == pytest.approx(math.sqrt(0.125), abs=0.01)


def test_bootstrap_mean_of_a_constant_array_has_no_width():
    b = stats.bootstrap_mean(np.full(12, 0.25), n=200)
    assert b == {"mean": 0.25, "low": 0.25, "high": 0.25, "se": 0.0}


def test_bootstrap_mean_drops_nans():
    # [1, nan, 3] resamples [1, 3] with the same draws: the same answer; mean 2
    with_nan = stats.bootstrap_mean(np.array([1.0, np.nan, 3.0]), n=300, seed=2)
    assert with_nan == stats.bootstrap_mean(np.array([1.0, 3.0]), n=300, seed=2)
    assert with_nan["mean"] == 2.0
    with pytest.raises(ValueError, match="no finite values"):
        stats.bootstrap_mean(np.array([np.nan, np.nan]))


def test_mcnemar_exact_on_hand_computed_tables():
    # 10 discordant pairs, 8 vs 2: P(X <= 2) = (1 + 10 + 45) / 1024 = 56/1024, two-sided 112/1024 = 0.109375
    assert stats.mcnemar_exact(8, 2) == pytest.approx(0.109375, abs=1e-12)
    assert stats.mcnemar_exact(2, 8) == pytest.approx(0.109375, abs=1e-12)
    # 6 vs 0: 2 / 64 = 0.03125
    assert stats.mcnemar_exact(6, 0) == pytest.approx(0.03125, abs=1e-12)
    assert stats.mcnemar_exact(0, 0) == 1.0


def test_the_crossed_mean_counts_a_shift_shared_by_a_row_once_per_row():
    """Hand-computed: [[1, 2], [3, 8]] has MS_rows 16, MS_columns 9, MS_residual 4, so Var(mean) = (16 + 9 - 4) / 4
    on Satterthwaite's 21^2 / (16^2 + 9^2 + 4^2) degrees of freedom; rows that differ only by a shift are the t
    test over the row means; identical rows, the t test over the column means."""
    mean, se, df = stats.crossed_mean(np.array([[1.0, 2.0], [3.0, 8.0]]))
    assert (mean, se, df) == pytest.approx((3.5, np.sqrt(21 / 4), 441 / 353))
    assert stats.crossed_mean(np.array([[0.0, 0.0], [4.0, 4.0]])) == pytest.approx((2.0, 2.0, 1.0))
    cols = np.array([0.3, -0.1, 0.5, 0.2])
    mean, se, df = stats.crossed_mean(np.stack([cols, cols, cols]))
    assert stats.t_p_value_se(mean, se, df) == pytest.approx(sps.ttest_1samp(cols, 0).pvalue)
    with pytest.raises(ValueError, match="2 x 2"):
        stats.crossed_mean(np.array([[1.0, 2.0]]))
