"""tools/reports/headline.py: the README's cells as flat numbers, checked against hand-computed values."""

import pytest

from thermbench.tools.reports.headline import breath, conclusions, mlcmkd, nose, speed


def _run(model, kind, seed, tfake, charlotte, converged=True, **extra):
    return {"model": model, "kind": kind, "seed": seed, "tfake": {"nme": tfake},
            "charlotte": {"full": {"nme": charlotte}}, "training": {"convergence": {"converged": converged}}, **extra}


def test_mlcmkd_mean_and_sample_sd_over_seeds_one_run_without_sd():
    runs = {"ktl-dikd-seed0": _run("ktl-dikd-seed0", "ktl", 0, 0.1, 0.02, variant="dikd"),
            "ktl-dikd-seed1": _run("ktl-dikd-seed1", "ktl", 1, 0.3, 0.04, converged=False, variant="dikd"),
            "teacher": _run("teacher", "teacher", None, 0.5, 0.2, arch="s"),
            "zeroshot-tfan": {"status": "weights not available: no file", "data": {}}}
    out = mlcmkd(runs, {"mean_shape_test_nme": 0.33})
    assert out["tfake.nme.ktl_dikd.mean"] == pytest.approx(0.2)
    assert out["tfake.nme.ktl_dikd.sd"] == pytest.approx(0.2 / 2 ** 0.5)  # |0.1 - 0.3| / sqrt(2)
    assert out["charlotte.nme.ktl_dikd.mean"] == pytest.approx(0.03)
    assert (out["converged.ktl_dikd"], out["runs.ktl_dikd"]) == (1, 2)
    assert out["tfake.nme.teacher.mean"] == 0.5 and "tfake.nme.teacher.sd" not in out
    assert not any("tfan" in k for k in out)  # no weights: no key
    assert out["tfake.nme.mean_shape"] == 0.33


def test_nose_zero_shot_cells_and_tinyhead_seed_cells():
    zeroshot = {"dlib68": {"status": "ok", "full_frame": {"detection_rate": 0.2, "pck": {"10px": 0.1}},
                           "crop": {"frame_px": {"detection_rate": 0.3, "median_px": 6.5, "pck": {"10px": 0.15}}}},
                "dwpose": {"status": "weights not available"}}
    head = {"seeds": {"0": {"converged": True}, "1": {"converged": False}, "2": {"converged": True}},
            "frame_px": {"detection_rate": 1.0},
            "over_seeds": {"frame_px": {"median_px": {"mean": 19.0, "sd": 6.0},
                                        "pck": {"10px": {"mean": 0.3, "sd": 0.1}}}}}
    assert nose(zeroshot, head) == {
        "dlib68.full_frame.found": 0.2, "dlib68.full_frame.pck10": 0.1, "dlib68.gt_box.found": 0.3,
        "dlib68.gt_box.median_px": 6.5, "dlib68.gt_box.pck10": 0.15, "tinyhead.gt_box.found": 1.0,
        "tinyhead.gt_box.median_px.mean": 19.0, "tinyhead.gt_box.median_px.sd": 6.0,
        "tinyhead.gt_box.pck10.mean": 0.3, "tinyhead.gt_box.pck10.sd": 0.1, "tinyhead.seeds": 3,
        "tinyhead.seeds_converged": 2}


def test_breath_is_the_leaderboards_mae_with_its_seed_sd_and_a_scene_without_windows_left_out():
    scores = {"near": {"ktl-dikd": {"seed_mae": [1.0, 3.0], "mean": 2.0, "windows": 30},
                       "oracle": {"seed_mae": [0.5], "mean": 0.5, "windows": 29}},
              "far": {"oracle": {"seed_mae": None, "mean": None, "windows": 0}}}
    assert breath(scores) == {"near.ktl_dikd.mae.mean": 2.0, "near.ktl_dikd.mae.sd": pytest.approx(2 ** 0.5),
                              "near.ktl_dikd.windows": 30, "near.oracle.mae.mean": 0.5, "near.oracle.windows": 29}


def test_speed_is_the_int8_nme_change_only_never_a_timing_and_conclusions_counts():
    deploy = {"int8_students": {"ktl-dikd-seed0": {"tfake_nme_rise": 0.0004, "charlotte_nme_rise": -0.0001,
                                                   "int8_speedup": 1.36}}}
    assert speed(deploy) == {"int8.ktl_dikd_seed0.tfake_nme_change": 0.0004,
                             "int8.ktl_dikd_seed0.charlotte_nme_change": -0.0001}
    gathered = {"resolved": 2, "not_resolved": 1, "resolved_deterministic": 1, "resolved_kernel_checked": 1,
                "statements": [{"report": "breath", "resolved": True}, {"report": "breath", "resolved": True},
                               {"report": "head", "resolved": False}]}
    assert conclusions(gathered) == {"resolved": 2, "not_resolved": 1, "resolved_deterministic": 1,
                                     "resolved_kernel_checked": 1, "breath.resolved": 2, "head.not_resolved": 1}
