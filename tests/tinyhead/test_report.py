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


def test_comparison_table_puts_zero_shot_beside_the_head():
    head = {**block(5.5, 0.93), "trainable_params": 410625, "n_train_labels": 40}
    zeroshot = {"dwpose": {**block(3.3, 0.99, detection=0.975), "timing": None}, "sapiens2": "weights not available"}
    table = R.comparison_table(head, {"median_ms_per_crop": 580.4, "backbone": "sapiens2", "threads": 1},
                               {"main_run_s": 240.2, "threads": 1}, zeroshot, [3, 5, 10, 20])
    lines = table.splitlines()
    assert lines[0] == "| Metric | dwpose | sapiens2 | Finetuned TinyHead |"
    assert "| Detection rate over GT | 98% | weights not available | 100% by protocol" in table
    assert "| Mean nose error (crop px) | 3.3 px | weights not available | 5.5 px |" in lines
    assert "| PCK@10px (crop px) | 99% | weights not available | 93% |" in lines
    assert "| Mean nose error (frame px) | 1.6 px | weights not available | 2.8 px |" in lines
    assert "| Trainable params | 0 | 0 | 410,625 |" in lines
    assert "40 labels + 240 s head training (1 CPU thread)" in table
    assert "580 ms/crop (sapiens2 backbone + head, 1 thread)" in table


def test_convergence_text_is_computed_from_the_curve():
    epochs = np.arange(1, 121)
    two = np.exp(-np.clip(epochs - 1, 0, 10) * 0.3) * np.exp(-np.clip(epochs - 40, 0, 10) * 0.1)
    text = R.convergence_text(pd.DataFrame({"val_loss": two}))
    assert text.startswith("Two-stage convergence shows up") and "2 phases" in text
    one = np.exp(-np.clip(epochs - 1, 0, 10) * 0.3)
    assert R.convergence_text(pd.DataFrame({"val_loss": one})).startswith("No two-stage convergence")


def test_learning_curve_table_averages_seeds():
    curve = pd.DataFrame({"n_labels": [5, 5, 40], "seed": [0, 1, 0], "mean_crop_px": [10.0, 20.0, 5.0],
                          "pck10_crop_px": [0.5, 0.7, 0.9]})
    lines = R.learning_curve_table(curve).splitlines()
    assert lines[2] == "| 5 | 2 | 15.0 (10.0-20.0) | 60% (50-70%) |"
    assert lines[3] == "| 40 | 1 | 5.0 (5.0-5.0) | 90% (90-90%) |"


def test_backbone_text_names_the_grid_the_input_size_and_the_stages():
    backbone = {"name": "teacher", "arch": "s", "channels": 192, "feature_size": 16, "crop_size": 256,
                "trained_px": [96, 96], "input_px": [256, 256], "stages": [1, 2]}
    text = R.backbone_text(backbone, 279_553)
    assert "192-channel features on a 16x16 grid from 256 px crops" in text and "279,553 trainable parameters" in text
    assert "trained at 96x96 px" in text and "at its own 256x256 px" in text
    # 256 / 4 = 64 and 256 / 8 = 32 cells per side
    assert "stage 1 (stride 4, 64x64 cells) + stage 2 (stride 8, 32x32 cells)" in text and "Why:" in text
    deep = R.backbone_text({**backbone, "input_px": [256, 512], "stages": [4]}, 279_553)
    assert "resized to 256x512 px (w x h)" in deep and "stage 4 (stride 32, 8x16 cells)" in deep
    assert "Why:" not in deep and "transfer worst" in deep
    sapiens = R.backbone_text({"name": "sapiens2", "arch": "0.4b", "channels": 1024, "feature_size": 16,
                               "crop_size": 256}, 410_625)
    assert "Teacher features" not in sapiens
