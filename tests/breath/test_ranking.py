"""Intervals of the sources' rate MAE and the rankings built on them, on hand-computed cases."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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
    # Fewer sequences than the minimum: no interval.
    few = rk.mae_intervals(_windows(), RUNS, replace(CONCLUSIONS, min_sequences=5), seed=0)
    assert few["near"]["a"]["low"] is None and few["near"]["k"]["high"] is None


def _matched_windows() -> pd.DataFrame:
    """Scene near, truth 10/min, two windows (t 0, 5) in each of s1, s2. |errors| (- no rate):
    a: s1 1, 2 | s2 3, -;  b: s1 4, - | s2 5, 6;  c: s1 1, 1 | s2 -, -;
    k seed 0: s1 2, 9 | s2 4, -;  k seed 1: s1 4, - | s2 6, 9 (so k, every seed, has a rate at t 0 only)."""
    errs = {"a": (1, 2, 3, None), "b": (4, None, 5, 6), "c": (1, 1, None, None), "k-seed0": (2, 9, 4, None),
            "k-seed1": (4, None, 6, 9)}
    keys = [("s1", 0.0), ("s1", 5.0), ("s2", 0.0), ("s2", 5.0)]
    rows = [(name, seq, t, np.nan if e is None else 10.0 + e) for name, es in errs.items()
            for (seq, t), e in zip(keys, es)]
    return pd.DataFrame(rows, columns=["source", "sequence", "t_start", "ridge_bpm"]).assign(
        scene="near", subject="p", true_bpm=10.0)


def test_pairs_are_compared_on_the_windows_both_have_a_rate_by_hand():
    out = rk.paired_differences(_matched_windows(), RUNS, replace(CONCLUSIONS, min_sequences=2), seed=0)["near"]
    cover = out["coverage"]
    assert {s: (c["sequences"], c["windows"], c["of_sequences"], c["of_windows"]) for s, c in cover.items()} == {
        "a": (2, 3, 2, 4), "b": (2, 3, 2, 4), "c": (1, 2, 2, 4), "k": (2, 2, 2, 4)}
    assert cover["k"]["seeds"] == [0, 1] and cover["a"]["seeds"] == []
    assert set(out["pairs"]) == {("a", "b"), ("a", "k"), ("b", "k")}  # c: a rate in 1 sequence < 2, not paired
    # a vs b on s1 t0 (1 | 4) and s2 t0 (3 | 5): 2 vs 4.5 (over their own windows a's MAE is 2, b's 5). Resamples:
    # s1 twice -3, s2 twice -2, once each -2.5: the 95% interval is [-3, -2].
    ab = out["pairs"]["a", "b"]
    assert (ab["a"], ab["b"], ab["difference"], ab["sequences"], ab["windows"]) == pytest.approx((2, 4.5, -2.5, 2, 2))
    assert (ab["low"], ab["high"]) == pytest.approx((-3.0, -2.0))
    # a vs k at t 0: a 1 | 3; k seed 0 2 | 4 (MAE 3), seed 1 4 | 6 (MAE 5). Whatever sequences are drawn, a - k is
    # -1 - 2 x (the share of seed 1 among the drawn seeds): -1, -2 or -3, the ends with p = 1/4 each.
    ak = out["pairs"]["a", "k"]
    assert (ak["a"], ak["b"], ak["low"], ak["high"]) == pytest.approx((2.0, 4.0, -3.0, -1.0))
    # one matched sequence short of the minimum: the MAEs, no interval
    three = rk.paired_differences(_matched_windows(), RUNS, replace(CONCLUSIONS, min_sequences=3), seed=0)["near"]
    assert three["pairs"] == {}


def test_a_pair_whose_second_source_errs_less_by_hand():
    """Truth 10/min, one window in each of s1, s2: |errors| a 2 | 8 (MAE 5), b 0.5 | 5.5 (MAE 3). Paired differences
    a - b: 1.5 | 2.5, so a resample's difference is (1.5 n1 + 2.5 n2) / 2 for n1, n2 draws of s1, s2: 1.5 (p 1/4),
    2 (1/2) or 2.5 (1/4), an interval of [1.5, 2.5] and a standard error near 0.5 / sqrt(2) (a's own MAE alone, 2 | 5
    | 8, spreads six times as far). b has the lower MAE: the statement names b first, the difference as b - a."""
    errs = {"a": (2.0, 8.0), "b": (0.5, 5.5)}
    rows = [(name, seq, 0.0, 10.0 + e) for name, es in errs.items() for seq, e in zip(("s1", "s2"), es)]
    windows = pd.DataFrame(rows, columns=["source", "sequence", "t_start", "ridge_bpm"]).assign(
        scene="near", subject="p", true_bpm=10.0)
    cfg = replace(CONCLUSIONS, min_sequences=2)
    paired = rk.paired_differences(windows, {}, cfg, seed=0)
    ab = paired["near"]["pairs"]["a", "b"]
    assert (ab["a"], ab["b"], ab["difference"], ab["low"], ab["high"]) == pytest.approx((5.0, 3.0, 2.0, 1.5, 2.5))
    draws = rk.bootstrap_weights(2, cfg.resamples, np.random.default_rng([0, *b"near"]))  # the scene's draws
    z = stats.norm.ppf(0.5 + cfg.confidence / 2) + stats.norm.ppf(0.8)  # power.mde_mean at 80% power
    assert ab["mde"] == pytest.approx(z * np.std(draws @ [1.5, 2.5] / 2, ddof=1))
    assert ab["mde"] == pytest.approx(z * 0.5 / np.sqrt(2), rel=0.02)
    (statement,) = rk.statements(paired, {}, {}, 2)
    assert statement.verdict == "b < a"
    assert "b 3.00 vs a 5.00 on 2 windows of 2 sequences, difference -2.00 [-2.50, -1.50]" in statement.text


def test_statements_name_coverage_and_the_sources_not_ranked():
    windows = _matched_windows()
    cfg = replace(CONCLUSIONS, min_sequences=2)
    paired = rk.paired_differences(windows, RUNS, cfg, seed=0)
    untrained, trained = rk.statements(paired, rk.mae_intervals(windows, RUNS, cfg, seed=0), RUNS, 2)
    assert (untrained.id, untrained.verdict, untrained.trained) == ("breath.paired.near.untrained", "a < b", False)
    assert untrained.text == (
        "untrained sources by near-scene breath-rate MAE (ridge, lower first): a < b (paired over the windows both "
        "have a rate: a 2.00 vs b 4.50 on 2 windows of 2 sequences, difference -2.50 [-3.00, -2.00]; every other "
        "pair's interval includes 0 or rests on fewer than 2 matched sequences; coverage (windows with a rate): a 2 of "
        "2 sequences, 3 of 4 windows, b 2 of 2 sequences, 3 of 4 windows, c 1 of 2 sequences, 2 of 4 windows; not "
        "ranked, a rate in fewer than 2 sequences: c)")
    assert (trained.id, trained.verdict, trained.resolved) == ("breath.paired.near.trained", "a < k", True)
    assert "a 2.00 vs k 4.00 on 2 windows of 2 sequences, difference -2.00 [-3.00, -1.00]" in trained.text
    assert "k 2 of 2 sequences, 2 of 4 windows, 2 seeds" in trained.text
    assert trained.numbers["pairs"]["a vs k"]["windows"] == 2 and set(trained.numbers["pairs"]) == {"a vs k", "b vs k"}
    # a trained run's trouble blocks the trained statement only
    runs = {**RUNS, "k-seed1": {**RUNS["k-seed1"], "converged": False}}
    again, blocked = rk.statements(paired, {}, runs, 2)
    assert again == untrained and not blocked.resolved and blocked.why == "did not converge: k-seed1"
    assert "coverage (windows with a rate): a 2 of 2 sequences" in blocked.text
    # every source below the minimum: nothing ranked, and the statement says why
    (none,) = [s for s in rk.statements(rk.paired_differences(windows, RUNS, replace(cfg, min_sequences=3), 0), {},
                                        RUNS, 3) if s.id == "breath.paired.near.untrained"]
    assert none.why == "fewer than two sources have a rate in 3 sequences or more"
    assert "not ranked, a rate in fewer than 3 sequences: a, b, c" in none.text


def test_scores_give_each_source_its_own_mae_beside_its_coverage():
    windows = _matched_windows()
    cfg = replace(CONCLUSIONS, min_sequences=2)
    out = rk.scores(rk.mae_intervals(windows, RUNS, cfg, seed=0), rk.paired_differences(windows, RUNS, cfg, seed=0),
                    cfg.min_sequences)["near"]
    # a: |errors| 1, 2 | 3 over its own 3 windows: per sequence 1.5 and 3, MAE (1 + 2 + 3) / 3 = 2; c: 1 sequence
    assert set(out) == {"a", "b", "c", "k"}
    assert (out["a"]["mean"], out["a"]["sequences"], out["a"]["windows"], out["a"]["ranked"]) == pytest.approx(
        (2.0, 2, 3, True))
    assert (out["c"]["mean"], out["c"]["sequences"], out["c"]["of_windows"], out["c"]["ranked"]) == pytest.approx(
        (1.0, 1, 4, False))
    assert out["k"]["seeds"] == [0, 1] and out["b"]["mean"] == pytest.approx(5.0)

def _item(mean, low, high, seeds=(), runs=None, sequences=10):
    return {"mean": mean, "low": low, "high": high, "seeds": list(seeds), "runs": runs or [], "sequences": sequences}


def test_near_sway_on_two_cpus_publishes_one_verdict(monkeypatch):
    """The trained source moved on another CPU and separated one more pair; the untrained ones did not move. The
    published verdicts against one committed kernel check are the same (worked for a vendor margin of 0.25: t <
    whole_face lies 0.5 / 1.25 = 0.4 half-widths from 0)."""
    from thermbench.core import conclusions as cc

    monkeypatch.setattr(cc, "VENDOR_MARGIN", 0.25)

    def scene(t_vs_oracle_low):
        cover = {s: {"sequences": 10, "windows": 30, "of_sequences": 10, "of_windows": 30, "seeds": [],
                     "runs": [s]} for s in ("oracle", "whole_face")}
        cover["t"] = {**cover["oracle"], "seeds": [0, 1, 2], "runs": [f"t-seed{i}" for i in range(3)]}
        pairs = {("oracle", "whole_face"): {"a": 0.2, "b": 5.1, "difference": -4.9, "low": -7.0, "high": -3.0,
                                            "sequences": 10, "windows": 30},
                 ("oracle", "t"): {"a": 0.2, "b": 3.5, "difference": -3.3, "low": t_vs_oracle_low, "high": -0.1
                                   if t_vs_oracle_low < -6 else 0.5, "sequences": 10, "windows": 30},
                 ("t", "whole_face"): {"a": 3.5, "b": 5.1, "difference": -1.6, "low": -3.0, "high": -0.5,
                                       "sequences": 10, "windows": 30}}
        return {"near_sway": {"coverage": cover, "pairs": pairs}}

    runs = {f"t-seed{i}": {"source": "t", "seed": i, "converged": True} for i in range(3)}
    here, there = rk.statements(scene(-6.5), {}, runs, 5), rk.statements(scene(-5.0), {}, runs, 5)
    check = {"aten_default": {s.id: s.verdict for s in there}}
    assert (here[1].verdict, there[1].verdict) == ("oracle < t; t < whole_face", "t < whole_face")
    published = [cc.final(s, check) for s in here]
    assert published[0].verdict == "oracle < whole_face"  # deterministic: as it is
    assert published[1].verdict == "t < whole_face" and "differs across CPU kernels" in published[1].text
    assert [s.verdict for s in published] == [cc.final(s, check).verdict for s in there]


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
    cover = {"coverage": {"k": {"sequences": 6, "of_sequences": 7, "windows": 12, "of_windows": 20}}}
    table = summary_table(metrics, {"near": {"k": {"low": -8.75, "high": 16.75, "sequences": 7},
                                             "a": {"low": None, "high": None, "sequences": 3}}}, {"near": cover})
    # MAE ridge 3, 5 -> 4.00 ± 1.41; Welch 5, 7 -> 6.00 ± 1.41; peaks 4, 6 -> 5.00 ± 1.41
    assert ("| k | 0, 1 | near | 7 | 6 of 7 | 12 of 20 | 4.00 ± 1.41 | [-8.75, 16.75] | 6.00 ± 1.41 | 5.00 ± 1.41 "
            "| - | - | - | "
            "1.00 ± 0.00 |" in table)
    assert "| a | - | near | 3 | - | - | 2.00 | too few sequences | 4.00 | 3.00 |" in table
    assert "| k-seed2 | - | - | not available: x |" in table
    assert "ground truth is missing (rates estimated, not compared):\n\n- rec: no truth.csv\n" in table
    assert table.endswith("besides finding no face:\n\n"  # a run with nothing to say gets no line
                          "- k-seed0: 7 of 90 model frames put the nostril outside the frame (no point there)\n"
                          "- k-seed0: 2 subject(s) not tracked, e.g. rec/p: why\n")


def test_the_noise_series_is_not_ranked_and_states_where_it_leaves_the_floor():
    noisy = _matched_windows().replace({"source": {"c": "oracle+1px"}})
    out = rk.paired_differences(noisy, RUNS, replace(CONCLUSIONS, min_sequences=1), seed=0)["near"]
    assert "oracle+1px" not in out["coverage"] and not any("oracle+1px" in pair for pair in out["pairs"])
    near = {"oracle": _item(1.0, 0.8, 1.2), "oracle+1px": _item(1.1, 0.9, 1.3), "oracle+2px": _item(1.3, 1.1, 1.6),
            "oracle+5px": _item(2.0, 1.5, 2.5), "oracle+8px": _item(3.0, 2.5, 3.5), "whole_face": _item(9.0, 8.0, 10.0)}
    (floor,) = rk.floor_statements({"near": near}, 5)
    # 1 and 2 px overlap [0.8, 1.2]; 5 px [1.5, 2.5] is the first to lie above it, and 8 px lies above too
    assert (floor.id, floor.verdict, floor.resolved, floor.trained) == ("breath.floor.near", "5 px", True, False)
    assert floor.numbers["floor"] == {"mean": 1.0, "low": 0.8, "high": 1.2} and floor.numbers["sequences"] == 10
    assert floor.text.endswith("every larger level above too; n = 10 sequences)")
    # no level above the floor's interval: not resolved
    (flat,) = rk.floor_statements({"near": {"oracle": _item(1.0, 0.8, 1.2), "oracle+0.5px": _item(1.1, 0.9, 1.3)}}, 5)
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
