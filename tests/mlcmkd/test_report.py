"""MLCM-KD report: seed statistics, paired intervals, tables and sentences from hand-written metrics dicts."""

import numpy as np
import pytest

from thermbench.mlcmkd import report
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, train_params

SUBSETS = ("high", "mean", "low", "front", "side", "full")


def _settings() -> Settings:
    train = {"device": "cpu", "num_threads": 1, "workers": 1, "seeds": [0, 1, 2], "teacher_epochs": 1,
             "max_train_samples": None,
             "fit": {"epochs": 2, "batch_size": 16},
             "ktl": {"dikd_mode": "text", "runs": ["fdld", "fdld_ri", "dikd"], "variants": {},
                     "weights": {"kp_weight": 0.1, "fm_weight": 1e-3, "lg_weight": 1e-3, "fi_weight": 1e-3,
                                 "ri_weight": 1e-3}},
             "mcl": {"variants": [], "weights": {}}}
    return Settings(seed=0, rtmpose=RTMPoseParams(64, "s", None, "teacher", "s", "t", ("s",)), train=train_params(train))


def _m(kind, arch, nme, variant=None, seed=0, cv=30.0, **extra):
    return {"model": f"{kind}-{variant or arch}-seed{seed}", "kind": kind, "arch": arch, "variant": variant,
            "seed": seed, "teacher_arch": "s", "input_size": 64, "epochs": 2,
            "complexity": {"params_m": 6.79, "gflops": 2.04},
            "tfake": {"nme": nme, "fr@0.1": 0.0, "auc@0.1": 0.5},
            "charlotte": {s: {"nme": 2 * nme} for s in SUBSETS},
            "training": {"grad_norm": {"steps": 50, "std": 1.0, "cv_percent": cv, "mean_abs_step_change": 0.1,
                                       "r2": 0.2}}, **extra}


def _metrics(dikd=(0.10, 0.11, 0.12), fdld=(0.12, 0.14, 0.13), ri_cv=(40.0, 44.0, 42.0)):
    out = {"teacher": _m("teacher", "s", 0.40, tfake_rgb={"nme": 0.05})}
    for s in range(3):
        out[f"supervised-s-seed{s}"] = _m("supervised", "s", 0.10 + 0.01 * s, seed=s)
        out[f"ktl-dikd-seed{s}"] = _m("ktl", "s", dikd[s], "dikd", s)
        out[f"ktl-fdld-seed{s}"] = _m("ktl", "s", fdld[s], "fdld", s, cv=30.0)
        out[f"ktl-fdld_ri-seed{s}"] = _m("ktl", "s", 0.12, "fdld_ri", s, cv=ri_cv[s])
    out["zeroshot-dlib68"] = {"tfake": {"nme": 0.3, "fr@0.1": 0.9, "auc@0.1": 0.01},
                              "charlotte": {s: {"nme": 0.2} for s in SUBSETS}}
    return out


def test_paired_difference_hand_computed():
    # d = [0.1, 0.2, 0.0]: mean 0.1, sd 0.1, half width t(0.975, 2) * 0.1 / sqrt(3) = 4.302653 * 0.0577350
    d = report.paired_difference({0: 0.5, 1: 0.7, 2: 0.6, 5: 9.0}, {0: 0.4, 1: 0.5, 2: 0.6})
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.1)
    assert d["low"] == pytest.approx(0.1 - 0.248414, abs=1e-6) and d["high"] == pytest.approx(0.348414, abs=1e-6)
    single = report.paired_difference({0: 0.5}, {0: 0.4})
    assert single["low"] is None and single["mean"] == pytest.approx(0.1)


def test_mean_sd_uses_the_sample_sd():
    assert report.mean_sd(np.array([1.0, 2.0, 3.0])) == "2.0000 ± 1.0000"
    assert report.mean_sd(np.array([0.5])) == "0.5000"


def test_tables_show_seed_mean_and_sd_and_zero_shot_rows():
    md, summary = report.markdown(report.group_runs(_metrics()), _settings(), "SYNTHETIC data")
    assert "| RTMPose-s (supervised) | 0, 1, 2 | 64x64, 2 ep | 6.79 | 1.02 | 0.1100 ± 0.0100 |" in md
    assert "| dlib68 (zero-shot, no training) | – | no training | n/a | n/a | 0.3000 |" in md
    assert "| Baseline | ✓ | ✓ | ✓ | – | – | 3 | 0.1300 ± 0.0100 | 0.2600 ± 0.0200 |" in md
    assert "Baseline + FI" not in md  # not trained: left out, not invented
    assert "| + L_ri | 3 | 50 | 1.0000 ± 0.0000 | 42.00 ± 2.00 |" in md
    # DIKD - FD+LD per seed: -0.02, -0.03, -0.01 -> mean -0.02, sd 0.01
    assert summary["dikd_minus_fdld_tfake"]["mean"] == pytest.approx(-0.02)
    assert summary["dikd_minus_fdld_tfake"]["high"] == pytest.approx(-0.02 + 0.0248414, abs=1e-6)
    assert "fdld_fi_minus_fdld_tfake" not in summary
    assert "0.1 x 16 / 0.001 = 1600 times" in md


def test_teacher_check_met_and_missed():
    md, summary = report.markdown(report.group_runs(_metrics()), _settings(), "SYNTHETIC data")
    assert summary["teacher_to_student_ratio"] == pytest.approx(0.05 / 0.11)
    assert "NME-IO 0.0500 on the RGB T-FAKE test crops" in md and "0.1100 (mean over 3 seeds)" in md
    assert ": met." in md and "weak" not in md
    metrics = _metrics()
    metrics["teacher"]["tfake_rgb"]["nme"] = 0.09
    md, _ = report.markdown(report.group_runs(metrics), _settings(), "SYNTHETIC data")
    assert "conclusions about distillation from this run are weak" in md


def test_verdict_sentence():
    groups = report.group_runs(_metrics())
    _, summary = report.markdown(groups, _settings(), "x")
    sentence = report.verdict(groups, summary)
    # interval [-0.0448, +0.0048] includes 0; RI CV 42% vs 30%
    assert "not resolved by 3 seeds" in sentence
    assert "RI does not lower the early grad-norm CV (42.0% vs 30.0%" in sentence
    groups = report.group_runs(_metrics(dikd=(0.10, 0.11, 0.12), fdld=(0.15, 0.155, 0.17), ri_cv=(20.0, 21, 22)))
    _, summary = report.markdown(groups, _settings(), "x")
    sentence = report.verdict(groups, summary)
    assert "DIKD beats FD+LD on T-FAKE" in sentence and "RI lowers the early grad-norm CV (21.0% vs 30.0%" in sentence


def test_teacher_curve_line():
    assert report.teacher_curve([0.4, 0.2, 0.19]) == (
        "Teacher validation NME-IO (RGB pretraining set) by validated epoch: 0.4000, 0.2000, 0.1900; the last change "
        "is -5.0% (flattened: the criterion is a last change within ±10%).\n")
    # 0.2 -> 0.17 is -15%: still falling, said in bold
    assert "-15.0% (**still falling" in report.teacher_curve([0.4, 0.2, 0.17])
    assert report.teacher_curve([0.4]) == ""


def test_run_names_are_every_trained_run_in_table_order():
    seeds = ("seed0", "seed1", "seed2")
    assert report.run_names(_settings()) == (
        ["teacher"] + [f"supervised-s-{s}" for s in seeds]
        + [f"ktl-{v}-{s}" for v in ("fdld", "fdld_ri", "dikd") for s in seeds])


def test_table_v_shows_the_first_over_last_grad_norm_ratio_when_given():
    groups = report.group_runs(_metrics())
    assert "First / last" not in report.table_v(groups)
    table = report.table_v(groups, {"ktl-fdld_ri": {0: 4.0, 1: 5.0, 2: 6.0}, "ktl-fdld": {0: 1.0}})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()}
    assert rows["+ L_ri"].endswith("| 5.00 ± 1.00 |") and rows["Baseline (FD+LD)"].endswith("| 1.00 |")
    assert rows["Ours (L_fi + L_ri)"].endswith("| – |")  # no curve for DIKD given


def test_mean_shape_check_counts_students_no_better_than_the_mean_shape():
    pts = np.random.default_rng(0).uniform(0, 50, (68, 2))
    pts[36], pts[45] = (0.0, 0.0), (10.0, 0.0)                             # outer eye corners 10 px apart
    train, val, test = np.stack([pts + (1, 0), pts - (1, 0)]), (pts + (3, 4))[None], pts[None]
    runs = {"teacher": _m("teacher", "s", 0.4), "supervised-s-seed0": _m("supervised", "s", 0.3),
            "ktl-dikd-seed0": _m("ktl", "s", 0.2, "dikd")}
    for name, best in (("teacher", 0.9), ("supervised-s-seed0", 0.6), ("ktl-dikd-seed0", 0.2)):
        runs[name]["training"]["best_val_nme"] = best
    text, summary = report.mean_shape_check(report.group_runs(runs), train, val, test)
    # The mean shape is 5 px (NME 0.5) from the val face and on the test face; the teacher is no student.
    assert summary == {"mean_shape_val_nme": pytest.approx(0.5), "mean_shape_test_nme": pytest.approx(0.0, abs=1e-12),
                       "runs_on_mean_shape_plateau": 1, "student_runs": 2}
    assert "1 of 2 (supervised-s-seed0 0.6000)" in text


def test_initial_weights_line_names_each_start_and_its_methods():
    runs = {"teacher": _m("teacher", "s", 0.4, init=None),
            "supervised-s-seed0": _m("supervised", "s", 0.3, init="teacher backbone"),
            "ktl-dikd-seed0": _m("ktl", "s", 0.2, "dikd", init="teacher backbone"),
            "supervised-t-seed0": _m("supervised", "t", 0.3, init="random"),
            "mcl-dikd": _m("mcl", "t", 0.2, "dikd", init="random")}
    text = report.initial_weights(report.group_runs(runs))
    assert text.startswith("Initial weights: ktl-dikd, supervised-s from the RGB teacher's backbone with a random head")
    assert text.endswith("; mcl-dikd, supervised-t from random weights.\n")
    assert report.initial_weights(report.group_runs({"teacher": runs["teacher"]})) == ""
