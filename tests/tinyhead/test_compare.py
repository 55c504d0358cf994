"""TinyHead vs a zero-shot model (src/thermbench/tinyhead/compare.py): the intervals and the statements, by hand."""

import numpy as np
import pandas as pd
import pytest

from thermbench.core import power, stats
from thermbench.tinyhead import compare as C
from thermbench.zeroshot.evaluate import crop_metrics


def test_zeroshot_crop_errors_score_as_the_zero_shot_stage():
    # box 128 x 64 -> a 256 crop scales x by 2 and y by 4: a (1, 1) frame px miss is sqrt(2^2 + 4^2) crop px
    records = [{"sample_id": "a", "split": "test", "gt": [10.0, 20.0], "pred": [11.0, 21.0], "box": [0, 0, 128, 64]},
               {"sample_id": "b", "split": "test", "gt": [10.0, 20.0], "pred": None, "box": [0, 0, 128, 64]},
               {"sample_id": "c", "split": "test", "gt": [50.0, 5.0], "pred": [47.0, 5.0], "box": [3, 1, 64, 64]}]
    errors = C.zeroshot_crop_errors(records, 256)
    assert errors["a"] == pytest.approx(np.sqrt(20.0)) and np.isnan(errors["b"]) and errors["c"] == pytest.approx(12.0)
    # the same numbers as the zero-shot stage's own crop metrics
    assert crop_metrics(records, 256, [10])["crop_px"]["mean_px"] == pytest.approx(np.nanmean(errors.to_numpy()))


def head_and_zeroshot():
    """3 seeds x 4 crops of TinyHead errors and a zero-shot model that found 3 of the 4 crops."""
    head = pd.DataFrame([[2.0, 2.0, 2.0, 2.0], [2.1, 2.1, 2.1, 2.1], [1.9, 1.9, 1.9, 1.9]], index=[0, 1, 2],
                        columns=["a", "b", "c", "d"])
    zeroshot = pd.Series({"a": 10.0, "b": 12.0, "c": np.nan, "d": 14.0, "z": 1.0})  # "z": not a TinyHead test crop
    return head, zeroshot


def test_versus_on_the_crops_both_ran():
    mean, pck = C.versus("dlib68", *head_and_zeroshot(), blockers=[])
    # mean error on a, b, d: seeds 2.0, 2.1, 1.9 minus 12 -> -10, -9.9, -10.1 (t half width 4.302653 x 0.1 / sqrt 3 =
    # 0.248); per crop 2 - (10, 12, 14) = -8, -10, -12 -> a bootstrap interval inside [-12, -8]: both below 0
    assert mean.id == "head.vs_dlib68.mean_crop_px" and "on the 3 test crops dlib68 found" in mean.claim
    assert mean.verdict == "TinyHead < dlib68" and mean.resolved
    assert mean.numbers["mean"] == pytest.approx(-10.0)
    assert mean.numbers["per_seed"] == pytest.approx([-10, -9.9, -10.1])
    assert mean.numbers["seed_interval"] == pytest.approx([-10.248414, -9.751586])
    assert -12 <= mean.numbers["crop_interval"][0] <= mean.numbers["crop_interval"][1] <= -8
    assert mean.numbers["low"] == min(mean.numbers["crop_interval"][0], -10.248414)  # the hull of the two
    # PCK@10 over a-d, a miss failing: TinyHead hits all (100), the zero-shot only a (10 <= 10): 100, 0, 0, 0 -> 25;
    # every seed is 75 points ahead (t interval [75, 75]); per crop 0, 100, 100, 100: P(resample mean <= 25) = 5% >
    # 2.5% but P(mean = 0) = 0.4% < 2.5%, so the crop interval starts at 25 points
    assert pck.id == "head.vs_dlib68.pck10_crop_px" and pck.verdict == "TinyHead > dlib68"
    assert pck.numbers["seed_interval"] == [75.0, 75.0] and pck.numbers["crop_interval"][0] == 25.0


def convergence_block() -> dict:
    """The metrics' convergence block of 5 runs: main and n40_s0 failed to train, sweep_stage1+stage2_s0 reached its
    cap, n10_s0 and main_s1 converged."""
    failed = {"converged": False, "failed_to_train": True}
    capped = {"converged": False, "failed_to_train": False}
    ok = {"converged": True, "failed_to_train": False}
    runs = {"main": failed, "main_s1": ok, "n10_s0": ok, "n40_s0": failed, "sweep_stage1+stage2_s0": capped}
    return {"runs": runs, "not_converged": ["main", "n40_s0", "sweep_stage1+stage2_s0"]}


def test_unconverged_runs_split_into_those_the_statements_rest_on_and_the_others():
    # main and the sweep runs carry the comparison; the label-curve head n40_s0 does not; failures are named
    assert C.unconverged_runs(convergence_block()) == (["main (failed to train)", "sweep_stage1+stage2_s0"],
                                                       ["n40_s0 (failed to train)"])
    assert C.convergence_blockers(convergence_block()) == [
        "TinyHead run(s) not converged: main (failed to train), sweep_stage1+stage2_s0"]
    assert C.convergence_blockers({"runs": {"n10_s0": {"converged": False}}, "not_converged": ["n10_s0"]}) == []


def test_versus_is_blocked_by_unconverged_runs_and_needs_seeds():
    blockers = C.convergence_blockers(convergence_block())
    head, zeroshot = head_and_zeroshot()
    assert not any(s.resolved for s in C.versus("dlib68", head, zeroshot, blockers))
    one_seed = C.versus("dlib68", head.iloc[:1], zeroshot, [])[0]
    assert not one_seed.resolved and one_seed.why == "too few runs for an interval"
    none_found = C.versus("dlib68", head, zeroshot * np.nan, [])[0]
    assert not none_found.resolved and "0 paired test crop(s)" in none_found.why



def test_an_open_comparison_says_what_it_could_have_seen():
    """Neither the seeds' t interval nor the crops' bootstrap separates 0: the statement carries the larger of the two
    tests' minimum detectable effects (the hull needs both) and the seeds x crops variance split."""
    head = np.array([[1.0, 3.0, 2.0, 4.0], [2.0, 2.0, 3.0, 3.0], [1.5, 2.5, 2.5, 3.5]])
    zeroshot = np.array([2.0, 3.0, 2.5, 3.0])
    st = C.separated("head.x", "TinyHead vs z", "z", head, zeroshot, " px", [])
    assert st.verdict == "not resolved" and "could have seen: minimum detectable effect" in st.text
    per_seed = head.mean(axis=1) - zeroshot.mean()
    boot = stats.bootstrap_mean(head.mean(axis=0) - zeroshot, C.BOOTSTRAP_RESAMPLES, C.BOOTSTRAP_SEED,
                                C.LEVEL)
    expected = max(power.mde_paired_t(per_seed.std(ddof=1), 3, C.LEVEL), power.mde_mean(boot["se"], C.LEVEL))
    assert st.numbers["mde"] == pytest.approx(expected)
    assert st.numbers["variance"]["n_seeds"] == 3 and st.numbers["variance"]["n_items"] == 4
