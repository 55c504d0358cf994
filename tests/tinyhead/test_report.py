"""The head report (src/thermbench/report_head.py): zero-shot columns, the comparison table, the convergence text."""

import json

import numpy as np
import pandas as pd

from thermbench.tinyhead import report as R


def block(mean, pck10, detection=1.0):
    unit = {"n_gt": 80, "detection_rate": detection, "mean_px": mean, "median_px": mean - 1,
            "pck": {"3px": 0.1, "5px": 0.2, "10px": pck10, "20px": 1.0}}
    return {"crop_px": unit, "frame_px": {**unit, "mean_px": mean / 2}}


def test_zeroshot_columns_show_unavailable_weights_and_missing_files(tmp_path):
    assert R.zeroshot_columns(tmp_path / "absent", tmp_path)[1].startswith("No zero-shot results")
    (tmp_path / "dwpose.json").write_text(json.dumps({"status": "ok", "crop": block(3.3, 0.99)}))
    (tmp_path / "sapiens2.json").write_text(json.dumps({"status": "weights not available: put the file at X"}))
    (tmp_path / "timing").mkdir()
    (tmp_path / "timing" / "dwpose.json").write_text(json.dumps({"median_ms_per_frame": 117.0, "threads": 1}))
    columns, note = R.zeroshot_columns(tmp_path, tmp_path / "timing")
    assert note is None
    assert columns["sapiens2"] == "weights not available"
    assert columns["dwpose"]["timing"]["median_ms_per_frame"] == 117.0


def spread(mean, sd):
    return {"mean": mean, "sd": sd}


def test_comparison_table_puts_zero_shot_beside_the_head_and_the_blog_reference():
    # three seeds: crop mean errors 5.0, 5.5, 6.0 (sd 0.5), PCK@10 0.90, 0.93, 0.96 (sd 0.03); best val epochs 61,
    # 70, 55 at 4.0, 4.1, 4.5 px (mean 4.2, sample sd sqrt((0.04 + 0.01 + 0.09) / 2) = 0.2646; ddof 0 would be 0.2160)
    over = {unit: {"mean_px": spread(5.5 / (1 if unit == "crop_px" else 2), 0.5), "median_px": spread(4.5, 0.25),
                   "pck": {"3px": spread(0.1, 0.0), "5px": spread(0.2, 0.0), "10px": spread(0.93, 0.03),
                           "20px": spread(1.0, 0.0)}} for unit in ("crop_px", "frame_px")}
    seeds = {str(s): {"best_epoch": e, "best_val_mean_crop_px": v} for s, e, v in ((0, 61, 4.0), (1, 70, 4.1),
                                                                                  (2, 55, 4.5))}
    convergence = {"runs": {"main": {"converged": True}, "main_s1": {"converged": False, "failed_to_train": True},
                            "main_s2": {"converged": True}, "n10_s1": {"converged": False}},
                   "not_converged": ["main_s1", "n10_s1"]}
    head = {**block(5.0, 0.90), "over_seeds": over, "seeds": seeds, "trainable_params": 410625,
            "n_train_labels": 40, "convergence": convergence}
    zeroshot = {"dwpose": {**block(3.3, 0.99, detection=0.975), "timing": None}, "sapiens2": "weights not available"}
    table = R.comparison_table(head, {"median_ms_per_crop": 580.4, "backbone": "sapiens2", "threads": 1,
                                      "device": "cpu"}, {"main_run_s": 240.2, "threads": 1}, zeroshot, [3, 5, 10, 20])
    lines = table.splitlines()
    assert lines[0] == ("| Metric | dwpose | sapiens2 | Finetuned TinyHead (3 seeds, mean ± sd) "
                        "| TinyHead (blog, real ThermEval-D) |")
    assert "| Detection rate over GT | 98% | weights not available | 100% by protocol" in table
    # dwpose found 97.5% of 80 crops: its mean and median average 78 of them, the head's all 80
    assert ("| Mean and median over (PCK over every crop) | 78 of 80 crops | weights not available | 80 of 80 crops "
            "| 80 of 80 crops |") in lines
    # the blog's stored summary: mean 5.466, median 5.012, PCK@10 0.925, best val 5.147 at epoch 77
    # the seed that failed to train is in the mean, and the table says so; the label-curve head is no seed
    assert ("| Seeds converged (each seed is in the mean ± sd) | - | - | 2 of 3; not converged, yet in the mean: "
            "main_s1 (failed to train) | one run, 120 epochs, no stopping rule |") in lines
    assert "| Mean nose error (crop px) | 3.3 px | weights not available | 5.5 ± 0.5 px | 5.5 px |" in lines
    assert "| Median error (crop px) | 2.3 px | weights not available | 4.5 ± 0.2 px | 5.0 px |" in lines
    assert "| PCK@10px (crop px) | 99% | weights not available | 93 ± 3% | 92% |" in lines
    assert "| Mean nose error (frame px) | 1.6 px | weights not available | 2.8 ± 0.5 px | not reported |" in lines
    assert "| Best validation epoch (from 0) | - | - | 61, 70, 55 | 77 |" in lines
    assert "| Best validation mean (crop px) | - | - | 4.2 ± 0.3 px | 5.1 px |" in lines
    assert "| Trainable params | 0 | 0 | 410,625 | 410,625 |" in lines
    assert "40 labels + 240 s head training (1 CPU thread, one seed)" in table
    assert "580 ms/crop (sapiens2 backbone + head, 1 thread, cpu)" in table
    # one seed: its best val mean alone
    one = R.comparison_table({**head, "seeds": {"0": seeds["0"]}}, {"median_ms_per_crop": 580.4, "backbone": "sapiens2",
                             "threads": 1, "device": "cpu"}, {"main_run_s": 240.2, "threads": 1}, zeroshot, [10])
    assert "| Best validation mean (crop px) | - | - | 4.0 px | 5.1 px |" in one.splitlines()


def test_convergence_text_reads_the_validation_error_curve():
    epochs = np.arange(120)
    two = 100 * np.exp(-np.clip(epochs, 0, 10) * 0.3) * np.exp(-np.clip(epochs - 39, 0, 10) * 0.1)
    flat_loss = np.ones(120)  # the loss is not what is read
    text = R.convergence_text(pd.DataFrame({"val_mean_px": two, "val_loss": flat_loss}))
    assert text.startswith("Two-stage convergence shows up") and "2 phases" in text and "validation mean error" in text
    three = two * np.exp(-np.clip(epochs - 79, 0, 10) * 0.1)
    assert R.convergence_text(pd.DataFrame({"val_mean_px": three})).startswith("More than two stages")
    one = 100 * np.exp(-np.clip(epochs, 0, 10) * 0.3)
    assert R.convergence_text(pd.DataFrame({"val_mean_px": one, "val_loss": two})).startswith(
        "No two-stage convergence")


def test_learning_curve_table_averages_seeds():
    curve = pd.DataFrame({"n_labels": [5, 5, 40], "seed": [0, 1, 0], "mean_crop_px": [10.0, 20.0, 5.0],
                          "pck10_crop_px": [0.5, 0.7, 0.9], "converged": [True, False, True]})
    lines = R.learning_curve_table(curve).splitlines()
    assert lines[2] == "| 5 | 2 | 1 of 2 | 15.0 (10.0-20.0) | 60% (50-70%) |"
    assert lines[3] == "| 40 | 1 | 1 of 1 | 5.0 (5.0-5.0) | 90% (90-90%) |"


def test_backbone_text_names_the_grid_the_input_size_and_the_chosen_stages():
    backbone = {"name": "teacher", "arch": "s", "feature_size": 16, "crop_size": 256, "trained_px": [96, 96],
                "input_px": [256, 256], "stages": [1, 2, 3]}
    text = R.backbone_text(backbone, ["stage1", "stage2"], 279_553)
    assert "16x16 grid from 256 px crops; the head reads stage1 + stage2" in text
    assert "279,553 trainable parameters" in text and "trained at 96x96 px" in text and "at its own 256x256 px" in text
    # 256 / 4 = 64 and 256 / 8 = 32 cells per side
    assert "stage 1 (stride 4, 64x64 cells) + stage 2 (stride 8, 32x32 cells)" in text
    deep = R.backbone_text({**backbone, "input_px": [256, 512]}, ["stage3"], 279_553)
    assert "resized to 256x512 px (w x h)" in deep and "stage 3 (stride 16, 16x32 cells)" in deep
    sapiens = R.backbone_text({"name": "sapiens2", "arch": "0.4b", "feature_size": 16, "crop_size": 256}, ["final"],
                              410_625)
    assert "Teacher features" not in sapiens and "the head reads final" in sapiens


def test_sweep_text_states_the_choice_made_on_val_over_seeds():
    sweep = pd.DataFrame({"maps": ["stage1", "stage1", "stage1+stage2", "stage1+stage2"], "seed": [0, 1, 0, 1],
                          "channels": [64, 64, 192, 192], "best_epoch": [50, 40, 77, 60],
                          "best_val_mean_px": [6.5, 4.5, 5.0, 5.5], "val_pck10": [0.8, 0.9, 0.9, 1.0],
                          "converged": [True, True, True, False], "failed_to_train": [False, False, False, True],
                          "chosen": [False, False, True, True]})
    text = R.sweep_text(sweep)
    # seed means: stage1 (6.5 + 4.5) / 2 = 5.5; stage1+stage2 (5.0 + 5.5) / 2 = 5.25, chosen
    assert text.startswith("Layer choice, made on the validation crops (never on test): **stage1+stage2**")
    assert "averaged over 2 seed(s), 5.25 crop px" in text
    assert "| stage1 | 64 | 5.50 | 6.50 (50), 4.50 (40) | 85% | 2 of 2 |  |" in text.splitlines()
    assert ("| stage1+stage2 | 192 | 5.25 | 5.00 (77), 5.50 (60) | 95% | 1 of 2 (1 failed to train) | yes |"
            in text.splitlines())


def test_convergence_section_names_the_runs_that_did_not_converge():
    rule = "no validation improvement larger than 2% over the last 20 validations"
    failed = {"criterion": "best validation at the first validation: the run never improved on it", "epoch_cap": 120,
              "converged": False, "failed_to_train": True, "epochs_run": 21, "best_epoch": 0}
    convergence = {"criterion": rule,
                   "runs": {"main": failed,
                            "main_s1": {"criterion": rule, "epoch_cap": 120, "converged": True, "epochs_run": 84,
                                        "best_epoch": 63},
                            "n10_s1": {"criterion": rule, "epoch_cap": 120, "converged": False, "epochs_run": 120,
                                       "best_epoch": 118}},
                   "not_converged": ["main", "n10_s1"]}
    text = R.convergence_section(convergence)
    # the rule every run was held to, even where the first run listed failed to train
    assert text.startswith("Every head trains until no validation improvement larger than 2% over the last 20 "
                           "validations (its validation mean error, crop px), at most 120 epochs")
    assert "| main | 21 of 120 | 0 | **no: failed to train** |" in text
    assert "| main_s1 | 84 of 120 | 63 | yes |" in text and "| n10_s1 | 120 of 120 | 118 | **no** |" in text
    # the same split and names as the statements' blockers (compare.convergence_blockers)
    assert ("Not converged, and the TinyHead statements rest on them, so every one is blocked: "
            "main (failed to train).") in text
    assert "Not converged, label-curve heads no statement rests on: n10_s1." in text
    assert R.convergence_blockers(convergence) == ["TinyHead run(s) not converged: main (failed to train)"]
    every = R.convergence_section({**convergence, "runs": {"main_s1": convergence["runs"]["main_s1"]},
                                   "not_converged": []})
    assert every.rstrip().endswith("Every run converged.")


def test_recipe_text_sets_the_recipe_beside_the_blogs():
    assert R.recipe_text(R.BLOG_RECIPE) == ("Recipe: AdamW lr 0.003, weight decay 0.0001, batch 8, a cosine over 120 "
                                            "epochs, PyTorch's initialisation. The blog's recipe.")
    ours = R.recipe_text({**R.BLOG_RECIPE, "warmup_epochs": 5, "init": "zero_last"})
    assert ours.startswith("Recipe: AdamW lr 0.003, weight decay 0.0001, batch 8, 5 epochs of linear lr warm-up, then "
                           "a cosine over 120 epochs, the last 1x1 conv zero-initialised. The blog's: AdamW lr 0.003")
    assert "chosen on the validation crops" in ours


def test_conclusions_text_states_the_final_verdicts_and_the_rows_without_one(monkeypatch):
    monkeypatch.setattr("thermbench.core.conclusions.VENDOR_MARGIN", 0.25)  # the cases are worked for 0.25
    statement = R.conclusions.difference("head.vs_dwpose.mean_crop_px", "TinyHead vs dwpose: test mean error",
                                         "TinyHead", "dwpose", -2.0, -3.0, -1.0, " crop px")
    agrees = {"avx2": {statement.id: "TinyHead < dwpose"}}
    text = R.conclusions_text([statement], ["sapiens2 (weights not available)"], agrees, 3)
    assert "- TinyHead vs dwpose: test mean error: TinyHead < dwpose (TinyHead − dwpose = -2 crop px [-3, -1])." in text
    assert text.rstrip().endswith("No statement for sapiens2 (weights not available).")
    # another CPU kernel gave another verdict: not resolved
    differs = R.conclusions_text([statement], [], {"avx2": {statement.id: "not resolved"}}, 3)
    assert "not resolved (differs across CPU kernels)" in differs
    assert "(`conclusions/kernel_check.json`: avx2)" in differs


def test_blog_notes_keep_the_part_2_facts():
    assert "5.47 px is the mean and the\n  median is 5.01 px" in R.BLOG_NOTES
    assert "summary_thermeval.json" in R.BLOG_SOURCE
