"""Intervals of the sources' rate MAE and the rankings built on them, on hand-computed cases."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from profile_configs import default_config
from thermbench.breath import ranking as rk
from thermbench.breath import tracks as tr
from thermbench.breath.report import summary_table
from thermbench.core.io import InputError

CONCLUSIONS = default_config("breath.conclusions", rk.ConclusionConfig, {"resamples": 2000})


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
    # the seeds resampled too: run 0 twice, then run 1 twice, then once each -> 2 | 2 (run 1: 8/3 x 0 ...)
    runs = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # [2, 0] with run 0 twice: 4/2 = 2; [1, 1] with run 1 twice: 4/3; [0, 2] once each: (3 + 0) / 2 = 1.5
    assert rk.bootstrap_mae(sums, counts, weights, runs).tolist() == pytest.approx([2.0, 4 / 3, 1.5])
    # a resample that leaves a run without a scored window has no value, unless that run is not drawn
    assert np.isnan(rk.bootstrap_mae(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])))[0]
    no_window = rk.bootstrap_mae(np.array([[1.0, 0.0], [0.0, 3.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]),
                                 np.array([[0.0, 2.0]]), np.array([[0.0, 2.0]]))
    assert no_window.tolist() == [3.0]


def test_percentile_interval():
    assert rk.percentile_interval(np.r_[np.arange(101.0), np.nan], 0.9) == pytest.approx((5.0, 95.0))


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
    out = rk.mae_intervals(_windows(), RUNS, replace(CONCLUSIONS, min_sequences=2), seed=0)
    assert list(out) == ["near"]  # no ground truth in far: nothing to score
    a, k = out["near"]["a"], out["near"]["k"]
    # a: MAE 2 over both sequences; resamples give 1 (s1 twice), 2 or 3 (s2 twice): percentile interval [1, 3]
    assert a["mean"] == pytest.approx(2.0) and a["seeds"] == [] and a["sequences"] == 2
    assert (a["low"], a["high"]) == pytest.approx((1.0, 3.0))
    # k: seed MAEs 3 and 5 (per sequence: seed 0 2 | 4, seed 1 4 | 6). Sequences and seeds both resampled: the
    # extremes, s1 twice with seed 0 twice (2) and s2 twice with seed 1 twice (6), each come with p = 1/16 > 2.5%
    assert k["seed_mae"] == pytest.approx([3.0, 5.0]) and k["seeds"] == [0, 1] and k["runs"] == ["k-seed0", "k-seed1"]
    assert k["mean"] == pytest.approx(4.0) and (k["low"], k["high"]) == pytest.approx((2.0, 6.0))
    # seed 0 alone (MAE 3) looks worse than a (2); over its seeds k is not separable from a
    (untrained_only,) = [s for s in rk.statements(out, RUNS, 2) if s.id == "breath.mae_rank.near.trained"]
    assert not untrained_only.resolved and "every interval overlaps" in untrained_only.text
    assert untrained_only.text.endswith("; n = 2 sequences; seeds: k 2)")
    # Fewer sequences than the minimum: no interval, and every statement says so.
    few = rk.mae_intervals(_windows(), RUNS, replace(CONCLUSIONS, min_sequences=5), seed=0)
    assert few["near"]["a"]["low"] is None and few["near"]["k"]["high"] is None
    (s,) = rk.statements(few, RUNS, 5)
    assert (s.resolved, s.why) == (False, "too few sequences: 2 < 5")
    assert s.text.endswith("(too few sequences: 2 < 5; n = 2 sequences; seeds: k 2)")


def _item(mean, low, high, seeds=(), runs=None, sequences=10):
    return {"mean": mean, "low": low, "high": high, "seeds": list(seeds), "runs": runs or [], "sequences": sequences}


def test_untrained_and_trained_statements_apart_and_blocked_only_by_trained_runs():
    intervals = {"far": {"a": _item(1.0, 0.5, 1.5), "b": _item(1.2, 0.8, 2.0), "c": _item(4.0, 3.0, 5.0),
                         "k": _item(5.0, 4.0, 6.0, (0, 1), ["k-seed0", "k-seed1"])}}
    fixed, s = rk.statements(intervals, RUNS, 5)
    assert (fixed.id, fixed.verdict, fixed.trained) == ("breath.mae_rank.far.untrained", "a < c; b < c", False)
    assert fixed.text.endswith("; n = 10 sequences)")
    assert s.resolved and s.id == "breath.mae_rank.far.trained" and s.verdict == "a < k; b < k" and s.trained
    assert s.text.endswith("; n = 10 sequences; seeds: k 2)")
    fixed2, s = rk.statements(intervals, {**RUNS, "k-seed1": {**RUNS["k-seed1"], "converged": False}}, 5)
    assert not s.resolved and s.why == "did not converge: k-seed1"
    assert fixed2 == fixed  # a trained run's trouble never touches the untrained ranking
    _, s = rk.statements(intervals, {**RUNS, "k-seed0": {**RUNS["k-seed0"], "converged": None}}, 5)
    assert s.why == "no convergence record: k-seed0"
    intervals["far"]["k"] = _item(5.0, 4.0, 6.0, (0,), ["k-seed0"])
    _, s = rk.statements(intervals, RUNS, 5)
    assert not s.resolved and s.why == "one seed only (no seed spread): k"


def test_near_sway_on_two_cpus_publishes_one_verdict():
    """The trained sources moved on another CPU and separated more pairs; the untrained ones did not move. The
    published verdicts against one committed kernel check are the same."""
    from thermbench.core import conclusions as cc

    untrained = {"oracle": _item(0.15, 0.04, 0.26), "fixed_roi": _item(6.09, 2.79, 9.38),
                 "mediapipe": _item(3.01, 2.74, 3.28), "whole_face": _item(5.10, 2.94, 7.26)}
    seeds = ((0, 1, 2), ["t-seed0", "t-seed1", "t-seed2"])
    runs = {f"t-seed{i}": {"source": "t", "seed": i, "converged": True} for i in range(3)}
    here = {"near_sway": {**untrained, "t": _item(3.53, 0.05, 7.01, *seeds)}}
    other = {"near_sway": {**untrained, "t": _item(4.30, 3.40, 5.20, *seeds)}}  # now above the oracle too
    statements_here, statements_there = rk.statements(here, runs, 5), rk.statements(other, runs, 5)
    check = {"native": {s.id: s.verdict for s in statements_here}, "aten_default": {s.id: s.verdict
                                                                                      for s in statements_here}}
    published_here = [cc.final(s, check) for s in statements_here]
    published_there = [cc.final(s, check) for s in statements_there]
    assert [(s.id, s.verdict) for s in published_here] == [(s.id, s.verdict) for s in published_there]
    assert published_here[0].verdict == "oracle < fixed_roi, mediapipe, whole_face"
    assert statements_there[1].verdict == "mediapipe < t; oracle < t" and published_there[1].verdict == "not resolved"


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
    table = summary_table(metrics, {"near": {"k": {"low": -8.75, "high": 16.75, "sequences": 7},
                                             "a": {"low": None, "high": None, "sequences": 3}}})
    # MAE ridge 3, 5 -> 4.00 ± 1.41; Welch 5, 7 -> 6.00 ± 1.41; peaks 4, 6 -> 5.00 ± 1.41
    assert ("| k | 0, 1 | near | 7 | 4.00 ± 1.41 | [-8.75, 16.75] | 6.00 ± 1.41 | 5.00 ± 1.41 | - | - | - | "
            "1.00 ± 0.00 |" in table)
    assert "| a | - | near | 3 | 2.00 | too few sequences | 4.00 | 3.00 |" in table
    assert "| k-seed2 | - | - | not available: x |" in table
    assert "ground truth is missing (rates estimated, not compared):\n\n- rec: no truth.csv\n" in table
    assert table.endswith("besides finding no face:\n\n"  # a run with nothing to say gets no line
                          "- k-seed0: 7 of 90 model frames put the nostril outside the frame (no point there)\n"
                          "- k-seed0: 2 subject(s) not tracked, e.g. rec/p: why\n")


def test_the_noise_series_is_not_ranked_and_states_where_it_leaves_the_floor():
    near = {"oracle": _item(1.0, 0.8, 1.2), "oracle+1px": _item(1.1, 0.9, 1.3), "oracle+2px": _item(1.3, 1.1, 1.6),
            "oracle+5px": _item(2.0, 1.5, 2.5), "oracle+8px": _item(3.0, 2.5, 3.5), "whole_face": _item(9.0, 8.0, 10.0)}
    rank, floor = rk.statements({"near": near}, {}, 5)
    assert rank.id == "breath.mae_rank.near.untrained" and rank.verdict == "oracle < whole_face"
    assert "oracle+" not in rank.text and set(rank.numbers) == {"oracle", "whole_face"}
    # 1 and 2 px overlap [0.8, 1.2]; 5 px [1.5, 2.5] is the first to lie above it, and 8 px lies above too
    assert (floor.id, floor.verdict, floor.resolved, floor.trained) == ("breath.floor.near", "5 px", True, False)
    assert floor.numbers["floor"] == {"mean": 1.0, "low": 0.8, "high": 1.2} and floor.numbers["sequences"] == 10
    assert floor.text.endswith("every larger level above too; n = 10 sequences)")
    # no level above the floor's interval: not resolved
    (_, flat) = rk.statements({"near": {"oracle": _item(1.0, 0.8, 1.2), "oracle+0.5px": _item(1.1, 0.9, 1.3),
                                        "fixed": _item(2.0, 1.0, 3.0)}}, {}, 5)
    assert (flat.verdict, flat.resolved) == ("not resolved", False) and "0.5 px" in flat.why


def test_a_floor_that_is_not_monotone_is_not_resolved():
    # The far scene's shape: 1 px above the floor, 2 px back within it, 5 px above, 8 px within again.
    far = {"oracle": _item(2.30, 1.30, 3.95), "oracle+1px": _item(6.12, 4.00, 9.45),
           "oracle+2px": _item(3.59, 2.97, 4.45), "oracle+5px": _item(5.91, 3.967, 8.37),
           "oracle+8px": _item(6.46, 2.72, 7.86)}
    (floor,) = rk.floor_statements({"far": far}, 5)
    assert (floor.verdict, floor.resolved) == ("not resolved", False)
    assert floor.why == "not monotone: 1 px lies above the floor's interval, 2 px, 8 px within it again"
    # Above from 5 px on, but 8 px back within: the smallest separating level alone would have said "5 px".
    far["oracle+1px"] = _item(2.5, 1.5, 3.5)
    (floor,) = rk.floor_statements({"far": far}, 5)
    assert floor.why == "not monotone: 5 px lies above the floor's interval, 8 px within it again"
    # Too few sequences: not resolved, whatever the intervals.
    (floor,) = rk.floor_statements({"far": {k: {**v, "sequences": 3} for k, v in far.items()}}, 5)
    assert floor.why == "too few sequences: 3 < 5"
    assert floor.text.endswith("(too few sequences: 3 < 5; n = 3 sequences)")
