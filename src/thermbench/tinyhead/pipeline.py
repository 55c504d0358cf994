"""The TinyHead stages' calls (blog part 2): cache backbone features, train the heads, evaluate and time them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.stage import seed_everything
from thermbench.models.tinyhead import count_trainable
from thermbench.tinyhead.finetune import (
    FrozenBackbone,
    HeadConfig,
    evaluate,
    extract_features,
    fit_protocol,
    load_backbone,
    load_features,
    load_head,
    load_samples,
    read_crops,
    save_features,
    save_head,
    time_inference,
    train_config,
)


def cache_features(prepared: Path, teacher: Path, out: Path, cfg: HeadConfig, sapiens2_cfg: dict,
                   allow_download: bool) -> None:
    """Frozen-backbone features of every prepared crop -> `out` (the head stages never run the backbone again)."""
    torch.set_num_threads(cfg.threads)
    samples = load_samples(prepared)
    crops = read_crops(prepared, samples["crop_path"])
    model, info = load_backbone(cfg.backbone, sapiens2_cfg, allow_download, teacher)
    features = extract_features(FrozenBackbone(model, cfg.backbone.feature_size), crops, cfg.backbone.batch_size)
    info.update(crop_size=int(crops.shape[-1]), feature_size=cfg.backbone.feature_size)
    with atomic_dir(out) as tmp:
        save_features(tmp, features, samples, info)
    print(f"{info['name']} features {tuple(features.shape)} for {len(samples)} crops -> {out}")


def train_heads(features_dir: Path, out: Path, curve: Path, timing: Path, cfg: HeadConfig) -> None:
    """The blog's head (all train labels) and the learning-curve heads -> `out`; the main run's curve and timing."""
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    features, index, backbone = load_features(features_dir)
    fit = train_config(cfg, backbone["crop_size"], backbone["feature_size"])
    runs = fit_protocol(features, index, fit, cfg.seed, list(cfg.label_counts), list(cfg.curve_seeds))
    with atomic_dir(out) as tmp:
        for name, run in runs.items():
            save_head(tmp / f"{name}.safetensors", run["head"],
                      {**fit, "backbone": backbone["name"], "n_labels": run["n_labels"], "seed": run["seed"]})
    history = pd.DataFrame(runs["main"]["history"])
    write_text(curve, history.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_json(timing, {"threads": torch.get_num_threads(), "main_run_s": runs["main"]["seconds"],
                        "all_runs_s": sum(run["seconds"] for run in runs.values()), "runs": len(runs)}, 2)
    last = history.iloc[-1]
    print(f"main head: {len(history)} epochs, final val loss {last.val_loss:.3g}, val mean {last.val_mean_px:.2f} px")


def evaluate_heads(features_dir: Path, models: Path, prepared: Path, teacher: Path, metrics_path: Path,
                   labels: Path, predictions: Path, timing: Path, cfg: HeadConfig, sapiens2_cfg: dict) -> None:
    """Test-crop scores of the main head (crop and frame px), the learning curve, and end-to-end inference time."""
    torch.set_num_threads(cfg.threads)
    features, index, backbone = load_features(features_dir)
    crop_size = backbone["crop_size"]

    head, fit = load_head(models / "main.safetensors")
    table, scores = evaluate(head, features, index, fit, crop_size)
    curve = []
    for path in sorted(models.glob("n*_s*.safetensors")):
        run_head, run_fit = load_head(path)
        _, run_scores = evaluate(run_head, features, index, run_fit, crop_size)
        row = {"n_labels": run_fit["n_labels"], "seed": run_fit["seed"]}
        for unit, values in run_scores.items():
            row.update({f"mean_{unit}": values["mean_px"], f"median_{unit}": values["median_px"]})
            row.update({f"pck{t.removesuffix('px')}_{unit}": v for t, v in values["pck"].items()})
        curve.append(row)
    curve = pd.DataFrame(curve).sort_values(["n_labels", "seed"])
    by_count = curve.drop(columns="seed").groupby("n_labels").mean()
    write_json(metrics_path, {
        "backbone": backbone, **scores, "trainable_params": count_trainable(head), "n_train_labels": fit["n_labels"],
        "epochs": fit["epochs"],
        "learning_curve": {str(n): row.to_dict() for n, row in by_count.iterrows()}})
    write_text(labels, curve.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(predictions, table.to_csv(index=False, float_format="%.4f", lineterminator="\n"))

    model, info = load_backbone(cfg.backbone, sapiens2_cfg, allow_download=False, teacher_dir=teacher)
    if info["name"] != backbone["name"]:
        raise InputError(f"{features_dir}: features come from '{backbone['name']}' but params now give "
                         f"'{info['name']}' (re-run head_features)")
    test = index[index["split"] == "test"].head(cfg.timing_crops)
    crops = read_crops(prepared, test["crop_path"])
    times = time_inference(FrozenBackbone(model, cfg.backbone.feature_size), head, crops, fit["stride"],
                           fit["subpixel"])
    write_json(timing, {"backbone": backbone["name"], "threads": torch.get_num_threads(), "batch": 1,
                        "n_crops_timed": int(len(times)), "median_ms_per_crop": float(np.median(times))}, 2)
    crop = scores["crop_px"]
    print(f"test ({crop['n_gt']} crops): mean {crop['mean_px']:.2f} crop px, median {crop['median_px']:.2f}; "
          f"{np.median(times):.1f} ms/crop on {torch.get_num_threads()} thread(s)")
