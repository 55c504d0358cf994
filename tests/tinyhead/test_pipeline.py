"""The TinyHead stages' calls end to end on a tiny prepared folder and a tiny teacher: features -> val sweep and heads
-> test metrics -> report."""

import json

import pandas as pd
import pytest

from raw_builders import build_prepared_crops
from thermbench.core.io import InputError
from thermbench.models.rtmpose import build_rtmpose, save_model
from thermbench.tinyhead import finetune as H
from thermbench.tinyhead.pipeline import cache_features, evaluate_heads, train_heads
from thermbench.tinyhead.report import write_report

CROP = 32


def make_prepared(root, n=(6, 3, 4)):
    return build_prepared_crops(root, CROP, n)


def config(**overrides) -> H.HeadConfig:
    backbone = H.BackboneConfig(name="teacher", fallback=None, teacher_input_px=(32, 32),
                                teacher_stages=((1,), (1, 2)), feature_size=4, batch_size=4, device="cpu")
    fields = {"sigma": 1.0, "subpixel": False, "checkpoint": "best_val", "sweep_epochs": None, "lr": 3e-3,
              "weight_decay": 1e-4, "epochs": 3, "batch_size": 4, "seed": 0, "label_counts": (2, 6),
              "curve_seeds": (0,), "pck_thresholds": (3, 5, 10, 20), "threads": 1, "timing_crops": 3, **overrides}
    return H.HeadConfig(backbone=backbone, **fields)


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
    train_heads(tmp_path / "features", out / "heads", out / "curve.csv", out / "sweep.csv", out / "train.json", cfg)
    sweep = pd.read_csv(out / "sweep.csv")
    assert sweep["maps"].tolist() == ["stage1", "stage1+stage2"] and sweep["chosen"].sum() == 1
    chosen = sweep[sweep["chosen"]].iloc[0]
    assert chosen["best_val_mean_px"] == sweep["best_val_mean_px"].min()
    history = pd.read_csv(out / "curve.csv")
    assert history["epoch"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in (out / "heads").glob("*.safetensors")) == ["main.safetensors", "n2_s0.safetensors",
                                                                           "n6_s0.safetensors"]

    evaluate_heads(tmp_path / "features", out / "heads", prepared, teacher, out / "metrics.json", out / "labels.csv",
                   out / "predictions.csv", out / "timing.json", cfg, {})
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"crop_px", "frame_px", "val", "trainable_params", "n_train_labels"}  # scalars only
    assert metrics["val"]["best_epoch"] == int(chosen["best_epoch"])
    assert metrics["val"]["sweep_best_mean_crop_px"] == pytest.approx(
        dict(zip(sweep["maps"], sweep["best_val_mean_px"])), rel=1e-5)
    assert pd.read_csv(out / "labels.csv")["n_labels"].tolist() == [2, 6]
    assert json.loads((out / "timing.json").read_text())["device"] == "cpu"

    write_report(out / "metrics.json", out / "timing.json", out / "train.json", tmp_path / "features",
                 out / "sweep.csv", tmp_path / "absent", tmp_path / "absent", out / "curve.csv", out / "labels.csv",
                 out / "predictions.csv", prepared, out / "report", "synthetic", [3, 5, 10, 20])
    report = (out / "report/report.md").read_text()
    assert f"Layer choice, made on the validation crops (never on test): **{chosen['maps']}**" in report
    assert f"epoch {metrics['val']['best_epoch']} (from 0)" in report
    assert "TinyHead (blog, real ThermEval-D)" in report and "summary_thermeval.json" in report
    assert {p.name for p in (out / "report").iterdir()} >= {"report.md", "training.png", "training.svg"}


def test_features_on_an_absent_gpu_is_one_clear_error(tmp_path):
    if H.torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = config()
    bad = H.BackboneConfig(**{**cfg.backbone.__dict__, "device": "cuda"})
    with pytest.raises(InputError, match="no CUDA GPU"):
        cache_features(make_prepared(tmp_path / "prepared"), tmp_path, tmp_path / "features", bad, 1, {}, False)
