"""Intervals of the sources' rate MAE and the rankings built on them, on hand-computed cases."""

import json

import numpy as np
import pandas as pd
import pytest

from thermbench.breath import ranking as rk
from thermbench.breath import tracks as tr
from thermbench.breath.report import summary_table
from thermbench.core.io import InputError

T_975_1DF = 12.706205  # two-sided 95% t quantile, 1 degree of freedom


def test_bootstrap_weights_draw_n_sequences_per_resample_reproducibly():
    w = rk.bootstrap_weights(4, 50, np.random.default_rng(0))
    assert w.shape == (50, 4) and (w.sum(axis=1) == 4).all()
    assert (w == rk.bootstrap_weights(4, 50, np.random.default_rng(0))).all()


def test_bootstrap_mae_is_the_seed_mean_of_each_seeds_resampled_mae():
    sums = np.array([[2.0, 6.0], [4.0, 0.0]])  # run 0: |errors| 2 | 3, 3 over two sequences; run 1: 2, 2 | 0
    counts = np.array([[1.0, 2.0], [2.0, 1.0]])
    weights = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    # [2, 0]: (4/2 + 8/4) / 2 = 2; [1, 1]: (8/3 + 4/3) / 2 = 2; [0, 2]: (12/4 + 0/2) / 2 = 1.5
    assert rk.bootstrap_mae(sums, counts, weights).tolist() == pytest.approx([2.0, 2.0, 1.5])
    # a resample that leaves a run without a scored window has no value
    assert np.isnan(rk.bootstrap_mae(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])))[0]


def test_percentile_interval_and_quadrature_combination():
    assert rk.percentile_interval(np.r_[np.arange(101.0), np.nan], 0.9) == pytest.approx((5.0, 95.0))
    # half-widths 2 and 0.5 below, 2 and 1 above the point
    assert rk.combine(2.0, (0.0, 4.0), (1.5, 3.0)) == pytest.approx((2 - np.sqrt(4.25), 2 + np.sqrt(5.0)))
    assert rk.combine(2.0, (2.5, 3.0)) == pytest.approx((2.0, 3.0))  # a side that does not reach past the point


def _windows() -> pd.DataFrame:
    """Scene near, sequences s1, s2 (truth 10/min): untrained a errs 1 | 3; trained k, seed 0: 2 (and a window
    without an estimate) | 4, seed 1: 4 | 6. Scene far has no ground truth."""
    rows = [("a", "s1", 11.0), ("a", "s2", 13.0), ("k-seed0", "s1", 12.0), ("k-seed0", "s1", np.nan),
            ("k-seed0", "s2", 6.0), ("k-seed1", "s1", 14.0), ("k-seed1", "s2", 16.0)]
    near = pd.DataFrame(rows, columns=["source", "sequence", "ridge_bpm"]).assign(scene="near", true_bpm=10.0)
    far = near.assign(scene="far", sequence="f1", true_bpm=np.nan)
    return pd.concat([near, far], ignore_index=True)


RUNS = {"k-seed0": {"source": "k", "seed": 0, "converged": True},
        "k-seed1": {"source": "k", "seed": 1, "converged": True}}


def test_mae_intervals_by_hand():
    out = rk.mae_intervals(_windows(), RUNS, rk.ConclusionConfig(resamples=2000), seed=0)
    assert list(out) == ["near"]  # no ground truth in far: nothing to score
    a, k = out["near"]["a"], out["near"]["k"]
    # a: MAE 2 over both sequences; resamples give 1 (s1 twice), 2 or 3 (s2 twice): percentile interval [1, 3]
    assert a["mean"] == pytest.approx(2.0) and a["seeds"] == [] and a["t"] is None
    assert (a["low"], a["high"]) == pytest.approx((1.0, 3.0)) == a["bootstrap"]
    # k: seed MAEs 3 and 5 (mean 4, sd sqrt 2): t interval 4 +- 12.706; resamples give 3, 4 or 5: [3, 5]
    assert k["seed_mae"] == pytest.approx([3.0, 5.0]) and k["seeds"] == [0, 1] and k["runs"] == ["k-seed0", "k-seed1"]
    assert k["t"] == pytest.approx((4 - T_975_1DF, 4 + T_975_1DF)) and k["bootstrap"] == pytest.approx((3.0, 5.0))
    half = np.sqrt(T_975_1DF**2 + 1.0)
    assert (k["low"], k["high"]) == pytest.approx((4 - half, 4 + half))
    # seed 0 alone (MAE 3) looks worse than a (2); over its seeds k is not separable from a
    (statement,) = rk.statements(out, RUNS)
    assert not statement.resolved and "every interval overlaps" in statement.text


def test_a_ranking_separates_only_where_intervals_do_and_is_blocked_by_its_trained_runs():
    def item(mean, low, high, seeds=(), runs=None):
        return {"mean": mean, "low": low, "high": high, "seeds": list(seeds), "runs": runs or []}

    intervals = {"far": {"a": item(1.0, 0.5, 1.5), "b": item(1.2, 0.8, 2.0),
                         "k": item(5.0, 4.0, 6.0, (0, 1), ["k-seed0", "k-seed1"])}}
    (s,) = rk.statements(intervals, RUNS)
    assert s.resolved and s.id == "breath.mae_rank.far" and s.verdict == "a < k; b < k"
    (s,) = rk.statements(intervals, {**RUNS, "k-seed1": {**RUNS["k-seed1"], "converged": False}})
    assert not s.resolved and s.why == "did not converge: k-seed1"
    (s,) = rk.statements(intervals, {**RUNS, "k-seed0": {**RUNS["k-seed0"], "converged": None}})
    assert s.why == "no convergence record: k-seed0"
    intervals["far"]["k"] = item(5.0, 4.0, 6.0, (0,), ["k-seed0"])
    (s,) = rk.statements(intervals, RUNS)
    assert not s.resolved and s.why == "one seed only (no seed spread): k"


def test_convergence_blockers_hook():
    assert rk.convergence_blockers({"x-seed0": True, "x-seed1": True}) == []
    assert rk.convergence_blockers({"b": False, "a": False, "c": None}) == ["did not converge: a, b",
                                                                            "no convergence record: c"]


def test_track_files_name_a_trained_source_by_folder_and_seed(tmp_path):
    for path in ("mediapipe.json", "ktl-dikd/seed10.json", "ktl-dikd/seed2.json", "ktl-dikd/notes.json"):
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text("{}")
    files = tr.list_track_files([tmp_path / "mediapipe.json", tmp_path / "ktl-dikd"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["mediapipe.json", "ktl-dikd/seed2.json",
                                                                  "ktl-dikd/seed10.json"]
    assert [tr.run_name(f) for f in files] == [("mediapipe", "mediapipe", None), ("ktl-dikd-seed2", "ktl-dikd", 2),
                                               ("ktl-dikd-seed10", "ktl-dikd", 10)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no seed<s>.json"):
        tr.list_track_files([tmp_path / "empty"])
    with pytest.raises(InputError, match="no track file or folder"):
        tr.list_track_files([tmp_path / "absent.json"])


def test_training_convergence_is_read_from_the_metrics_and_head_sidecar(tmp_path):
    (tmp_path / "new.json").write_text(json.dumps({"training": {"convergence": {"converged": True}}}))
    (tmp_path / "old.json").write_text(json.dumps({"training": {"best_epoch": 1}}))
    (tmp_path / "main.json").write_text(json.dumps({"seed": 0, "convergence": {"converged": False}}))
    assert tr.training_converged(tmp_path / "new.json") is True and tr.training_converged(tmp_path / "old.json") is None
    assert tr.head_converged(tmp_path / "main.safetensors") is False


def test_summary_gives_a_trained_source_as_seed_mean_and_sd():
    def scores(mae):
        return {"coverage": 1.0, "ridge": {"mae_bpm": mae, "n_windows": 3, "window_coverage": 1.0},
                "welch": {"mae_bpm": mae + 2, "n_windows": 3, "window_coverage": 1.0},
                "peaks": {"mae_bpm": mae + 1, "n_windows": 3, "window_coverage": 1.0}}

    metrics = {"data": "synthetic", "window_s": 30.0, "hop_s": 5.0, "unavailable": {"k-seed2": "not available: x"},
               "not_scored": {"rec": "no truth.csv"},
               "sources": {"a": {"near": scores(2.0)}, "k-seed0": {"near": scores(3.0)},
                           "k-seed1": {"near": scores(5.0)}},
               "runs": {**RUNS, "k-seed2": {"source": "k", "seed": 2, "converged": None}},
               "tracking": {"a": {"outside_frame": 0, "model_frames": 90, "not_tracked": []},
                            "k-seed0": {"outside_frame": 7, "model_frames": 90, "not_tracked": ["rec/p: why", "x"]}}}
    table = summary_table(metrics, {"near": {"k": {"low": -8.75, "high": 16.75}}})
    # MAE ridge 3, 5 -> 4.00 ± 1.41; Welch 5, 7 -> 6.00 ± 1.41; peaks 4, 6 -> 5.00 ± 1.41
    assert ("| k | 0, 1 | near | 4.00 ± 1.41 | [-8.75, 16.75] | 6.00 ± 1.41 | 5.00 ± 1.41 | - | - | - | 1.00 ± 0.00 |"
            in table)
    assert "| a | - | near | 2.00 | - | 4.00 | 3.00 |" in table and "| k-seed2 | - | - | not available: x |" in table
    assert "ground truth is missing (rates estimated, not compared):\n\n- rec: no truth.csv\n" in table
    assert table.endswith("besides finding no face:\n\n"  # a run with nothing to say gets no line
                          "- k-seed0: 7 of 90 model frames put the nostril outside the frame (no point there)\n"
                          "- k-seed0: 2 subject(s) not tracked, e.g. rec/p: why\n")


def test_the_noise_series_is_not_ranked_and_states_where_it_leaves_the_floor():
    def item(mean, low, high):
        return {"mean": mean, "low": low, "high": high, "seeds": [], "runs": []}

    near = {"oracle": item(1.0, 0.8, 1.2), "oracle+1px": item(1.1, 0.9, 1.3), "oracle+2px": item(1.3, 1.1, 1.6),
            "oracle+5px": item(2.0, 1.5, 2.5), "oracle+8px": item(3.0, 2.5, 3.5), "whole_face": item(9.0, 8.0, 10.0)}
    rank, floor = rk.statements({"near": near}, {})
    assert rank.id == "breath.mae_rank.near" and rank.verdict == "oracle < whole_face"
    assert "oracle+" not in rank.text and set(rank.numbers) == {"oracle", "whole_face"}
    # 1 and 2 px overlap [0.8, 1.2]; 5 px [1.5, 2.5] is the first to lie above it
    assert (floor.id, floor.verdict, floor.resolved) == ("breath.floor.near", "5 px", True)
    assert floor.numbers["floor"] == {"mean": 1.0, "low": 0.8, "high": 1.2}
    # no level above the floor's interval: not resolved
    (_, flat) = rk.statements({"near": {"oracle": item(1.0, 0.8, 1.2), "oracle+0.5px": item(1.1, 0.9, 1.3)}}, {})
    assert (flat.verdict, flat.resolved) == ("not resolved", False) and "0.5 px" in flat.why
