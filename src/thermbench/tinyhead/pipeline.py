"""The TinyHead stages' calls (blog part 2): cache backbone features, train the heads, evaluate and time them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.stage import seed_everything
from thermbench.models.tinyhead import count_trainable
from thermbench.tinyhead.finetune import (
    BackboneConfig,
    FrozenBackbone,
    HeadConfig,
    evaluate,
    extract_features,
    fit_protocol,
    head_backbone_config,
    load_backbone,
    load_features,
    load_head,
    load_samples,
    read_crops,
    resolve_device,
    save_features,
    save_head,
    time_inference,
    train_config,
)


def cache_features(prepared: Path, teacher: Path, out: Path, cfg: BackboneConfig, threads: int, sapiens2_cfg: dict,
                   allow_download: bool) -> None:
    """Frozen-backbone maps of every prepared crop -> `out`, computed on `cfg.device` (the head stages never run the
    backbone again). Every map a candidate in `cfg.teacher_stages` needs is kept, each under its own name."""
    torch.set_num_threads(threads)
    device = resolve_device(cfg.device)
    samples = load_samples(prepared)
    crops = read_crops(prepared, samples["crop_path"])
    model, info = load_backbone(cfg, sapiens2_cfg, allow_download, teacher)
    maps = extract_features(FrozenBackbone(model, cfg.feature_size, device), crops, cfg.batch_size)
    info.update(crop_size=int(crops.shape[-1]), feature_size=cfg.feature_size,
                maps={name: int(m.shape[1]) for name, m in maps.items()})
    with atomic_dir(out) as tmp:
        save_features(tmp, maps, samples, info)
    shapes = ", ".join(f"{name} {tuple(m.shape)}" for name, m in maps.items())
    print(f"{info['name']} features on {device}: {shapes} for {len(samples)} crops -> {out}")


def train_heads(features_dir: Path, out: Path, curve: Path, sweep_path: Path, timing: Path, cfg: HeadConfig) -> None:
    """The val sweep over backbone maps, the blog's head (all train labels, best-val checkpoint) and the learning-curve
    heads -> `out`; the main run's per-epoch curve and the sweep as plot CSVs; wall-clock training time."""
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    maps, index, backbone = load_features(features_dir)
    fit = train_config(cfg, backbone["crop_size"], backbone["feature_size"])
    start = time.perf_counter()
    runs, sweep = fit_protocol(maps, index, fit, cfg.seed, backbone["candidates"], list(cfg.label_counts),
                               list(cfg.curve_seeds), cfg.sweep_epochs)
    total = time.perf_counter() - start
    by_maps = {row["maps"]: row["best_val_mean_px"] for row in sweep}
    with atomic_dir(out) as tmp:
        for name, run in runs.items():
            best = run["history"][run["best_epoch"]]
            save_head(tmp / f"{name}.safetensors", run["head"],
                      {**fit, "backbone": backbone["name"], "maps": run["maps"], "n_labels": run["n_labels"],
                       "seed": run["seed"], "best_epoch": run["best_epoch"], "best_val_mean_px": best["val_mean_px"],
                       **({"sweep_best_val_mean_px": by_maps} if name == "main" else {})})
    history = pd.DataFrame(runs["main"]["history"])
    write_text(curve, history.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(sweep_path, pd.DataFrame(sweep).drop(columns="seconds").to_csv(index=False, float_format="%.6g",
                                                                            lineterminator="\n"))
    write_json(timing, {"threads": torch.get_num_threads(), "main_run_s": runs["main"]["seconds"],
                        "sweep_s": sum(row["seconds"] for row in sweep), "all_runs_s": total}, 2)
    main = runs["main"]
    print(f"main head on {'+'.join(main['maps'])} (chosen on val): best val mean "
          f"{main['history'][main['best_epoch']]['val_mean_px']:.2f} crop px at epoch {main['best_epoch']}")


def evaluate_heads(features_dir: Path, models: Path, prepared: Path, teacher: Path, metrics_path: Path,
                   labels: Path, predictions: Path, timing: Path, cfg: HeadConfig, sapiens2_cfg: dict) -> None:
    """Test-crop scores of the main head (crop and frame px), the learning curve, and end-to-end inference time.

    The metrics JSON holds scalars only: test errors per unit, the validation choice (best epoch and error, one
    best-val error per candidate set of maps) and the head's size; the learning curve goes to the `labels` CSV.
    """
    torch.set_num_threads(cfg.threads)
    maps, index, backbone = load_features(features_dir)
    crop_size = backbone["crop_size"]

    head, fit = load_head(models / "main.safetensors")
    table, scores = evaluate(head, maps, index, fit, crop_size)
    curve = []
    for path in sorted(models.glob("n*_s*.safetensors")):
        run_head, run_fit = load_head(path)
        _, run_scores = evaluate(run_head, maps, index, run_fit, crop_size)
        row = {"n_labels": run_fit["n_labels"], "seed": run_fit["seed"]}
        for unit, values in run_scores.items():
            row.update({f"mean_{unit}": values["mean_px"], f"median_{unit}": values["median_px"]})
            row.update({f"pck{t.removesuffix('px')}_{unit}": v for t, v in values["pck"].items()})
        curve.append(row)
    curve = pd.DataFrame(curve).sort_values(["n_labels", "seed"])
    write_json(metrics_path, {
        **scores, "val": {"best_epoch": fit["best_epoch"], "best_mean_crop_px": fit["best_val_mean_px"],
                          "sweep_best_mean_crop_px": fit["sweep_best_val_mean_px"]},
        "trainable_params": count_trainable(head), "n_train_labels": fit["n_labels"]})
    write_text(labels, curve.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(predictions, table.to_csv(index=False, float_format="%.4f", lineterminator="\n"))

    model, info = load_backbone(head_backbone_config(cfg.backbone, fit["maps"]), sapiens2_cfg, allow_download=False,
                                teacher_dir=teacher)
    if info["name"] != backbone["name"]:
        raise InputError(f"{features_dir}: features come from '{backbone['name']}' but params now give "
                         f"'{info['name']}' (re-run head_features)")
    device = resolve_device(cfg.backbone.device)
    test = index[index["split"] == "test"].head(cfg.timing_crops)
    crops = read_crops(prepared, test["crop_path"])
    times = time_inference(FrozenBackbone(model, cfg.backbone.feature_size, device), head, crops, fit["stride"],
                           fit["subpixel"])
    write_json(timing, {"backbone": backbone["name"], "threads": torch.get_num_threads(), "device": str(device),
                        "batch": 1, "n_crops_timed": int(len(times)), "median_ms_per_crop": float(np.median(times))},
               2)
    crop = scores["crop_px"]
    print(f"test ({crop['n_gt']} crops): mean {crop['mean_px']:.2f} crop px, median {crop['median_px']:.2f}; "
          f"{np.median(times):.1f} ms/crop on {device}, {torch.get_num_threads()} thread(s)")
