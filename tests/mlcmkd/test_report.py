"""MLCM-KD report from hand-written metrics dicts: seed statistics, the tables, Holm families over seeds, the bootstrap
over test images, convergence and mean-shape blockers, rank orders, statements with a kernel check."""

import copy

import numpy as np
import pandas as pd
import pytest

from thermbench.core import pairs, power
from thermbench.core.conclusions import difference
from thermbench.mlcmkd import report
from thermbench.mlcmkd import report_markdown as rm
from thermbench.mlcmkd import report_statements as rs
from thermbench.mlcmkd import report_tables as rt
from thermbench.mlcmkd.settings import RTMPoseParams, Settings, train_params

SUBSETS = ("high", "mean", "low", "front", "side", "full")
CRITERION = "no validation improvement larger than 2% over the last 3 validations"
# T-FAKE NME-IO per student seed 0..4. Paired differences against FD+LD:
FDLD = (0.130, 0.140, 0.135, 0.145, 0.150)
D_DIKD = (-0.02, -0.03, -0.02, -0.03, -0.025)   # mean -0.025, sd 0.005
D_RI = (0.0, 0.03, 0.01, 0.02, 0.015)           # mean +0.015, sd 0.0111803: se 0.005, t = 3 exactly
D_FI = (0.002, -0.002, 0.001, -0.001, 0.0)      # mean 0, sd 0.0015811
SUP_S = (0.15, 0.16, 0.17, 0.18, 0.19)          # mean 0.17, sd 0.0158114
SUP_T = (0.20, 0.22, 0.21, 0.23, 0.24)
MCL = (0.19, 0.20, 0.20, 0.22, 0.23)
SHARES = {"supervised": {"start": {"kp": 1.0}, "end": {"kp": 1.0}},
          "ktl": {"start": {"kp": 0.4, "fm": 0.3, "lg": 0.2, "fi": 0.1}, "end": {"kp": 0.7, "fm": 0.1, "lg": 0.2}}}


VARIANTS = {"fd": {"fd": True}, "ld": {"ld": True}, "fdld": {"fd": True, "ld": True},
            "fdld_ri": {"fd": True, "ld": True, "ri": True}, "fdld_fi": {"fd": True, "ld": True, "fi": True},
            "dikd": {"fd": True, "ld": True, "fi": True, "ri": True}}
KTL = train_params({"device": "cpu", "num_threads": 1, "run_threads": 1, "workers": 1, "seeds": [0],
                    "teacher_epochs": 1,
                    "max_train_samples": None, "fit": {"epochs": 1, "batch_size": 1}, "kp_weight": 0.1,
                    "kp_reference_batch": None, "scratch": {}, "scratch_seeds": [],
                    "ktl": {"dikd_mode": "text", "runs": [], "variants": VARIANTS, "weights": {}},
                    "mcl": {"variants": [], "weights": {}}}).ktl


def _settings(seeds=(0, 1, 2, 3, 4)) -> Settings:
    train = {"device": "cpu", "num_threads": 1, "run_threads": 1, "workers": 1, "seeds": list(seeds),
             "teacher_epochs": 40,
             "max_train_samples": None, "fit": {"epochs": 30, "batch_size": 16, "share_batches": 2},
             "kp_weight": 0.1, "kp_reference_batch": 64, "scratch": {"supervised": ["s"], "ktl": ["dikd"]},
             "scratch_seeds": [0, 1],
             "ktl": {"dikd_mode": "text", "runs": ["fdld", "fdld_ri", "fdld_fi", "dikd"], "variants": VARIANTS,
                     "weights": {}},
             "mcl": {"variants": ["dikd"], "weights": {}}}
    return Settings(seed=0, rtmpose=RTMPoseParams(64, "s", None, "pretrained", ("t",), "s", "t", ("s", "t"), {}, ""),
                    train=train_params(train), data={"tfake": "synthetic", "charlotte": "synthetic"})


def _m(kind, arch, nme, variant=None, seed=0, cv=30.0, converged=True, scratch=False, init=None, **extra):
    """One run's metrics as `evaluate.score_run` writes them, `training` as `runs._finish` summarises `train._fit`."""
    name = kind if kind in ("teacher", "pretrain") else f"{kind}-{variant or arch}{'-scratch' if scratch else ''}"
    name = f"{name}-{arch}" if kind == "pretrain" else name if kind == "teacher" else f"{name}-seed{seed}"
    return {"model": name, "kind": kind, "arch": arch, "variant": variant, "seed": seed, "teacher_arch": "s",
            "input_size": 64, "epochs": 30,
            "init": init or ("random" if scratch else "pretrained backbone"),
            "complexity": {"params_m": 6.79, "gflops": 2.04},
            "tfake": {"nme": nme, "fr@0.1": 0.0, "auc@0.1": 0.5},
            "charlotte": {s: {"nme": 2 * nme} for s in SUBSETS},
            "training": {"convergence": {"converged": converged, "criterion": CRITERION, "epochs_run": 12,
                                         "epoch_cap": 30, "best_epoch": 9, "lr_drop_epochs": [6]},
                         "epochs_run": 12, "best_epoch": 9, "best_val_nme": nme,
                         "gradient_shares": copy.deepcopy(SHARES.get(kind, SHARES["ktl"])),
                         "grad_norm": {"steps": 50, "std": 1.0, "cv_percent": cv, "mean_abs_step_change": 0.1,
                                       "r2": 0.2},
                         "grad_norm_after_warmup": {"steps": "11-50", "std": 0.5, "cv_percent": cv / 2,
                                                    "mean_abs_step_change": 0.1, "r2": 0.1}},
            **extra}


def _metrics(variants=("fdld", "fdld_ri", "fdld_fi", "dikd"), ri_cv=(40.0, 44.0, 42.0, 42.0, 42.0)) -> dict:
    ktl = {"fdld": FDLD, "dikd": np.add(FDLD, D_DIKD), "fdld_ri": np.add(FDLD, D_RI),
           "fdld_fi": np.add(FDLD, D_FI)}
    out = {"teacher": _m("teacher", "s", 0.40, tfake_rgb={"nme": 0.05}),
           "pretrain-t": _m("pretrain", "t", 0.5, tfake_rgb={"nme": 0.08})}
    for s in range(5):
        out[f"supervised-s-seed{s}"] = _m("supervised", "s", SUP_S[s], seed=s)
        out[f"supervised-t-seed{s}"] = _m("supervised", "t", SUP_T[s], seed=s)
        for v in variants:
            out[f"ktl-{v}-seed{s}"] = _m("ktl", "s", float(ktl[v][s]), v, s, cv=ri_cv[s] if v == "fdld_ri" else 30.0)
        out[f"mcl-dikd-seed{s}"] = _m("mcl", "t", MCL[s], "dikd", s)
    for s, (sup, dikd) in enumerate(((0.30, 0.25), (0.32, 0.29))):  # the from-scratch pair, scratch seeds 0, 1
        out[f"supervised-s-scratch-seed{s}"] = _m("supervised", "s", sup, seed=s, scratch=True)
        out[f"ktl-dikd-scratch-seed{s}"] = _m("ktl", "s", dikd, "dikd", s, scratch=True)
    out["zeroshot-dlib68"] = {"tfake": {"nme": 0.3, "fr@0.1": 0.9, "auc@0.1": 0.01},
                              "charlotte": {s: {"nme": 0.2} for s in SUBSETS}}
    return out


def _rows(md: str) -> dict[str, str]:
    """Table lines by their first cell (the last table wins where a label repeats)."""
    return {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}


def _by_id(statements) -> dict:
    return {s.id: s for s in statements}


def _shapes(test_shift=(0.0, 0.0)):
    """Training crops whose mean shape is `pts`, outer eye corners (36, 45) 10 px apart; val 5 px off (NME 0.5)."""
    pts = np.random.default_rng(0).uniform(0, 50, (68, 2))
    pts[36], pts[45] = (0.0, 0.0), (10.0, 0.0)
    return np.stack([pts + (1, 0), pts - (1, 0)]), (pts + (3, 4))[None], (pts + test_shift)[None]


# ------------------------------------------------------------------------------------------------- cells and tables


def test_mean_sd_uses_the_sample_sd():
    assert rt.mean_sd(np.array([1.0, 2.0, 3.0])) == "2.0000 ± 1.0000"
    assert rt.mean_sd(np.array([0.5])) == "0.5000"
    assert rt.mean_sd([40.0, 44.0, 42.0], 2) == "42.00 ± 2.00"


def test_table_i_rows_with_seeds_epochs_convergence_and_zero_shot():
    metrics = _metrics()
    metrics["ktl-dikd-seed3"]["training"]["convergence"]["converged"] = False
    rows = _rows(rt.table_i(rt.group_runs(metrics)))
    # SUP_S: mean 0.17, sd 0.0158; GMACs = 2.04 GFLOPs / 2; CHARLOTTE = 2 x T-FAKE; no per-image NMEs: SE n/a
    assert rows["RTMPose-s (supervised)"] == (
        "| RTMPose-s (supervised) | 0, 1, 2, 3, 4 | 12 (9), 12 (9), 12 (9), 12 (9), 12 (9) | 5/5 | 6.79 | 1.02 | "
        "0.1700 ± 0.0158 | n/a | " + " | ".join(["0.3400 ± 0.0316"] * 6) + " | 0.0000 ± 0.0000 | 0.5000 ± 0.0000 |")
    assert rows["dlib68 (zero-shot, no training)"].startswith(
        "| dlib68 (zero-shot, no training) | – | – | – | n/a | n/a | 0.3000 | n/a | 0.2000 |")
    assert "| 4/5 |" in rows["KTL dikd: RTMPose-s -> RTMPose-s"]
    # The from-scratch pair: scratch seeds 0, 1; supervised 0.30, 0.32 -> 0.3100 ± 0.0141
    assert rows["RTMPose-s (supervised) from random weights"].startswith(
        "| RTMPose-s (supervised) from random weights | 0, 1 | 12 (9), 12 (9) | 2/2 | 6.79 | 1.02 | 0.3100 ± 0.0141 |")
    assert "KTL dikd: RTMPose-s -> RTMPose-s from random weights" in rows
    assert "MCL from ktl-dikd: RTMPose-s -> RTMPose-t" in rows
    assert "pretrain" not in "".join(rows)  # the backbone sources are no Table I method


def test_table_i_puts_a_submission_last_marked_and_untrained():
    metrics = _metrics()
    metrics["submission-mine"] = {"model": "submission-mine", "kind": "submission", "label": "mine (submission)",
                                  "notes": "CC-BY-4.0",
                                  "tfake": {"nme": 0.25, "fr@0.1": 0.5, "auc@0.1": 0.02},
                                  "charlotte": {s: {"nme": 0.125} for s in SUBSETS}}
    md = rt.table_i(rt.group_runs(metrics))
    assert md.strip().splitlines()[-1] == "- mine (submission): CC-BY-4.0"
    assert md.strip().splitlines()[-3] == (
        "| mine (submission) | – | – | – | n/a | n/a | 0.2500 | n/a | " + " | ".join(["0.1250"] * 6)
        + " | 0.5000 | 0.0200 |")


def test_tables_iii_and_iv_leave_out_what_was_not_trained():
    groups = rt.group_runs(_metrics(variants=("fdld", "fdld_ri", "dikd")))
    iii, iv = _rows(rt.table_iii(groups, KTL)), _rows(rt.table_iv(groups, KTL))
    # FDLD: mean 0.14, sd 0.0079057
    assert iii["FD + LD"].startswith(
        "| FD + LD | RTMPose-s | RTMPose-s | 5 | 0.1400 ± 0.0079 | n/a | 0.2800 ± 0.0158 |")
    assert "Feature Distillation" not in iii and "Baseline + FI" not in iv  # not trained: left out, not invented
    assert iv["Baseline"] == "| Baseline | ✓ | ✓ | ✓ | – | – | 5 | 0.1400 ± 0.0079 | n/a | 0.2800 ± 0.0158 |"
    # DIKD = FDLD + D_DIKD = 0.110, 0.110, 0.115, 0.115, 0.125: mean 0.115, sd 0.0061237
    assert iv["Ours (DIKD)"] == "| Ours (DIKD) | ✓ | ✓ | ✓ | ✓ | ✓ | 5 | 0.1150 ± 0.0061 | n/a | 0.2300 ± 0.0122 |"


def test_table_v_columns_and_the_first_over_last_grad_norm_ratio_when_given():
    groups = rt.group_runs(_metrics())
    table = rt.table_v(groups, KTL)
    assert table.splitlines()[0] == ("| Method | Seeds | Steps | Std Dev | CV (%) | Mean Step Change | R^2 | "
                                     "Steps after warm-up | CV (%) after warm-up |")
    # RI CV 40, 44, 42, 42, 42: mean 42, sd sqrt(8 / 4) = 1.41; after warm-up half of that: 21.00 ± 0.71
    assert _rows(table)["+ L_ri"] == ("| + L_ri | 5 | 50 | 1.0000 ± 0.0000 | 42.00 ± 1.41 | 0.1000 ± 0.0000 | "
                                      "0.2000 ± 0.0000 | 11-50 | 21.00 ± 0.71 |")
    assert "First / last" not in table
    rows = _rows(rt.table_v(groups, KTL, {"ktl-fdld_ri": {0: 4.0, 1: 5.0, 2: 6.0}, "ktl-fdld": {0: 1.0}}))
    assert rows["+ L_ri"].endswith("| 5.00 ± 1.00 |") and rows["Baseline (FD+LD)"].endswith("| 1.00 |")
    assert rows["Ours (L_fi + L_ri)"].endswith("| – |")  # no curve for DIKD given


def test_run_names_are_every_trained_run_in_table_order():
    seeds = [f"seed{s}" for s in range(5)]
    assert report.run_names(_settings()) == (
        ["teacher", "pretrain-t"] + [f"supervised-{a}-{s}" for a in ("s", "t") for s in seeds]
        + ["supervised-s-scratch-seed0", "supervised-s-scratch-seed1"]
        + [f"ktl-{v}-{s}" for v in ("fdld", "fdld_ri", "fdld_fi", "dikd") for s in seeds]
        + ["ktl-dikd-scratch-seed0", "ktl-dikd-scratch-seed1"] + [f"mcl-dikd-{s}" for s in seeds])


def test_group_runs_keys_and_the_scratch_suffix():
    groups = rt.group_runs(_metrics())
    assert sorted(groups) == ["ktl-dikd", "ktl-dikd-scratch", "ktl-fdld", "ktl-fdld_fi", "ktl-fdld_ri", "mcl-dikd",
                              "pretrain-t", "supervised-s", "supervised-s-scratch", "supervised-t", "teacher",
                              "zeroshot-dlib68"]
    assert sorted(groups["ktl-dikd-scratch"].runs) == [0, 1] and groups["zeroshot-dlib68"].kind == "zeroshot"
    with pytest.raises(report.InputError, match="no 'kind'"):
        rt.group_runs({"odd": {"tfake": {}}})


# ------------------------------------------------------------------------------------------------- comparisons


def test_families_of_tables_i_and_iii_iv():
    fams = rs.families(rt.group_runs(_metrics()), KTL, "s", "t")
    assert [c.id for c in fams["table_i"]] == [
        "mlcmkd.tfake.fdld_vs_supervised", "mlcmkd.tfake.dikd_vs_supervised", "mlcmkd.tfake.fdld_ri_vs_supervised",
        "mlcmkd.tfake.fdld_fi_vs_supervised", "mlcmkd.tfake.mcl-dikd_vs_supervised_t",
        "mlcmkd.tfake.dikd_vs_supervised_from_scratch"]
    assert [c.id for c in fams["table_iii_iv"]] == [
        "mlcmkd.tfake.dikd_vs_fdld", "mlcmkd.tfake.fdld_ri_vs_fdld", "mlcmkd.tfake.fdld_fi_vs_fdld"]
    # Without FD+LD there is nothing to compare against in Tables III/IV: no family at all.
    assert "table_iii_iv" not in rs.families(rt.group_runs(_metrics(variants=("dikd",))), KTL, "s", "t")


def test_holm_family_computed_by_hand():
    groups = rt.group_runs(_metrics())
    family = rs.families(groups, KTL, "s", "t")["table_iii_iv"]
    statements, rows = rs.compare_family(groups, family)
    st = _by_id(statements)
    dikd, ri, fi = (st[f"mlcmkd.tfake.{v}_vs_fdld"] for v in ("dikd", "fdld_ri", "fdld_fi"))
    # p on 4 df (closed form F(t) = 1/2 + 3/8 u (1 - u^2/12), u = t / sqrt(1 + t^2/4)):
    #   DIKD: t = -0.025 / (0.005 / sqrt 5) = -11.18034 -> p = 0.000364
    #   +RI:  t = 0.015 / 0.005 = 3 -> p = 0.039942 (< 0.05 alone; its 95% interval 0.015 -/+ 2.776445 x 0.005
    #         = [+0.00112, +0.02888] excludes 0)
    #   +FI:  mean 0 -> t = 0, p = 1
    assert dikd.numbers["p"] == pytest.approx(0.000364348, rel=1e-5)
    assert ri.numbers["p"] == pytest.approx(0.039942, abs=1e-6)
    assert fi.numbers["p"] == pytest.approx(1.0, abs=1e-9)
    # Holm, ordered DIKD, +RI, +FI (multipliers 3, 2, 1): 0.001093; max(0.001093, 2 x 0.039942) = 0.079884; 1
    assert dikd.numbers["p_holm"] == pytest.approx(3 * 0.000364348, rel=1e-5)
    assert ri.numbers["p_holm"] == pytest.approx(0.079884, abs=1e-6)
    assert fi.numbers["p_holm"] == pytest.approx(1.0, abs=1e-9)
    # Levels 1 - 0.05/3, 1 - 0.05/2, 0.95 with t quantiles on 4 df 3.960786, 3.495406, 2.776445:
    #   DIKD -0.025 -/+ 3.960786 x 0.0022361 = -/+ 0.0088566; +RI 0.015 -/+ 3.495406 x 0.005 = -/+ 0.017477;
    #   +FI 0 -/+ 2.776445 x 0.0015811 / sqrt 5 = -/+ 0.0019632
    assert [dikd.numbers["level"], ri.numbers["level"], fi.numbers["level"]] == pytest.approx([1 - 0.05 / 3, 0.975,
                                                                                              0.95])
    assert (dikd.numbers["low"], dikd.numbers["high"]) == (pytest.approx(-0.0338566, abs=1e-6),
                                                           pytest.approx(-0.0161434, abs=1e-6))
    assert (ri.numbers["low"], ri.numbers["high"]) == (pytest.approx(-0.002477, abs=1e-6),
                                                       pytest.approx(0.032477, abs=1e-6))
    assert fi.numbers["high"] == pytest.approx(0.0019632, abs=1e-6)
    assert (dikd.verdict, dikd.resolved) == ("DIKD < FD+LD", True)
    # +RI would be "+RI > FD+LD" alone; Holm across the three comparisons leaves it open.
    assert (ri.verdict, ri.why) == ("not resolved", "Holm-adjusted p 0.080 >= 0.05")
    assert fi.verdict == "not resolved" and all(s.numbers["n_seeds"] == 5 for s in statements)
    # the minimum detectable effect at each one's level: the sd of its per-seed differences (D_DIKD 0.005, D_RI
    # 0.0111803), 5 seeds, 80% power (core.power, checked there)
    mde_dikd, mde_ri = power.mde_paired_t(0.005, 5, 1 - 0.05 / 3), power.mde_paired_t(np.sqrt(5) * 0.005, 5, 0.975)
    assert rows[0] == ["DIKD − FD+LD", "5", "-0.025", "[-0.03386, -0.01614]", "98.3%", "0.000", "0.001", "–",
                       f"{mde_dikd:.4g}", "DIKD < FD+LD"]
    assert rows[1] == ["+RI − FD+LD", "5", "+0.015", "[-0.002477, +0.03248]", "97.5%", "0.040", "0.080", "–",
                       f"{mde_ri:.4g}", "not resolved"]
    assert ri.numbers["mde"] == pytest.approx(mde_ri) and "could have seen: minimum detectable effect" in ri.text


def test_a_run_that_did_not_converge_blocks_its_comparisons_and_ranks():
    metrics = _metrics()
    metrics["ktl-dikd-seed3"]["training"]["convergence"]["converged"] = False
    groups = rt.group_runs(metrics)
    statements, _ = rs.compare_family(groups, rs.families(groups, KTL, "s", "t")["table_iii_iv"])
    dikd = _by_id(statements)["mlcmkd.tfake.dikd_vs_fdld"]
    # The interval over seeds is the same as when converged ([-0.0339, -0.0161], below 0), but not resolved.
    assert dikd.numbers["high"] == pytest.approx(-0.0161434, abs=1e-6)
    assert (dikd.verdict, dikd.resolved, dikd.why) == ("not resolved", False, "not converged: ktl-dikd-seed3")
    rank = rs.rank_statement(groups, KTL, ["ktl-fdld", "ktl-dikd"], "r", "order")
    assert (rank.verdict, rank.text) == ("not resolved", "order: not resolved (not converged: ktl-dikd-seed3)")
    text = rt.convergence_section(groups, _settings())
    # 1 teacher + 1 pretrain + 5 + 5 supervised + 4 x 5 KTL + 5 MCL + 2 x 2 from scratch = 41 runs
    assert f"— {CRITERION} —" in text and "(30 for students, 40 for the teacher and the pretrained backbones)" in text
    assert "**Not converged (1 of 41 runs): ktl-dikd-seed3 (12 of 30 epochs); no comparison below rests" in text
    assert rt.convergence_section(rt.group_runs(_metrics()), _settings()).endswith("All 41 runs converged.\n")


def test_a_test_image_bootstrap_that_includes_zero_blocks_a_seed_resolved_difference():
    groups = rt.group_runs(_metrics())
    family = rs.families(groups, KTL, "s", "t")["table_iii_iv"]
    # 4 test images. FD+LD: every image at its seed's NME. DIKD: its seed's NME plus a per-image offset, so that the
    # seed-mean DIKD - FD+LD per image is -0.025 + offset.
    groups["ktl-fdld"].per_image = np.repeat(np.array(FDLD)[:, None], 4, axis=1)
    dikd = np.add(FDLD, D_DIKD)[:, None]
    # Offsets -0.4, 0.4, -0.2, 0.2: per-image differences -0.425, 0.375, -0.225, 0.175 (mean -0.025); resamples
    # of 4 images reach both signs (e.g. all four 0.375, or all four -0.425), so the 95% interval includes 0.
    groups["ktl-dikd"].per_image = dikd + np.array([-0.4, 0.4, -0.2, 0.2])
    statements, rows = rs.compare_family(groups, family)
    st = _by_id(statements)["mlcmkd.tfake.dikd_vs_fdld"]
    boot = st.numbers["bootstrap_items"]
    assert boot["mean"] == pytest.approx(-0.025) and boot["low"] < 0 < boot["high"]
    assert st.numbers["high"] < 0  # the seed interval alone would resolve it
    assert (st.verdict, st.why) == ("not resolved", "the test-image bootstrap interval includes 0")
    assert rows[0][7] == f"[{boot['low']:+.4f}, {boot['high']:+.4f}]"
    # +RI has no per-image NMEs: no bootstrap, "–" in its row.
    assert rows[1][7] == "–" and "bootstrap_items" not in _by_id(statements)["mlcmkd.tfake.fdld_ri_vs_fdld"].numbers
    # Offsets of +-0.001, +-0.002: every per-image difference lies in [-0.027, -0.023], so does every resampled mean.
    groups["ktl-dikd"].per_image = dikd + np.array([0.001, -0.001, 0.002, -0.002])
    st = _by_id(rs.compare_family(groups, family)[0])["mlcmkd.tfake.dikd_vs_fdld"]
    assert st.verdict == "DIKD < FD+LD"
    assert -0.027 - 1e-12 <= st.numbers["bootstrap_items"]["low"] <= st.numbers["bootstrap_items"]["high"] < -0.023
    # And the table's test SE: FD+LD's seed mean is 0.14 on every image, a bootstrap with no spread.
    assert _rows(rt.table_iii(groups, KTL))["FD + LD"].startswith("| FD + LD | RTMPose-s | RTMPose-s | 5 | "
                                                                  "0.1400 ± 0.0079 | 0.0000 |")


def test_a_test_image_bootstrap_of_the_other_sign_than_the_pooled_mean_blocks_it():
    groups = rt.group_runs(_metrics())
    family = rs.families(groups, KTL, "s", "t")["table_iii_iv"]
    # This run: DIKD - FD+LD per image in [-0.027, -0.023] (as above), its bootstrap wholly below 0.
    groups["ktl-fdld"].per_image = np.repeat(np.array(FDLD)[:, None], 4, axis=1)
    groups["ktl-dikd"].per_image = np.add(FDLD, D_DIKD)[:, None] + np.array([0.001, -0.001, 0.002, -0.002])
    # Nine kernel settings re-trained it at +0.1 on every seed: settings x seeds rows -0.025 (D_DIKD) and 9 x 0.1,
    # grand mean (-0.025 + 0.9) / 10 = 0.0875. MS settings 5 x (0.1125^2 + 9 x 0.0125^2) / 9 = 0.0078125; MS seeds
    # = MS residual = 2.5e-6 (each seed's deviation sits in this run's row only): se sqrt(0.0078125 / 50) = 0.0125 on
    # 9 df, t = 7, p = 6.32e-5, Holm x 3 still below 0.05; the pooled interval (level 1 - 0.05/3) lies above 0.
    seed_diffs = {f"k{i}": [0.1] * 5 for i in range(9)}
    statements, rows = rs.compare_family(groups, family, replicates=lambda sid: seed_diffs
                                         if sid == "mlcmkd.tfake.dikd_vs_fdld" else None)
    st = _by_id(statements)["mlcmkd.tfake.dikd_vs_fdld"]
    assert st.numbers["mean"] == pytest.approx(0.0875) and st.numbers["crossed"]["se"] == pytest.approx(0.0125)
    assert st.numbers["p"] == pytest.approx(6.3247e-5, rel=1e-3) and st.numbers["p_holm"] < 0.05
    assert st.numbers["low"] == pytest.approx(0.0875 - 2.933324 * 0.0125, abs=1e-5) and st.numbers["low"] > 0
    boot = st.numbers["bootstrap_items"]
    assert boot["mean"] == pytest.approx(-0.025) and boot["high"] < 0  # excludes 0, on the other side
    assert (st.verdict, st.why) == ("not resolved", "the test-image bootstrap interval lies on the other side of 0")
    assert rows[0][2:4] == ["+0.0875", "[+0.05083, +0.1242]"] and rows[0][-1] == "not resolved"


def test_the_from_scratch_pair_row_and_comparison():
    groups = rt.group_runs(_metrics())
    statements, rows = rs.compare_family(groups, rs.families(groups, KTL, "s", "t")["table_i"])
    st = _by_id(statements)["mlcmkd.tfake.dikd_vs_supervised_from_scratch"]
    # d = 0.25 - 0.30, 0.29 - 0.32 = -0.05, -0.03: mean -0.04, sd 0.0141421, se 0.01, t = -4 on 1 df:
    # p = 1 - 2 atan(4) / pi = 0.155958, not below 0.05 even before Holm
    assert st.numbers["n_seeds"] == 2 and st.numbers["mean"] == pytest.approx(-0.04)
    assert st.numbers["p"] == pytest.approx(0.155958, abs=1e-6)
    assert st.claim == "DIKD from scratch vs supervised from scratch (T-FAKE test NME-IO)"
    assert st.verdict == "not resolved" and st.why.startswith("Holm-adjusted p ")
    row = next(r for r in rows if r[0] == "DIKD − supervised, both from random weights")
    assert row[1:3] == ["2", "-0.04"] and row[5] == "0.156" and row[-1] == "not resolved"


def test_table_v_family_compares_cv_over_all_steps_and_after_warm_up():
    groups = rt.group_runs(_metrics(ri_cv=(40.0, 40.0, 40.0, 40.0, 40.0)))
    family = rs.table_v_family(groups, KTL)
    assert [c.id for c in family] == [f"mlcmkd.cv.{part}.{v}_vs_fdld" for part in ("grad_norm",
                                                                                   "grad_norm_after_warmup")
                                      for v in ("fdld_ri", "fdld_fi", "dikd")]
    st = _by_id(rs.compare_family(groups, family, per_image=False)[0])
    # RI CV 40 vs 30 at every seed: a constant difference of +10 (after warm-up +5), sd 0 -> p 0, resolved
    ri = st["mlcmkd.cv.grad_norm.fdld_ri_vs_fdld"]
    assert (ri.verdict, ri.numbers["mean"], ri.numbers["p"]) == ("+RI > FD+LD", 10.0, 0.0)
    assert st["mlcmkd.cv.grad_norm_after_warmup.fdld_ri_vs_fdld"].numbers["mean"] == 5.0
    # DIKD's CV equals FD+LD's: difference 0 at every seed, p 1
    assert st["mlcmkd.cv.grad_norm.dikd_vs_fdld"].verdict == "not resolved"


# ------------------------------------------------------------------------------------------------- rank orders


def test_rank_statements_for_tables_iii_and_iv(monkeypatch):
    monkeypatch.setattr("thermbench.core.conclusions.VENDOR_MARGIN", 0.25)  # the cases are worked for 0.25
    groups = rt.group_runs(_metrics())
    check = {"default": {"mlcmkd.rank.table_iii": "DIKD < FD+LD", "mlcmkd.rank.table_iv": "DIKD < +FI, +RI, FD+LD"}}
    md, _, statements = rm.markdown(groups, _settings(), "SYNTHETIC data", check=check)
    st = _by_id(statements)
    # 95% t intervals over 5 seeds (t(0.975, 4) = 2.776445):
    #   DIKD  0.115 -/+ 2.776445 x 0.0061237 / sqrt 5 = [0.107396, 0.122604]
    #   FD+LD 0.140 -/+ 2.776445 x 0.0079057 / sqrt 5 = [0.130184, 0.149816]
    #   +FI   0.140 -/+ 2.776445 x 0.0070711 / sqrt 5 = [0.131220, 0.148780]
    #   +RI   0.155 -/+ 2.776445 x 0.0169558 / sqrt 5 = [0.133947, 0.176053]
    # DIKD lies below the rest, which overlap one another (by mean: DIKD, FD+LD and +FI tie at 0.140, +RI); the verdict
    # names the items above DIKD by name, the "by mean" list by mean.
    iii, iv = st["mlcmkd.rank.table_iii"], st["mlcmkd.rank.table_iv"]
    assert (iii.verdict, iii.resolved) == ("DIKD < FD+LD", True)
    assert iii.numbers["DIKD"]["high"] == pytest.approx(0.122604, abs=1e-6)
    assert iii.numbers["FD+LD"]["low"] == pytest.approx(0.130184, abs=1e-6)
    assert (iv.verdict, iv.resolved) == ("DIKD < +FI, +RI, FD+LD", True)
    assert iv.numbers["+RI"]["low"] == pytest.approx(0.133947, abs=1e-6)
    assert ("- Table IV order by T-FAKE NME-IO, lower first: DIKD < +FI, +RI, FD+LD (by mean: DIKD, +FI, FD+LD, +RI; "
            "pairs not named overlap).") in md
    # Fewer than two of a table's methods: no rank statement.
    assert rs.rank_statement(groups, KTL, ["ktl-fd", "ktl-dikd"], "r", "order") is None


def test_a_rank_interval_is_the_wider_of_the_seed_t_and_the_test_image_bootstrap():
    groups = rt.group_runs(_metrics())
    dikd = np.add(FDLD, D_DIKD)[:, None]
    # DIKD's seed-mean NME per image 0.115 -/+ 0.4 over 4 images: a resampled mean is 0.115 + 0.2 (k - 2), k of 4
    # draws on a +0.4 image; k = 0 and k = 4 each have 1/16 > 2.5%, so the 95% bootstrap is [-0.285, 0.515],
    # half-width 0.4 > the t half-width 0.0076036: DIKD's interval 0.115 -/+ 0.4 overlaps FD+LD's [0.1302, 0.1498].
    groups["ktl-dikd"].per_image = dikd + np.array([-0.4, 0.4, -0.4, 0.4])
    rank = rs.rank_statement(groups, KTL, ["ktl-fdld", "ktl-dikd"], "r", "order")
    assert (rank.numbers["DIKD"]["low"], rank.numbers["DIKD"]["high"]) == (pytest.approx(-0.285),
                                                                           pytest.approx(0.515))
    assert (rank.verdict, rank.why) == ("not resolved", "every interval overlaps")
    # Offsets -/+ 0.001: bootstrap half-width 0.001, so the t interval [0.107396, 0.122604] stands, below FD+LD's.
    groups["ktl-dikd"].per_image = dikd + np.array([-0.001, 0.001, -0.001, 0.001])
    rank = rs.rank_statement(groups, KTL, ["ktl-fdld", "ktl-dikd"], "r", "order")
    assert rank.numbers["DIKD"]["high"] == pytest.approx(0.122604, abs=1e-6) and rank.verdict == "DIKD < FD+LD"


def test_tables_iii_and_iv_running_the_same_methods_give_one_rank_statement():
    groups = {k: g for k, g in rt.group_runs(_metrics()).items() if k in ("ktl-fdld", "ktl-dikd")}
    (one,) = rs.rank_statements(groups, KTL)
    assert one.id == "mlcmkd.rank.table_iii" and "Table IV's methods run here are the same" in one.claim
    assert (one.verdict, sorted(one.numbers)) == ("DIKD < FD+LD", ["DIKD", "FD+LD"])
    assert [s.id for s in rs.rank_statements(rt.group_runs(_metrics()), KTL)] == ["mlcmkd.rank.table_iii",
                                                                                   "mlcmkd.rank.table_iv"]


# ------------------------------------------------------------------------------------------------- checks


def test_teacher_check_met_missed_or_not_resolved_by_the_ratio_interval():
    md, summary, statements = rm.markdown(rt.group_runs(_metrics()), _settings(), "SYNTHETIC data")
    # Supervised RTMPose-s over 5 seeds: mean 0.17, sd 0.0158114, t(0.975, 4) = 2.776445, half-width
    # 2.776445 x 0.0158114 / sqrt 5 = 0.0196325: [0.1503675, 0.1896325]. Teacher RGB 0.05: ratio 0.294,
    # interval [0.05 / 0.1896325, 0.05 / 0.1503675] = [0.263668, 0.332519], all <= 0.6.
    assert summary["teacher_to_student_ratio"] == pytest.approx(0.05 / 0.17)
    check = _by_id(statements)["mlcmkd.teacher_check"]
    assert check.numbers["ratio_low"] == pytest.approx(0.263668, abs=1e-6)
    assert check.numbers["ratio_high"] == pytest.approx(0.332519, abs=1e-6)
    assert "NME-IO 0.0500 on the RGB T-FAKE test crops" in md and "0.1700 (mean over 5 seeds)" in md
    assert "x8.0: the modality gap" in md  # 0.40 thermal / 0.05 RGB
    assert ": met." in md and "weak" not in md
    assert (check.verdict, check.resolved) == ("met", True)
    metrics = _metrics()
    metrics["teacher"]["tfake_rgb"]["nme"] = 0.12  # [0.12 / 0.1896325, 0.12 / 0.1503675] = [0.63, 0.80] > 0.6
    md, _, statements = rm.markdown(rt.group_runs(metrics), _settings(), "SYNTHETIC data")
    assert "conclusions about distillation from this run are weak" in md
    assert _by_id(statements)["mlcmkd.teacher_check"].text == ("teacher check missed (ratio 0.71 [0.63, 0.80] over "
                                                                "the supervised seeds, target <= 0.6)")
    metrics["teacher"]["tfake_rgb"]["nme"] = 0.10  # [0.10 / 0.1896325, 0.10 / 0.1503675] = [0.53, 0.67]: straddles
    _, _, statements = rm.markdown(rt.group_runs(metrics), _settings(), "SYNTHETIC data")
    check = _by_id(statements)["mlcmkd.teacher_check"]
    assert (check.verdict, check.resolved, check.why) == ("not resolved", False, "interval includes the target")
    metrics["teacher"]["training"]["convergence"]["converged"] = False  # a teacher stopped by its epoch cap
    _, _, statements = rm.markdown(rt.group_runs(metrics), _settings(), "SYNTHETIC data")
    check = _by_id(statements)["mlcmkd.teacher_check"]
    assert (check.verdict, check.resolved, check.why) == ("not resolved", False, "not converged: teacher")


def test_mean_shape_check_counts_students_no_better_than_the_mean_shape():
    train, val, test = _shapes()
    runs = {"teacher": _m("teacher", "s", 0.4), "supervised-s-seed0": _m("supervised", "s", 0.3),
            "ktl-dikd-seed0": _m("ktl", "s", 0.2, "dikd")}
    for name, best in (("teacher", 0.9), ("supervised-s-seed0", 0.6), ("ktl-dikd-seed0", 0.2)):
        runs[name]["training"]["best_val_nme"] = best
    text, summary, statements = rs.mean_shape_check(rt.group_runs(runs), train, val, test)
    # The mean shape is 5 px (NME 0.5) from the val face and on the test face; the teacher is no student.
    assert summary == {"mean_shape_val_nme": pytest.approx(0.5), "mean_shape_test_nme": pytest.approx(0.0, abs=1e-12),
                       "runs_on_mean_shape_plateau": 1, "student_runs": 2}
    assert "1 of 2 (supervised-s-seed0 0.6000)" in text
    # One seed: a statement about the supervised student, but no interval.
    assert [(s.id, s.verdict, s.why) for s in statements] == [
        ("mlcmkd.tfake.supervised-s_vs_mean_shape", "not resolved", "too few runs for an interval")]


def test_mcl_failed_here_when_not_clearly_below_the_mean_shape():
    groups = rt.group_runs(_metrics())
    # Test face exactly on the mean shape: baseline NME 0, every MCL seed (0.19 .. 0.23) above it.
    text, summary, statements = rs.mean_shape_check(groups, *_shapes())
    st = _by_id(statements)
    assert st["mlcmkd.tfake.mcl-dikd_vs_mean_shape"].verdict == "MCL > mean shape"
    assert "**MCL failed here: MCL does not end clearly below the mean-shape baseline.**" in text
    # The from-scratch supervised run has no mean-shape statement; the supervised students of both sizes do.
    assert sorted(st) == ["mlcmkd.tfake.mcl-dikd_vs_mean_shape", "mlcmkd.tfake.supervised-s_vs_mean_shape",
                          "mlcmkd.tfake.supervised-t_vs_mean_shape"]
    # Test face 5 px off (baseline NME 0.5): MCL - 0.5 = -0.31 .. -0.27, clearly below.
    text, summary, statements = rs.mean_shape_check(groups, *_shapes((3.0, 4.0)))
    assert summary["mean_shape_test_nme"] == pytest.approx(0.5)
    assert _by_id(statements)["mlcmkd.tfake.mcl-dikd_vs_mean_shape"].verdict == "MCL < mean shape"
    assert "MCL failed" not in text
    # Below on average but one MCL run did not converge: not clearly below either.
    metrics = _metrics()
    metrics["mcl-dikd-seed2"]["training"]["convergence"]["converged"] = False
    text, _, _ = rs.mean_shape_check(rt.group_runs(metrics), *_shapes((3.0, 4.0)))
    assert "**MCL failed here" in text


def test_a_test_image_bootstrap_that_includes_zero_blocks_a_mean_shape_statement():
    train, val, _ = _shapes()
    pts = train.mean(axis=0)
    # 4 test faces 1, 9, 1, 9 px off the mean shape (interocular 10 px): baseline NME 0.1, 0.9, 0.1, 0.9, mean 0.5.
    test = np.stack([pts + (shift, 0) for shift in (1, 9, 1, 9)])
    groups = rt.group_runs(_metrics())
    groups["mcl-dikd"].per_image = np.repeat(np.array(MCL)[:, None], 4, axis=1)  # each seed at its NME on every face
    text, summary, statements = rs.mean_shape_check(groups, train, val, test)
    st = _by_id(statements)["mlcmkd.tfake.mcl-dikd_vs_mean_shape"]
    # Over seeds MCL - 0.5 = -0.31, -0.30, -0.30, -0.28, -0.27: mean -0.292, sd 0.0164317, 95% t interval
    # -0.292 -/+ 2.776445 x 0.0164317 / sqrt 5 = [-0.312403, -0.271597], below 0.
    assert summary["mean_shape_test_nme"] == pytest.approx(0.5)
    assert (st.numbers["low"], st.numbers["high"]) == (pytest.approx(-0.312403, abs=1e-6),
                                                       pytest.approx(-0.271597, abs=1e-6))
    # Over images 0.208 - (0.1, 0.9, 0.1, 0.9): a resampled mean is 0.108 - 0.2 k, k of 4 draws on a 0.9 face; k = 0
    # and k = 4 each have 1/16 > 2.5%, so the 95% bootstrap is [-0.692, 0.108]: it includes 0.
    boot = st.numbers["bootstrap_items"]
    assert (boot["mean"], boot["low"], boot["high"]) == (pytest.approx(-0.292), pytest.approx(-0.692),
                                                         pytest.approx(0.108))
    assert (st.verdict, st.why) == ("not resolved", "the test-image bootstrap interval includes 0")
    assert "at 5 seed(s) x 4 items" in st.text and "**MCL failed here: MCL does not end clearly below" in text
    # Faces 4.9, 5.1, 4.9, 5.1 px off (mean 0.5 again): the bootstrap [0.208 - 0.51, 0.208 - 0.49] excludes 0.
    test = np.stack([pts + (shift, 0) for shift in (4.9, 5.1, 4.9, 5.1)])
    text, _, statements = rs.mean_shape_check(groups, train, val, test)
    st = _by_id(statements)["mlcmkd.tfake.mcl-dikd_vs_mean_shape"]
    boot = st.numbers["bootstrap_items"]
    assert (boot["low"], boot["high"]) == (pytest.approx(-0.302), pytest.approx(-0.282))
    assert st.verdict == "MCL < mean shape" and "MCL failed" not in text
    # Per-image predictions 0.6 worse than the seeds' own NMEs: the bootstrap [0.298, 0.318] lies above 0, the seed
    # interval below it. The two disagree, so nothing is resolved.
    groups["mcl-dikd"].per_image = groups["mcl-dikd"].per_image + 0.6
    st = _by_id(rs.mean_shape_check(groups, train, val, test)[2])["mlcmkd.tfake.mcl-dikd_vs_mean_shape"]
    assert st.numbers["high"] < 0 < st.numbers["bootstrap_items"]["low"]
    assert (st.verdict, st.why) == ("not resolved", "the test-image bootstrap interval lies on the other side of 0")


def test_initial_weights_line_names_each_start_and_its_methods():
    runs = {"teacher": _m("teacher", "s", 0.4, tfake_rgb={"nme": 0.05}),
            "supervised-s-seed0": _m("supervised", "s", 0.3),
            "ktl-dikd-seed0": _m("ktl", "s", 0.2, "dikd"),
            "supervised-t-seed0": _m("supervised", "t", 0.3, init="random"),
            "mcl-dikd-seed0": _m("mcl", "t", 0.2, "dikd", init="random")}
    text = rt.initial_weights(rt.group_runs(runs))
    assert text.startswith("Initial weights: ktl-dikd, supervised-s from the backbone of an RTMPose of their size "
                           "pretrained on the RGB face set, head random")
    assert "; mcl-dikd, supervised-t from random weights.\n" in text
    assert text.endswith("Backbone sources (RGB-pretrained, RGB T-FAKE test NME-IO): RTMPose-s (teacher) 0.0500.\n")
    assert rt.initial_weights(rt.group_runs({"teacher": runs["teacher"]})) == ""


def test_gradient_shares_rows_and_the_lambda_kp_scaling():
    text = rt.gradient_shares(rt.group_runs(_metrics()), _settings())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "| supervised-s | start | 100.0% | – | – | – | – |" in rows
    assert "| ktl-dikd | start | 40.0% | 30.0% | 20.0% | 10.0% | – |" in rows
    assert "| ktl-dikd | end | 70.0% | 10.0% | 20.0% | – | – |" in rows
    # 0.1 x 64 / 16 = 0.4; shares on the 2 fixed batches of fit.share_batches
    assert "lambda_kp = 0.1 x 64 / 16 = 0.4, the paper's 0.1 rescaled" in text and "on 2 fixed training batches" in text


# ------------------------------------------------------------------------------------------------- statements


def _paired_mcl(mean: float, low: float, high: float, boot: tuple[float, float], blocked: bool = True):
    """Table I's MCL vs supervised-t statement, made by hand: not resolved (`blocked`) or resolved by its interval."""
    return difference("mlcmkd.tfake.mcl-dikd_vs_supervised_t", "MCL (dikd) vs supervised RTMPose-t (T-FAKE test "
                      "NME-IO)", "MCL (dikd)", "supervised RTMPose-t", mean, low, high,
                      blockers=["Holm-adjusted p 0.936 >= 0.05"] if blocked else None,
                      extra={"bootstrap_items": {"mean": mean, "low": boot[0], "high": boot[1], "se": 0.0}})


def test_mcl_effect_reads_as_measured_inert_or_not():
    from dataclasses import replace

    metrics = _metrics()
    for s, (stop, diff) in enumerate(((12, 3e-4), (12, -1e-4), (12, 0.0), (12, 2e-4), (12, -2e-4))):
        metrics[f"mcl-dikd-seed{s}"]["tfake"]["nme"] = SUP_T[s] + diff
        shares = {"start": {"kp": 0.98, "lg": 0.018, "fm": 0.002}, "end": {"kp": 0.99, "lg": 0.01}}
        metrics[f"mcl-dikd-seed{s}"]["training"].update(epochs_run=stop, gradient_shares=shares)
    groups = rt.group_runs(metrics)
    # per-image NME of supervised-t: images 0.1 and 0.3 for every seed: a resampled mean is 0.1, 0.2 or 0.3 with
    # chances 1/4, 1/2, 1/4, so the bootstrap SE of the mean is about sqrt(0.5 x 0.1^2) = 0.0707
    groups["supervised-t"] = replace(groups["supervised-t"], per_image=np.tile([0.1, 0.3], (5, 1)))
    inside = _paired_mcl(4e-5, -0.01, 0.01, (-0.02, 0.02))  # Table I: not resolved, both intervals within -/+ SE
    text, (st,) = rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [inside])
    assert st.id == "mlcmkd.tfake.mcl-dikd_effect_vs_supervised_t" and st.resolved and st.trained
    assert st.verdict == "MCL (dikd) = supervised RTMPose-t in effect"
    assert st.numbers["test_se"] == pytest.approx(0.0707, abs=0.003)
    # 1e-3 x 128 / (0.4 x 16) = 0.02; shares averaged over the five seeds
    assert "weighs 0.02 of one in L_kp" in st.text and "L_fm 0.20% / 0.00%, L_lg 1.80% / 1.00%" in st.text
    assert "at most 0.0003 in size" in st.text and "stop epochs 12/12, 12/12" in st.text
    assert "the distillation terms are inert at this scale" in text
    # Table I resolves the pair: the two can't be equal in effect, however small each seed's difference
    resolved = _paired_mcl(0.03, 0.01, 0.05, (0.02, 0.04), blocked=False)
    _, (st,) = rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [resolved])
    assert (st.verdict, st.why) == ("not resolved", "the paired test resolves a difference (MCL (dikd) > "
                                                    "supervised RTMPose-t)")
    # not resolved, but its t interval reaches past the SE: too noisy to call equal
    wide = _paired_mcl(0.0, -0.08, 0.08, (-0.02, 0.02))
    _, (st,) = rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [wide])
    se = f"{st.numbers['test_se']:.2g}"
    assert (st.verdict, st.why) == ("not resolved", f"the paired difference's t interval [-0.08, +0.08] reaches the "
                                                    f"test-image SE ({se})")
    # no paired comparison to read
    _, (st,) = rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [])
    assert (st.verdict, st.why) == ("not resolved", "no paired interval (Table I)")
    # one seed stops elsewhere: not resolved, and the statement says where
    metrics["mcl-dikd-seed3"]["training"]["epochs_run"] = 11
    groups = {**rt.group_runs(metrics), "supervised-t": groups["supervised-t"]}
    _, (st,) = rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [inside])
    assert (st.verdict, st.why) == ("not resolved", "stop epochs differ at seed(s) 3")
    assert "Not equal in effect" in rs.mcl_effect(groups, "t", 128, 0.4, 16, 1e-3, [inside])[0]


def test_statements_section_renders_final_with_a_kernel_check_that_differs(monkeypatch):
    monkeypatch.setattr("thermbench.core.conclusions.VENDOR_MARGIN", 0.25)  # the cases are worked for 0.25
    check = {"default": {"mlcmkd.tfake.dikd_vs_fdld": "not resolved", "mlcmkd.rank.table_iii": "DIKD < FD+LD"}}
    md, _, statements = rm.markdown(rt.group_runs(_metrics()), _settings(), "SYNTHETIC data", check=check)
    assert "under every CPU kernel setting checked (default)" in md
    assert ("- DIKD vs FD+LD (T-FAKE test NME-IO): not resolved (differs across CPU kernels) (here DIKD < FD+LD; "
            "default: not resolved).") in md
    assert "- Table III order by T-FAKE NME-IO, lower first: DIKD < FD+LD (by mean" in md  # the check agrees
    # The returned statements are this run's own (the summary JSON records both).
    assert _by_id(statements)["mlcmkd.tfake.dikd_vs_fdld"].verdict == "DIKD < FD+LD"
    md, _, _ = rm.markdown(rt.group_runs(_metrics()), _settings(), "SYNTHETIC data")
    assert "(none, this run only (`make conclusions` not run))" in md
    # Without a kernel check a trained model's statement is not resolved; the text keeps this run's verdict.
    assert "- DIKD vs FD+LD (T-FAKE test NME-IO): not resolved (not kernel-checked) (here DIKD < FD+LD)." in md


def test_markdown_lists_every_statement_once_and_the_comparison_tables():
    md, summary, statements = rm.markdown(rt.group_runs(_metrics()), _settings(), "SYNTHETIC data",
                                              shapes=_shapes((3.0, 4.0)))
    ids = [s.id for s in statements]
    assert len(ids) == len(set(ids)) and ids[0] == "mlcmkd.teacher_check"
    # teacher check + 3 mean-shape + 6 Table I + 3 Tables III/IV + 2 ranks + 6 Table V
    assert len(ids) == 21
    assert md.count("\n- ") == 21
    assert summary["mean_shape_test_nme"] == pytest.approx(0.5) and summary["teacher_rgb_nme"] == 0.05
    assert "| DIKD − supervised, both from random weights | 2 | -0.04 |" in md
    assert "| CV +RI − FD+LD (all logged steps) | 5 |" in md


def test_attach_per_image_reads_each_seeds_predictions(tmp_path):
    # Two test faces with outer eye corners 10 px apart; seed 0 predicts 1 px off on every point (NME 0.1), seed 1
    # exact on face 0 and 2 px off on face 1 (NME 0, 0.2).
    gt = np.zeros((2, 68, 2))
    gt[:, 45] = (10.0, 0.0)
    runs = {f"supervised-s-seed{s}": _m("supervised", "s", 0.1, seed=s) for s in (0, 1)}
    (tmp_path / "supervised/s").mkdir(parents=True)
    np.save(tmp_path / "supervised/s/supervised-s-seed0.npy", (gt + (1.0, 0.0)).astype(np.float32))
    np.save(tmp_path / "supervised/s/supervised-s-seed1.npy", (gt + np.array([[[0.0, 0.0]], [[0.0, 2.0]]]))
            .astype(np.float32))
    groups = rt.group_runs({**runs, "teacher": _m("teacher", "s", 0.4)})
    report.attach_per_image(groups, tmp_path, gt)
    assert groups["supervised-s"].per_image == pytest.approx(np.array([[0.1, 0.1], [0.0, 0.2]]))
    assert groups["teacher"].per_image is None
    with pytest.raises(report.InputError, match="not found"):
        report.attach_per_image(rt.group_runs({"supervised-t-seed0": _m("supervised", "t", 0.1)}), tmp_path, gt)


def test_each_table_comparison_names_the_board_pair_it_meets_and_back():
    """The names of a table's comparison and of the T-FAKE board's pair are one mapping: every NME comparison of
    Tables I, III and IV names the board statement on the same two groups (the leaderboard's row names), and that
    statement's two names are the comparison's groups again."""
    groups = rt.group_runs(_metrics())
    rng = np.random.default_rng(0)
    for g in groups.values():
        if g.kind in ("supervised", "ktl", "mcl"):
            g.per_image = rng.normal(0.06, 0.01, (len(g.runs), 6))
    entries = {k: pairs.Entry({s: pd.Series(row) for s, row in zip(sorted(g.runs), g.per_image)}, True)
               for k, g in groups.items() if g.per_image is not None}
    board = {s.id: s for s in pairs.compare_board("boards.landmarks68_tfake.", "NME", entries)}
    for family in rs.families(groups, KTL, "s", "t").values():
        statements, _ = rs.compare_family(groups, family)
        for c, st in zip(family, statements):
            there = board[st.numbers["board"]]
            assert set(there.claim.split(" (")[0].split(" vs ")) == {c.a, c.b}
            # the same pair, the same seeds and items: the same difference, signed by name order
            sign = 1 if c.a < c.b else -1
            assert there.numbers["mean"] == pytest.approx(sign * st.numbers["mean"])
