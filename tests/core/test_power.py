"""Checks of the power helpers: each MDE against a formula or a Monte-Carlo run made here, the variance splits against
hand-computed layouts and known components, the rule simulation against the rule's nominal level."""

from functools import partial

import numpy as np
import pytest
from scipy import stats as sps

from thermbench.core import power

Z975, Z80 = 1.959964, 0.841621


def test_mde_paired_t_approaches_the_normal_formula_for_large_n():
    # (z_0.975 + z_0.8) * sd / sqrt(n) = 2.801585 * 2 / 100
    assert power.mde_paired_t(2.0, 10_000) == pytest.approx((Z975 + Z80) * 2 / 100, rel=1e-3)


def test_mde_paired_t_has_its_power_in_a_monte_carlo_run():
    mde = power.mde_paired_t(1.0, 5)
    assert isinstance(mde, float)
    x = np.random.default_rng(0).normal(mde, 1.0, size=(20_000, 5))
    t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / np.sqrt(5))
    assert np.mean(np.abs(t) > sps.t.ppf(0.975, 4)) == pytest.approx(0.8, abs=0.02)


def test_mde_paired_t_grows_with_the_level_and_needs_two_values():
    m95, m_holm = power.mde_paired_t(1.0, 5, 0.95), power.mde_paired_t(1.0, 5, 1 - 0.05 / 3)
    assert m_holm > m95
    assert power.mde_paired_t(3.0, 5) == pytest.approx(3 * m95)
    assert power.mde_paired_t(1.0, 2, 1 - 0.05 / 3) > power.mde_paired_t(1.0, 2) > 0    # 1 df: far tails of nct
    assert power.mde_paired_t(1.0, 1) is None
    assert power.mde_paired_t(float("nan"), 5) is None
    with pytest.raises(ValueError):
        power.mde_paired_t(1.0, 5, 0.95, power=0.05)


def test_mde_mean_hand_computed():
    assert power.mde_mean(1.0) == pytest.approx(Z975 + Z80, abs=1e-6)
    # 90%: z_0.95 = 1.644854
    assert power.mde_mean(0.5, 0.90, 0.8) == pytest.approx(0.5 * (1.644854 + Z80), abs=1e-6)


def test_mde_mcnemar_has_its_power_given_the_discordant_count():
    # 200 items, 20% discordant: m = 40 discordant, a_only ~ Binomial(40, p) with p = 1/2 + mde * n / (2 m).
    mde = power.mde_mcnemar(200, 0.2)
    p = 0.5 + mde * 200 / (2 * 40)
    k = np.random.default_rng(1).binomial(40, p, size=20_000)
    p_values = np.minimum(1.0, 2 * sps.binom.cdf(np.minimum(k, 40 - k), 40, 0.5))    # exact two-sided, symmetric
    assert np.mean(p_values < 0.05) == pytest.approx(0.8, abs=0.02)


def test_mde_mcnemar_over_random_discordant_counts():
    # Items drawn as they come (the discordant count varies about 40): the power stays near 0.8.
    n, d = 200, 0.2
    mde = power.mde_mcnemar(n, d)
    p = 0.5 + mde / (2 * d)
    counts = np.random.default_rng(2).multinomial(n, [d * p, d * (1 - p), 1 - d], size=20_000)
    a, b = counts[:, 0], counts[:, 1]
    p_values = np.minimum(1.0, 2 * sps.binom.cdf(np.minimum(a, b), a + b, 0.5))
    assert np.mean(p_values < 0.05) == pytest.approx(0.8, abs=0.04)


def test_mde_mcnemar_limits():
    # Large n: the normal approximation (z_a + z_b) sqrt(discordant / n).
    assert power.mde_mcnemar(20_000, 0.2) == pytest.approx((Z975 + Z80) * np.sqrt(0.2 / 20_000), rel=0.02)
    assert power.mde_mcnemar(200, 0.2, 1 - 0.05 / 3) > power.mde_mcnemar(200, 0.2)
    # 2 discordant items: even 2 to 0 has p = 0.5, so nothing can be detected; 6 to 0 has p = 0.03125.
    assert power.mde_mcnemar(20, 0.1) is None
    assert power.mde_mcnemar(60, 0.1) == pytest.approx(6 * (2 * 0.8 ** (1 / 6) - 1) / 60)


def test_variance_split_hand_computed_2x3():
    # [[1, 2, 3], [3, 4, 8]] (+ a NaN column, dropped): grand 3.5, seed means 2, 5, item means 2, 3, 5.5.
    # MS_seed = 3 (1.5^2 + 1.5^2) / 1 = 13.5; MS_item = 2 (1.5^2 + 0.5^2 + 2^2) / 2 = 6.5;
    # residuals +-[0.5, 0.5, -1] -> MS_res = 3 / 2 = 1.5; seed (13.5 - 1.5) / 3 = 4, item (6.5 - 1.5) / 2 = 2.5.
    split = power.variance_split(np.array([[1.0, 2.0, 3.0, np.nan], [3.0, 4.0, 8.0, 1.0]]))
    assert split["seed"] == pytest.approx(4.0) and split["item"] == pytest.approx(2.5)
    assert split["residual"] == pytest.approx(1.5) and split["clipped"] == []
    assert (split["n_seeds"], split["n_items"]) == (2, 3)
    # over seeds: 4 + 1.5 / 3 = 4.5 (the variance of the seed means 2, 5); over items: (2.5 + 1.5 / 2) / 3
    assert split["var_of_mean_over_seeds"] == pytest.approx(4.5)
    assert split["var_of_mean_over_items"] == pytest.approx(3.25 / 3)


def test_variance_split_clips_negative_components():
    # [[1, 2], [2, 1]]: equal seed and item means, residuals +-0.5 -> MS_res 1; both components -1/2, clipped.
    split = power.variance_split(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert (split["seed"], split["item"], split["residual"]) == (0.0, 0.0, pytest.approx(1.0))
    assert split["clipped"] == ["item", "seed"]
    assert split["var_of_mean_over_seeds"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        power.variance_split(np.array([[1.0, 2.0, 3.0]]))


def test_variance_split_recovers_known_components():
    rng = np.random.default_rng(3)
    s, i = 400, 400
    x = 0.7 + rng.normal(0, 2.0, (s, 1)) + rng.normal(0, 1.0, (1, i)) + rng.normal(0, 0.5, (s, i))
    split = power.variance_split(x)
    assert split["seed"] == pytest.approx(4.0, rel=0.2)
    assert split["item"] == pytest.approx(1.0, rel=0.2)
    assert split["residual"] == pytest.approx(0.25, rel=0.02)
    # Unclipped, the two variances of a mean are those of the seed means and of the item means (/ n_items).
    assert split["var_of_mean_over_seeds"] == pytest.approx(np.var(x.mean(axis=1), ddof=1))
    assert split["var_of_mean_over_items"] == pytest.approx(np.var(x.mean(axis=0), ddof=1) / i)


def test_variance_split_runs_hand_computed():
    # settings x seeds [[1, 2, 4], [2, 4, 5]]: grand 3, setting means 7/3, 11/3, seed means 1.5, 3, 4.5.
    # MS_setting = 3 (4/9 + 4/9) = 8/3; MS_seed = 2 (2.25 + 0 + 2.25) / 2 = 4.5;
    # residuals +-[1/6, -1/3, 1/6] -> MS_res = (1/3) / 2 = 1/6; setting (8/3 - 1/6) / 3 = 5/6, seed (4.5 - 1/6) / 2.
    split = power.variance_split_runs({"b": np.array([2.0, 4.0, 5.0]), "a": np.array([1.0, 2.0, 4.0])})
    assert split["setting"] == pytest.approx(5 / 6) and split["seed"] == pytest.approx(13 / 6)
    assert split["residual"] == pytest.approx(1 / 6)
    assert (split["n_settings"], split["n_seeds"], split["clipped"]) == (2, 3, [])


def test_mde_from_split_trade_offs():
    # No interaction: the seed-level MDE ignores the number of items.
    no_res = {"seed": 1.0, "item": 2.0, "residual": 0.0}
    assert power.mde_from_split(no_res, 5, 10)["mde_seeds"] == power.mde_from_split(no_res, 5, 1000)["mde_seeds"]
    # Interaction only: 4x the items halve the per-seed sd and so the MDE.
    res_only = {"seed": 0.0, "item": 0.0, "residual": 4.0}
    assert power.mde_from_split(res_only, 5, 400)["mde_seeds"] == pytest.approx(
        power.mde_from_split(res_only, 5, 100)["mde_seeds"] / 2)
    # Seeds: 1 / sqrt(n_seeds) once the t quantile has settled.
    mixed = {"seed": 1.0, "item": 2.0, "residual": 3.0}
    assert power.mde_from_split(mixed, 800, 50)["mde_seeds"] == pytest.approx(
        power.mde_from_split(mixed, 200, 50)["mde_seeds"] / 2, rel=0.005)
    row = power.mde_from_split(mixed, 4, 50)
    assert row["sd_seeds"] == pytest.approx(np.sqrt(1 + 3 / 50))
    assert row["mde_seeds"] == pytest.approx(power.mde_paired_t(np.sqrt(1 + 3 / 50), 4))
    assert row["mde_items"] == pytest.approx((Z975 + Z80) * np.sqrt((2 + 3 / 4) / 50), abs=1e-6)


def test_paired_rule_on_hand_made_matrices():
    up = np.array([[1.0, 1.2, 0.8], [0.9, 0.8, 1.0], [1.1, 1.0, 1.2]])
    assert power.paired_rule(up) == 1 and power.paired_rule(-up) == -1
    assert power.paired_rule(up[:1]) == 0                                   # one seed: no interval
    # Seed means 1, 0.9, 1.1 (mean 1, sd 0.1): the 95% half-width is 4.302653 * 0.1 / sqrt(3) = 0.248414, the
    # clearance (1 - 0.248414) / 0.248414 = 3.026 half-widths.
    assert power.paired_rule(up, margin=3.0) == 1 and power.paired_rule(up, margin=3.1) == 0
    # The t interval resolves, but the items disagree (one item far below 0): the bootstrap over items does not.
    split = np.array([[1.0, 1.0, -1.5], [1.1, 1.1, -1.6], [0.9, 0.9, -1.4]])
    assert power.paired_rule(split, bootstrap_check=False) == 1 and power.paired_rule(split) == 0


def test_simulate_rule_level_and_power_of_the_t_rule():
    residuals = np.random.default_rng(4).normal(size=(30, 30))
    t_only = partial(power.paired_rule, bootstrap_check=False)
    curve = power.simulate_rule(t_only, residuals, [0.0, 0.1, 2.0, -2.0], reps=400, seed=0)
    assert curve[0.0] == pytest.approx(0.05, abs=0.04)
    assert curve[2.0] == 1.0 and curve[-2.0] == 1.0
    assert 0.05 < curve[0.1] < 1.0
    # The 90% rule resolves more often under the null.
    assert power.simulate_rule(partial(t_only, level=0.9), residuals, [0.0], 400, 0)[0.0] > curve[0.0]


def test_simulate_rule_bootstrap_and_margin_lower_level_and_power():
    residuals = np.random.default_rng(5).normal(size=(8, 30))
    residuals[:, 0] = np.nan                                                # an item with a missing value: dropped
    effects = [0.0, 0.15]
    rules = [partial(power.paired_rule, bootstrap_check=False), power.paired_rule,
             partial(power.paired_rule, margin=1.03)]
    t_only, boot, margin = (power.simulate_rule(r, residuals, effects, 300, 1) for r in rules)
    for e in effects:
        assert t_only[e] >= boot[e] >= margin[e]
    assert margin[0.15] < boot[0.15]
    assert power.simulate_rule(rules[1], residuals, effects, 300, 1) == boot   # seeded: the same shares


def test_mde_of_rule_against_the_t_test_mde():
    residuals = np.random.default_rng(6).normal(size=(20, 20))
    t_only = partial(power.paired_rule, bootstrap_check=False)
    grid = np.round(np.arange(0.0, 0.41, 0.02), 2).tolist()
    out = power.mde_of_rule(t_only, residuals, grid, reps=300, seed=2)
    # The t test's MDE for the per-seed sd the split measures (0.166 here), within a grid step or so.
    expected = power.mde_from_split(power.variance_split(residuals), 20, 20)["mde_seeds"]
    assert out["mde"] == pytest.approx(expected, abs=0.03)
    assert out["curve"][out["mde"]] >= 0.8 and set(out["curve"]) == set(grid)
    assert power.mde_of_rule(t_only, residuals, [0.0, 0.01], reps=50, seed=2)["mde"] is None


def test_simulate_rule_at_five_seeds_and_with_item_effects():
    # 5 seeds: the null world keeps the t rule at its level (a plain row bootstrap gave about 0.14 here).
    rng = np.random.default_rng(7)
    noise = rng.normal(size=(5, 100))
    t_only = partial(power.paired_rule, bootstrap_check=False)
    assert power.simulate_rule(t_only, noise, [0.0], 400, 3)[0.0] == pytest.approx(0.05, abs=0.04)
    # Heavy-tailed item effects, which the t interval over seeds does not see: its level soars, and the bootstrap
    # over items brings the rule back near its level.
    items = noise + rng.standard_t(3, size=(1, 100))
    assert power.simulate_rule(t_only, items, [0.0], 400, 3)[0.0] > 0.3
    assert power.simulate_rule(power.paired_rule, items, [0.0], 400, 3)[0.0] == pytest.approx(0.05, abs=0.04)


def test_paired_rule_over_settings_counts_each_settings_shift_once():
    """Two settings' re-trainings of 3 seeds, tight within a setting (+1.0 and +0.5): as 6 seeds the t interval
    resolves them, as 2 settings x 3 seeds (Satterthwaite df about 1) it cannot."""
    rows = np.array([1.0, 1.01, 0.99, 0.5, 0.51, 0.49])[:, None] + np.tile([0.0, 0.001, -0.001, 0.0], (6, 1))
    assert power.paired_rule(rows, bootstrap_check=False) == 1
    assert power.paired_rule(rows, bootstrap_check=False, settings=2) == 0
    assert power.paired_rule(np.vstack([rows[:3], rows[:3] + 0.001]), bootstrap_check=False, settings=2) == 1


def test_paired_rule_over_settings_counts_the_margin_in_this_runs_half_widths():
    """This run's 3 seeds at -0.010, -0.011, -0.009 (t half-width 4.303 x 0.001 / sqrt(3) = 0.00248) and two settings
    shifted by +0.003 and -0.003: the crossed interval [-0.0166, -0.0034] lies 0.0034 from 0, 0.505 of its own
    half-widths but 1.351 of this run's, so it clears a margin of 1.03 and not one of 1.4."""
    run = np.array([-0.010, -0.011, -0.009])
    rows = np.concatenate([np.repeat(r[:, None], 4, axis=1) for r in (run, run + 0.003, run - 0.003)])
    assert power.paired_rule(rows, 0.95, False, 1.03, settings=3) == -1
    assert power.paired_rule(rows, 0.95, False, 1.3, settings=3) == -1
    assert power.paired_rule(rows, 0.95, False, 1.4, settings=3) == 0


def test_mde_crossed_without_a_setting_shift_is_the_t_over_seeds():
    assert power.mde_crossed(4.0, 0.0, 0.0, 5, 8) == pytest.approx(power.mde_paired_t(2.0, 8))
    # a shift shared by a setting's seeds: more seeds cannot take the MDE below what the settings allow
    capped = [power.mde_crossed(1e-6, 1e-4, 1e-6, 5, n) for n in (5, 50, 500)]
    assert capped == pytest.approx([power.mde_crossed(0.0, 1e-4, 0.0, 5, 10 ** 6)] * 3, rel=0.01)


def test_simulate_rule_with_a_shift_per_setting():
    """A shift every seed of a setting shares, 25 times a seed's item-mean variance (1 / 50): the t test over one
    setting's seeds
    resolves pure noise most of the time; the crossed test over 5 settings stays near its level."""
    noise = np.random.default_rng(8).normal(size=(5, 50))
    t_only = partial(power.paired_rule, bootstrap_check=False)
    one = power.simulate_rule(t_only, noise, [0.0], 300, 4, settings=1, setting=0.5)
    assert one[0.0] > 0.5
    crossed = partial(power.paired_rule, bootstrap_check=False, settings=5)
    assert power.simulate_rule(crossed, noise, [0.0], 300, 4, seeds=25, settings=5, setting=0.5)[0.0] < 0.1
