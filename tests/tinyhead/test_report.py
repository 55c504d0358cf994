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


def test_comparison_table_puts_zero_shot_beside_the_head_and_the_blog_reference():
    head = {**block(5.5, 0.93), "trainable_params": 410625, "n_train_labels": 40, "best_val_epoch": 61,
            "best_val_mean_px": 4.04}
    zeroshot = {"dwpose": {**block(3.3, 0.99, detection=0.975), "timing": None}, "sapiens2": "weights not available"}
    table = R.comparison_table(head, {"median_ms_per_crop": 580.4, "backbone": "sapiens2", "threads": 1,
                                      "device": "cpu"}, {"main_run_s": 240.2, "threads": 1}, zeroshot, [3, 5, 10, 20])
    lines = table.splitlines()
    assert lines[0] == "| Metric | dwpose | sapiens2 | Finetuned TinyHead | TinyHead (blog, real ThermEval-D) |"
    assert "| Detection rate over GT | 98% | weights not available | 100% by protocol" in table
    # the blog's stored summary: mean 5.466, median 5.012, PCK@10 0.925, best val 5.147 at epoch 77
    assert "| Mean nose error (crop px) | 3.3 px | weights not available | 5.5 px | 5.5 px |" in lines
    assert "| Median error (crop px) | 2.3 px | weights not available | 4.5 px | 5.0 px |" in lines
    assert "| PCK@10px (crop px) | 99% | weights not available | 93% | 92% |" in lines
    assert "| Mean nose error (frame px) | 1.6 px | weights not available | 2.8 px | not reported |" in lines
    assert "| Best validation epoch (from 0) | - | - | 61 | 77 |" in lines
    assert "| Best validation mean (crop px) | - | - | 4.0 px | 5.1 px |" in lines
    assert "| Trainable params | 0 | 0 | 410,625 | 410,625 |" in lines
    assert "40 labels + 240 s head training (1 CPU thread)" in table
    assert "580 ms/crop (sapiens2 backbone + head, 1 thread, cpu)" in table


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
                          "pck10_crop_px": [0.5, 0.7, 0.9]})
    lines = R.learning_curve_table(curve).splitlines()
    assert lines[2] == "| 5 | 2 | 15.0 (10.0-20.0) | 60% (50-70%) |"
    assert lines[3] == "| 40 | 1 | 5.0 (5.0-5.0) | 90% (90-90%) |"


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


def test_sweep_text_states_the_choice_made_on_val():
    sweep = pd.DataFrame({"maps": ["stage1", "stage1+stage2"], "channels": [64, 192], "best_epoch": [50, 77],
                          "best_val_mean_px": [6.5, 5.147], "val_pck10": [0.8, 0.933], "chosen": [False, True]})
    text = R.sweep_text(sweep)
    assert text.startswith("Layer choice, made on the validation crops (never on test): **stage1+stage2**")
    assert "5.15 crop px at epoch 77" in text
    assert "| stage1+stage2 | 192 | 77 | 5.15 | 93% | yes |" in text.splitlines()


def test_blog_notes_keep_the_part_2_facts():
    assert "5.47 px is the mean and the\n  median is 5.01 px" in R.BLOG_NOTES
    assert "summary_thermeval.json" in R.BLOG_SOURCE
