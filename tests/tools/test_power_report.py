"""The power report's parts on hand-made matrices: the claimed pairs, the published rule over kernel settings, and
one pair's split, trade-off and simulated rules."""

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


def test_the_published_rule_needs_every_setting_in_one_direction():
    rng = np.random.default_rng(0)
    clear = -1.0 + rng.normal(0, 0.01, (4, 6))           # every seed of both settings far below 0
    assert either_block(2, 0.95, 1.03)(clear) == -1
    mixed = np.vstack([clear[:2], -clear[2:]])           # the second setting says the opposite
    assert either_block(2, 0.95, 1.03)(mixed) == 0


def test_seed_cost_is_the_seeded_stages_cpu_over_the_seeds():
    timings = {"machine": {"cores": 2}, "stages": {"supervised@s": {"cpu_s": 600.0}, "ktl@dikd": {"cpu_s": 300.0},
                                                   "teacher": {"cpu_s": 900.0},
                                                   "breath_track_student@ktl-0": {"cpu_s": 60.0}}}
    assert seed_cost(timings, 4) == {"cpu_min_per_seed": pytest.approx(960 / 60 / 4), "cores": 2}


def test_one_pair_split_tradeoff_and_rules():
    rng = np.random.default_rng(3)
    diff = rng.normal(0, 0.002, (5, 1)) + rng.normal(0, 0.01, (1, 40)) + rng.normal(0, 0.003, (5, 40)) - 0.001
    got = pair_power(diff, 0.95, 0.06, settings=2, reps=20, seed=0)
    split = power.variance_split(diff)
    assert got["mde_t"] == pytest.approx(power.mde_paired_t(np.sqrt(split["var_of_mean_over_seeds"]), 5, 0.95))
    assert got["mde_share"] == pytest.approx(got["mde_t"] / 0.06)
    row = next(r for r in got["tradeoff"] if r["n_seeds"] == 20 and r["n_items"] == 100)
    assert row == {**power.mde_from_split(split, 20, 100, 0.95), "share_of_reference": row["mde_seeds"] / 0.06}
    assert set(got["rules"]) == {"t alone", "as published", "settings pooled"}
    assert got["rules"]["as published"]["runs"] == 10 and got["rules"]["t alone"]["runs"] == 5
    assert all(0 <= r["level"] <= 1 for r in got["rules"].values())


def test_the_pooled_rule_averages_each_seed_over_the_settings():
    # two settings of three seeds: seed means -1, -1.1, -0.9 far below 0 although the second setting alone is noisy
    first = np.full((3, 4), -1.0) + np.array([[0.0], [-0.1], [0.1]])
    second = first + np.array([[0.05], [-0.05], [0.0]])
    assert pooled(2, 0.95, 1.03)(np.vstack([first, second])) == -1
    assert pooled(2, 0.95, 1.03)(np.vstack([first, -second])) == 0      # they cancel: nothing resolved
