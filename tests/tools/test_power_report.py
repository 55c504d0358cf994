"""The power report's parts on hand-made matrices: the claimed pairs, the rules over kernel settings, and one pair's
split, trade-off (with and without the kernel settings' share) and simulated rules."""

import numpy as np
import pytest

from thermbench.core import power
from thermbench.tools.measure.power_report import claimed_pairs, either_block, pair_power, pooled, seed_cost

PARAMS = {"rtmpose": {"ktl_arch": "s", "mcl_arch": "t"},
          "train": {"ktl": {"runs": ["fdld", "dikd"]}, "mcl": {"variants": ["dikd"]}}}


def test_the_claimed_pairs_are_kd_against_supervised_dikd_against_the_others_and_mcl():
    groups = {"ktl-fdld", "ktl-dikd", "supervised-s", "supervised-t", "mcl-dikd", "teacher"}
    assert claimed_pairs(PARAMS, groups) == [("ktl-fdld", "supervised-s"), ("ktl-dikd", "supervised-s"),
                                             ("ktl-dikd", "ktl-fdld"), ("mcl-dikd", "supervised-t")]
    assert claimed_pairs(PARAMS, {"ktl-dikd", "supervised-s"}) == [("ktl-dikd", "supervised-s")]


def test_each_setting_alone_needs_every_setting_in_one_direction():
    rng = np.random.default_rng(0)
    clear = -1.0 + rng.normal(0, 0.01, (4, 6))           # every seed of both settings far below 0
    assert either_block(2, 0.95, 1.03)(clear) == -1
    mixed = np.vstack([clear[:2], -clear[2:]])           # the second setting says the opposite
    assert either_block(2, 0.95, 1.03)(mixed) == 0


def test_seed_cost_is_the_seeded_stages_cpu_over_the_seeds():
    timings = {"machine": {"cores": 2}, "stages": {"supervised@s": {"cpu_s": 600.0}, "ktl@dikd": {"cpu_s": 300.0},
                                                   "teacher": {"cpu_s": 900.0}, "pretrain": {"cpu_s": 300.0},
                                                   "breath_track_student@ktl-0": {"cpu_s": 60.0}}}
    assert seed_cost(timings, 4) == {"cpu_min_per_seed": pytest.approx(960 / 60 / 4), "cpu_min_once": 20.0,
                                     "cores": 2}


def test_one_pair_split_tradeoff_and_rules():
    rng = np.random.default_rng(3)
    diff = rng.normal(0, 0.002, (5, 1)) + rng.normal(0, 0.01, (1, 40)) + rng.normal(0, 0.003, (5, 40)) - 0.001
    got = pair_power(diff, 0.95, 0.06, settings=2, reps=20, seed=0)
    split = power.variance_split(diff)
    assert got["mde_t"] == pytest.approx(power.mde_paired_t(np.sqrt(split["var_of_mean_over_seeds"]), 5, 0.95))
    assert got["mde_share"] == pytest.approx(got["mde_t"] / 0.06)
    row = next(r for r in got["tradeoff"] if r["n_seeds"] == 20 and r["n_items"] == 100)
    assert row == {"n_seeds": 20, "n_items": 100, "mde_seeds": power.mde_from_split(split, 20, 100, 0.95)["mde_seeds"]}
    assert set(got["rules"]) == {"t alone (this run)", "each setting alone", "settings pooled (as published)"}
    assert got["rules"]["settings pooled (as published)"]["runs"] == 10 and got["rules"]["t alone (this run)"][
        "runs"] == 5
    assert all(0 <= r["level"] <= 1 for r in got["rules"].values()) and got["kernel"] is None


def test_the_trade_off_with_the_settings_shift_and_a_teacher_per_seed():
    """A setting's residual over this run's 40 items holds the seed x item part 0.003^2 / 40 (about); at 400 items
    a tenth of it. A teacher per seed moves the shift into each seed's own move: a smaller MDE at any seed count."""
    rng = np.random.default_rng(3)
    diff = rng.normal(0, 0.002, (5, 1)) + rng.normal(0, 0.01, (1, 40)) + rng.normal(0, 0.003, (5, 40)) - 0.001
    kernel = {"seed": 1e-6, "setting": 4e-6, "residual": 2e-6, "settings": ["avx2"], "n_settings": 2, "n_seeds": 5}
    got = pair_power(diff, 0.95, 0.06, settings=5, reps=20, seed=0, kernel=kernel)
    split = power.variance_split(diff)
    row = next(r for r in got["tradeoff"] if r["n_seeds"] == 10 and r["n_items"] == 400)
    residual = max(2e-6 - split["residual"] / 40, 0.0) + split["residual"] / 400
    assert row["mde_published"] == pytest.approx(power.mde_crossed(1e-6, 4e-6, residual, 5, 10, 0.95))
    assert row["mde_once_per_seed"] == pytest.approx(power.mde_crossed(1e-6, 0.0, residual + 4e-6, 5, 10, 0.95))
    assert all(r["mde_once_per_seed"] < r["mde_published"] for r in got["tradeoff"])
    assert got["kernel"] == kernel


def test_the_published_rule_tests_the_settings_runs_as_settings_x_seeds():
    # two settings of three seeds: seed means -1, -1.1, -0.9 far below 0 although the second setting alone is noisy
    first = np.full((3, 4), -1.0) + np.array([[0.0], [-0.1], [0.1]])
    second = first + np.array([[0.05], [-0.05], [0.0]])
    assert pooled(2, 0.95, 1.03)(np.vstack([first, second])) == -1
    assert pooled(2, 0.95, 1.03)(np.vstack([first, -second])) == 0      # they cancel: nothing resolved
