"""The pair engine: which test each kind of pair gets, on which items, Holm across the board, and what a not-resolved
pair could have seen, against hand-computed values."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from thermbench.core import power
from thermbench.core.conclusions import KernelCheck, final
from thermbench.core.items import items_text, read_items
from thermbench.core.pairs import Entry, bootstrap_blockers, common_items, compare_board, could_have_seen, paired, pool

ITEMS = [f"i{k}" for k in range(6)]


def series(values, items=ITEMS) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float64), index=items)


def seeded(rows: dict) -> Entry:
    return Entry({s: series(v) for s, v in rows.items()}, True)


def test_two_trained_models_are_paired_by_seed_on_their_item_means():
    a = seeded({0: [1, 1, 1, 1, 1, 1], 1: [2, 2, 2, 2, 2, 2], 2: [3, 3, 3, 3, 3, 4.2]})
    b = seeded({0: [0, 0, 0, 0, 0, 0], 1: [1, 1, 1, 1, 1, 1], 2: [2, 2, 2, 2, 2, 2], 3: [9, 9, 9, 9, 9, 9]})
    test = paired(a, b, lambda v: v, binary=False)
    assert test["unit"] == "seeds" and test["seeds"] == [0, 1, 2]       # seed 3 has no partner
    by_seed = test["diff"].mean(axis=1)
    np.testing.assert_allclose(by_seed, [1.0, 1.0, 1.2])
    assert test["p"] == pytest.approx(sps.ttest_1samp([1.0, 1.0, 1.2], 0).pvalue)


def test_a_trained_model_against_one_run_uses_the_trained_seeds():
    a = seeded({0: [1] * 6, 1: [3] * 6})
    b = Entry({None: series([1, 1, 1, 1, 1, 1])}, False)
    test = paired(b, a, lambda v: v, binary=False)
    assert test["unit"] == "seeds" and test["seeds"] == [0, 1]
    np.testing.assert_allclose(test["diff"].mean(axis=1), [0.0, -2.0])


def test_two_single_runs_with_yes_no_outcomes_get_mcnemar():
    a = Entry({None: series([1, 2, 3, 30, np.nan, 4])}, False)
    b = Entry({None: series([20, 2, np.nan, np.nan, np.nan, 40])}, False)
    test = paired(a, b, lambda v: np.where(np.nan_to_num(v, nan=np.inf) <= 10, 1.0, 0.0), binary=True)
    # A alone found items 0, 2 and 5; B alone none; both item 1: McNemar on 3 against 0
    assert test["unit"] == "items" and list(test["diff"][0]) == [1, 0, 1, 0, 0, 1]
    assert test["p"] == pytest.approx(0.25)


def test_trained_models_of_one_seed_are_compared_over_their_re_trainings():
    a, b = seeded({0: [1, 2, 3, 4, 5, 6]}), seeded({0: [2, 2, 4, 4, 6, 7]})
    test = paired(a, b, lambda v: v, binary=False)
    assert test["unit"] == "retrainings" and list(test["diff"][0]) == [-1, 0, -1, 0, -1, -1]
    assert test["p"] == 1.0                                 # the items alone test nothing about a re-training


def test_a_once_trained_pair_is_open_until_every_setting_re_trained_it_then_tested_over_the_re_trainings():
    a = seeded({0: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    b = Entry({None: series([3.0, 4.0, 5.0, 6.0, 7.0, 8.5])}, False)  # untrained, run once: a's training is unseen
    [st] = compare_board("x.", "NME", {"a": a, "b": b})
    assert not st.resolved and "trained once" in st.why
    assert st.numbers["unit"] == "retrainings" and st.numbers["per_seed"] == [pytest.approx(-12.5 / 6)]
    assert "a lower bound (no re-training seen)" in st.text and st.numbers["mde"] > 0
    settings = {"avx2": [-2.0], "default": [-2.3], "aten_default": [-2.2], "mkl_compatible": [-2.1]}
    [pooled] = compare_board("x.", "NME", {"a": a, "b": b}, replicates=lambda sid: settings)
    runs = [-12.5 / 6, -2.2, -2.0, -2.3, -2.1]               # this run, then the settings by name
    assert pooled.numbers["seed_means"] == pytest.approx(runs) and pooled.numbers["n_retrainings"] == 5
    assert pooled.numbers["p"] == pytest.approx(sps.ttest_1samp(runs, 0).pvalue)
    assert pooled.resolved and pooled.verdict == "a < b"
    assert pooled.numbers["mde"] == pytest.approx(power.mde_paired_t(np.std(runs, ddof=1), 5, 0.95, 0.8))
    assert pooled.numbers["variance"]["retraining"] == pytest.approx(np.var(runs, ddof=1))
    flipped = {**settings, "avx2": [+2.0]}                  # a setting's re-training turned the sign
    [split] = compare_board("x.", "NME", {"a": a, "b": b}, replicates=lambda sid: flipped)
    assert not split.resolved and "re-trainings" in split.numbers["reach"]


def test_continuous_scores_are_compared_on_items_finite_in_every_run():
    a = Entry({None: series([1, np.nan, 3, 4, 5, 6])}, False)
    b = Entry({None: series([1, 2, 3, np.nan, 5, 6])}, False)
    assert list(common_items(a, b, binary=False)) == ["i0", "i2", "i4", "i5"]
    assert len(common_items(a, b, binary=True)) == 6


def test_holm_across_the_board_and_the_reach_of_a_pair_left_open():
    rng = np.random.default_rng(0)
    base = rng.normal(0.06, 0.01, size=(5, 6))
    entries = {"far": seeded({s: base[s] + 0.05 for s in range(5)}),
               "near": seeded({s: base[s] + rng.normal(0.0005, 0.002, 6) for s in range(5)}),
               "ref": seeded({s: base[s] for s in range(5)})}
    found = {s.id: s for s in compare_board("boards.t.", "NME", entries)}
    assert sorted(found) == ["boards.t.far_vs_near", "boards.t.far_vs_ref", "boards.t.near_vs_ref"]
    far = found["boards.t.far_vs_ref"]
    assert far.resolved and far.verdict == "far > ref"
    assert far.numbers["mean"] == pytest.approx(0.05)
    levels = sorted(s.numbers["level"] for s in found.values())
    assert levels == pytest.approx([0.95, 1 - 0.05 / 2, 1 - 0.05 / 3])
    near = found["boards.t.near_vs_ref"]
    assert not near.resolved and "could have seen: minimum detectable effect" in near.text
    sd = np.std(near.numbers["per_seed"], ddof=1)
    assert near.numbers["mde"] == pytest.approx(power.mde_paired_t(sd, 5, near.numbers["level"], 0.8))
    assert set(near.numbers["variance"]) >= {"seed", "item", "residual"}


def test_blocked_rows_block_their_pairs_and_a_row_without_items_is_named():
    a = Entry({0: series([1] * 6), 1: series([1.1] * 6)}, True, ["not converged: a-seed1"])
    b = Entry({0: series([5] * 6), 1: series([5.2] * 6)}, True)
    c = Entry({None: pd.Series(dtype=np.float64)}, False, ["no per-item scores of c"])
    found = {s.id: s for s in compare_board("x.", "NME", {"a": a, "b": b, "c": c})}
    assert "not converged: a-seed1" in found["x.a_vs_b"].why
    assert "no per-item scores of c" in found["x.a_vs_c"].why and "no item both scored" in found["x.a_vs_c"].why


def test_a_row_without_items_stays_out_of_the_holm_family_of_the_pairs_that_can_be_tested():
    a = Entry({None: series([1, 2, 3, 1, 2, 3])}, False)
    b = Entry({None: series([2, 4, 4, 3, 3, 5])}, False)
    c = Entry({None: pd.Series(dtype=np.float64)}, False, ["no per-item scores of c"])
    alone = {s.id: s for s in compare_board("x.", "NME", {"a": a, "b": b})}["x.a_vs_b"]
    found = {s.id: s for s in compare_board("x.", "NME", {"a": a, "b": b, "c": c})}
    tested = found["x.a_vs_b"]
    # differences 1, 2, 1, 2, 1, 2: mean 1.5, sd 0.548 over 6 items; one tested pair, so Holm leaves p as it is
    assert tested.numbers["p_holm"] == tested.numbers["p"] == alone.numbers["p_holm"]
    assert tested.numbers["p"] == pytest.approx(sps.ttest_1samp([1, 2, 1, 2, 1, 2], 0).pvalue)
    assert tested.numbers["level"] == alone.numbers["level"] == 0.95 and tested.resolved
    assert found["x.a_vs_c"].numbers["p_holm"] == 1.0 and not found["x.a_vs_c"].resolved


def test_items_files_round_trip(tmp_path):
    path = tmp_path / "m_items.csv"
    path.write_text(items_text({"tfake": (["a", "b"], np.array([0.5, np.nan])), "charlotte": (["c"], [0.25])}))
    assert path.read_text().splitlines() == ["dataset,item,value", "tfake,a,0.5", "tfake,b,", "charlotte,c,0.25"]
    got = read_items(path, "tfake")
    assert got["a"] == 0.5 and np.isnan(got["b"]) and read_items(path, "thermeval").empty


def test_the_kernel_checks_re_trainings_pool_into_seed_means_and_publish_without_a_veto():
    """This run and every setting's re-training of the same seeds as settings x seeds, the setting's shift and the
    seed's both random (Satterthwaite's t); such a statement stands on its own interval's clearance, not on each
    setting's verdict."""
    rng = np.random.default_rng(2)
    base = rng.normal(0.06, 0.01, (3, 6))
    a = seeded({s: base[s] - 0.004 + rng.normal(0, 0.0005, 6) for s in range(3)})
    b = seeded({s: base[s] for s in range(3)})
    here = paired(a, b, lambda v: v, binary=False)
    settings = {"avx2": [-0.003, -0.005, -0.004], "default": [-0.0045, -0.0035, -0.004]}
    pooled = pool(here, settings)
    means = np.mean([here["diff"].mean(axis=1), settings["avx2"], settings["default"]], axis=0)
    np.testing.assert_allclose(pooled["seed_means"], means)
    x = np.array([here["diff"].mean(axis=1), settings["avx2"], settings["default"]])
    ms_set = 3 * x.mean(axis=1).var(ddof=1)
    ms_seed = 3 * x.mean(axis=0).var(ddof=1)
    ms_res = ((x - x.mean(1, keepdims=True) - x.mean(0) + x.mean()) ** 2).sum() / 4
    var = max(ms_set - ms_res, 0) / 3 / 3 + max(ms_seed - ms_res, 0) / 3 / 3 + ms_res / 9
    assert pooled["crossed"]["se"] == pytest.approx(np.sqrt(var))
    assert pooled["p"] == pytest.approx(2 * sps.t.sf(abs(x.mean()) / np.sqrt(var), pooled["crossed"]["df"]))
    assert pooled["pooled"] == ["avx2", "default"]
    assert pool(here, {"avx2": [-0.003, -0.005]}) is here                  # another number of seeds: not pooled
    [st] = compare_board("x.", "NME", {"a": a, "b": b}, replicates=lambda sid: settings if sid == "x.a_vs_b" else None)
    assert st.numbers["pooled"] == ["avx2", "default"] and st.numbers["mean"] == pytest.approx(means.mean())
    check = KernelCheck({"native": {}, "avx2": {}, "default": {}})
    assert final(st, check) == st                                            # no verdict of a setting needed
    narrow = replace(st, clearance={k: 0.5 for k in st.clearance})
    assert final(narrow, check).verdict == "not resolved"                   # the vendor margin still applies
    assert st.numbers["crossed"] == pooled["crossed"]
    assert could_have_seen(st.numbers, 0.95).startswith("minimum detectable effect ")
    assert "at 3 kernel settings x 3 seeds x 6 items" in could_have_seen(st.numbers, 0.95)
    assert st.numbers["mde"] == pytest.approx(power.mde_t(np.sqrt(var), pooled["crossed"]["df"], 0.95))
    assert KernelCheck({"native": {}, "avx2": {}}, replicates={"avx2": {"x.a_vs_b": [1.0]}}).replicates_of(
        "x.a_vs_b") == {"avx2": [1.0]}
    assert KernelCheck({"native": {}, "avx2": {}, "default": {}},
                       replicates={"avx2": {"x.a_vs_b": [1.0]}}).replicates_of("x.a_vs_b") is None


def test_the_settings_made_so_far_give_the_kernel_share_of_the_variance():
    """Seeds' differences here and under two settings' re-trainings of the same seeds: the settings x seeds split, in
    the statement's variance and its text, before every setting is made (nothing is pooled yet)."""
    rng = np.random.default_rng(3)
    base = rng.normal(0.06, 0.01, (3, 6))
    a = seeded({s: base[s] + rng.normal(0.0, 0.002, 6) for s in range(3)})
    b = seeded({s: base[s] for s in range(3)})
    made = {"avx2": [0.001, -0.002, 0.0005], "default": [0.0, 0.001, -0.001]}
    check = KernelCheck({"native": {}, "avx2": {}, "default": {}, "mkl_compatible": {}},
                        replicates={"avx2": {"x.a_vs_b": made["avx2"]}, "default": {"x.a_vs_b": made["default"]}})
    assert check.replicates_of("x.a_vs_b") is None and check.kernel_runs_of("x.a_vs_b") == made
    [st] = compare_board("x.", "NME", {"a": a, "b": b}, replicates=check.replicates_of,
                         kernel_runs=check.kernel_runs_of)
    here = paired(a, b, lambda v: v, binary=False)["diff"].mean(axis=1)
    x = np.array([here, made["avx2"], made["default"]])           # settings x seeds, this run first
    ms_res = ((x - x.mean(1, keepdims=True) - x.mean(0) + x.mean()) ** 2).sum() / 4
    ms_set = 3 * ((x.mean(1) - x.mean()) ** 2).sum() / 2
    share = st.numbers["variance"]["kernel"]
    assert share["settings"] == ["avx2", "default"] and "pooled" not in st.numbers
    assert share["residual"] == pytest.approx(ms_res)
    assert share["setting"] == pytest.approx(max(0, (ms_set - ms_res) / 3))
    assert "kernel settings (avx2, default)" in st.text
    once = Entry({0: series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])}, True)
    other = Entry({None: series([2.0] * 6)}, False)
    [st1] = compare_board("y.", "NME", {"a": once, "b": other}, kernel_runs=lambda sid: {"avx2": [-0.1]})
    assert st1.numbers["variance"]["kernel"]["across"] == pytest.approx(np.var([1.5, -0.1], ddof=1))


def test_a_bootstrap_interval_blocks_a_difference_where_it_includes_0_or_lies_across_it():
    assert bootstrap_blockers({"mean": 0.1, "low": -0.1, "high": 0.3}, 0.2) == [
        "the test-item bootstrap interval includes 0"]
    assert bootstrap_blockers({"mean": 0.2, "low": 0.1, "high": 0.3}, -0.05, "test-image") == [
        "the test-image bootstrap interval lies on the other side of 0"]
    assert bootstrap_blockers({"mean": -0.2, "low": -0.3, "high": -0.1}, -0.05) == []
