"""The TinyHead stages' calls end to end on a tiny prepared folder and a tiny teacher: features -> val sweep and heads
-> test metrics -> report."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from raw_builders import build_prepared_crops
from thermbench.core.io import InputError
from thermbench.models.rtmpose import build_rtmpose, save_model
from thermbench.models.tinyhead import BackboneConfig, seed_heads
from thermbench.tinyhead.compare import unconverged_runs
from thermbench.tinyhead.evaluation import HeadInputs, HeadOutputs, evaluate_heads, seed_summary
from thermbench.tinyhead.features import cache_features
from thermbench.tinyhead.protocol import train_heads
from thermbench.tinyhead.report import write_report
from thermbench.tinyhead.training import HeadConfig

CROP = 32


def make_prepared(root, n=(6, 3, 4)):
    return build_prepared_crops(root, CROP, n)


def config(**overrides) -> HeadConfig:
    backbone = BackboneConfig(name="teacher", fallback=None, teacher_input_px=(32, 32),
                                teacher_stages=((1,), (1, 2)), feature_size=4, batch_size=4, device="cpu")
    fields = {"sigma": 1.0, "subpixel": False, "checkpoint": "best_val", "sweep_epochs": None, "lr": 3e-3,
              "weight_decay": 1e-4, "epochs": 3, "patience": None, "min_delta": 0.02, "batch_size": 4, "seeds": (0, 1),
              "label_counts": (2, 6),
              "curve_seeds": (0,), "pck_thresholds": (3, 5, 10, 20), "threads": 1, "timing_crops": 3,
              "warmup_epochs": 0, "init": "default", **overrides}
    return HeadConfig(backbone=backbone, **fields)


def test_features_sweep_heads_metrics_and_report(tmp_path):
    prepared = make_prepared(tmp_path / "prepared")
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    save_model(build_rtmpose("t", input_size=(32, 32)), teacher / "model.safetensors")
    cfg = config()
    cache_features(prepared, teacher, tmp_path / "features", cfg.backbone, 1, {}, False)
    info = json.loads((tmp_path / "features/backbone.json").read_text())
    # the union of the candidates' stages is extracted once, each map under its name
    assert info["candidates"] == [["stage1"], ["stage1", "stage2"]] and info["maps"] == {"stage1": 48, "stage2": 96}

    out = tmp_path / "out"
    train_heads(tmp_path / "features", out / "heads", out / "curve.csv", out / "sweep.csv", out / "train.json", cfg,
                "synthetic")
    sweep = pd.read_csv(out / "sweep.csv")
    assert sweep["maps"].tolist() == ["stage1", "stage1", "stage1+stage2", "stage1+stage2"]
    assert sweep["seed"].tolist() == [0, 1, 0, 1] and sweep["chosen"].sum() == 2
    chosen = sweep[sweep["chosen"]].iloc[0]
    assert sweep[sweep["chosen"]]["best_val_mean_px"].mean() == sweep.groupby("maps")["best_val_mean_px"].mean().min()
    history = pd.read_csv(out / "curve.csv")
    assert history["seed"].tolist() == [0, 0, 0, 1, 1, 1] and history["epoch"].tolist() == [0, 1, 2] * 2
    assert sorted(p.name for p in (out / "heads").glob("*.safetensors")) == [
        "main.safetensors", "main_s1.safetensors", "n2_s0.safetensors", "n6_s0.safetensors"]
    assert seed_heads(out / "heads") == {0: out / "heads/main.safetensors", 1: out / "heads/main_s1.safetensors"}

    evaluate_heads(HeadInputs(tmp_path / "features", out / "heads", prepared, teacher),
                   HeadOutputs(out / "metrics.json", out / "labels.csv", out / "predictions.csv", out / "timing.json"),
                   cfg, {}, "synthetic")
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"data", "crop_px", "frame_px", "base_seed", "seeds", "over_seeds", "val", "convergence",
                            "recipe", "trainable_params", "n_train_labels"}  # scalars only
    assert metrics["recipe"] == {"lr": 3e-3, "weight_decay": 1e-4, "warmup_epochs": 0, "init": "default",
                                 "batch_size": 4, "epochs": 3}
    assert metrics["val"]["best_epoch"] == int(sweep[sweep["chosen"] & (sweep["seed"] == 0)]["best_epoch"].iloc[0])
    assert metrics["val"]["sweep_best_mean_crop_px"] == pytest.approx(
        sweep.groupby("maps")["best_val_mean_px"].mean().to_dict(), rel=1e-5)
    assert metrics["base_seed"] == 0 and metrics["crop_px"] == metrics["seeds"]["0"]["crop_px"]
    assert metrics["over_seeds"]["crop_px"]["mean_px"]["mean"] == pytest.approx(
        (metrics["seeds"]["0"]["crop_px"]["mean_px"] + metrics["seeds"]["1"]["crop_px"]["mean_px"]) / 2, abs=1e-5)
    # patience None: no run converged; the sweep runs are listed too, and the rule they were held to
    assert metrics["convergence"]["criterion"] == "early stopping off (fixed schedule)"
    assert metrics["convergence"]["failed_to_train"] == sorted(
        name for name, rec in metrics["convergence"]["runs"].items() if rec["best_epoch"] == 0)
    assert metrics["convergence"]["not_converged"] == ["main", "main_s1", "n2_s0", "n6_s0", "sweep_stage1+stage2_s0",
                                                       "sweep_stage1+stage2_s1", "sweep_stage1_s0", "sweep_stage1_s1"]
    assert pd.read_csv(out / "labels.csv")["n_labels"].tolist() == [2, 6]
    assert pd.read_csv(out / "predictions.csv")["seed"].tolist() == [0] * 4 + [1] * 4
    assert json.loads((out / "timing.json").read_text())["device"] == "cpu"

    zeroshot = fake_zeroshot(prepared, tmp_path / "zeroshot")
    write_report(out / "metrics.json", out / "timing.json", out / "train.json", tmp_path / "features",
                 out / "sweep.csv", zeroshot / "metrics", tmp_path / "absent", zeroshot / "predictions",
                 out / "curve.csv", out / "labels.csv", out / "predictions.csv", prepared, {},
                 out / "report", out / "conclusions.json", "synthetic", [3, 5, 10, 20])
    report = (out / "report/report.md").read_text()
    assert f"Layer choice, made on the validation crops (never on test): **{chosen['maps']}**" in report
    assert "TinyHead (blog, real ThermEval-D)" in report and "summary_thermeval.json" in report
    assert "No statement for sapiens2 (weights not available)." in report
    # one list behind both the report's sentence and every statement's reason: the main and sweep runs, none
    # converged (patience None), those whose best epoch is 0 named as failed to train
    rest_on, others = unconverged_runs(metrics["convergence"])
    assert [name.split(" ")[0] for name in rest_on] == ["main", "main_s1", "sweep_stage1+stage2_s0",
                                                        "sweep_stage1+stage2_s1", "sweep_stage1_s0", "sweep_stage1_s1"]
    runs = metrics["convergence"]["runs"]
    assert [f"{n} (failed to train)" if runs[n]["best_epoch"] == 0 else n for n in ["main", "n2_s0"]] == [
        rest_on[0], others[0]]
    assert f"so every one is blocked: {', '.join(rest_on)}." in report
    statements = json.loads((out / "conclusions.json").read_text())["statements"]
    assert [s["id"] for s in statements] == ["head.vs_dlib68.mean_crop_px", "head.vs_dlib68.pck10_crop_px"]
    assert not any(s["resolved"] for s in statements)
    assert all(s["why"] == f"TinyHead run(s) not converged: {', '.join(rest_on)}" for s in statements)
    assert "on the 3 test crops dlib68 found" in statements[0]["claim"]  # one of the 4 has no prediction
    assert {p.name for p in (out / "report").iterdir()} >= {"report.md", "training.png", "training.svg"}


def fake_zeroshot(prepared: Path, root: Path) -> Path:
    """A zero-shot model (dlib68) that ran, with a metrics block and crop records (0.5 frame px off in x, one test
    crop without a prediction), and one (sapiens2) whose weights were absent."""
    (root / "metrics").mkdir(parents=True)
    (root / "predictions").mkdir()
    unit = {"n_gt": 4, "detection_rate": 0.75, "mean_px": 1.0, "median_px": 1.0,
            "pck": {"3px": 0.75, "5px": 0.75, "10px": 0.75, "20px": 0.75}}
    (root / "metrics/dlib68.json").write_text(json.dumps({"status": "ok", "crop": {"crop_px": unit,
                                                                                  "frame_px": unit}}))
    (root / "metrics/sapiens2.json").write_text(json.dumps({"status": "weights not available: put them at X"}))
    test = pd.read_csv(prepared / "samples.csv").query("split == 'test'")
    records = [{"sample_id": r.sample_id, "split": "test", "gt": [r.frame_nose_x, r.frame_nose_y],
                "pred": None if i == 0 else [r.frame_nose_x + 0.5, r.frame_nose_y], "box": [0, 0, 16, 64]}
               for i, r in enumerate(test.itertuples())]
    (root / "predictions/dlib68.json").write_text(json.dumps({"status": "ok", "crop": records}))
    return root


def test_features_on_an_absent_gpu_is_one_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = config()
    bad = BackboneConfig(**{**cfg.backbone.__dict__, "device": "cuda"})
    with pytest.raises(InputError, match="no CUDA GPU"):
        cache_features(make_prepared(tmp_path / "prepared"), tmp_path, tmp_path / "features", bad, 1, {}, False)


def test_seed_summary_means_and_sample_sds():
    def scores(mean, pck10):
        unit = {"mean_px": mean, "median_px": mean - 1, "pck": {"10px": pck10}}
        return {"crop_px": unit}

    over = seed_summary({0: scores(4.0, 0.5), 1: scores(5.0, 0.75), 2: scores(6.0, 1.0)})
    # mean 5, sd sqrt(((4-5)^2 + 0 + (6-5)^2) / 2) = 1; PCK 0.75, sd 0.25
    assert over["crop_px"]["mean_px"] == {"mean": 5.0, "sd": 1.0}
    assert over["crop_px"]["median_px"] == {"mean": 4.0, "sd": 1.0}
    assert over["crop_px"]["pck"]["10px"] == {"mean": 0.75, "sd": 0.25}
    assert seed_summary({0: scores(4.0, 0.5)})["crop_px"]["mean_px"] == {"mean": 4.0, "sd": None}
