"""The TinyHead's test scores (crop and frame px) of every seed, its learning curve and end-to-end inference time:
the head_eval stage's `evaluate_heads`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core import metrics
from thermbench.core.convergence import stop_rule
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.progress import progress
from thermbench.models.tinyhead import (
    FrozenBackbone,
    TinyHead,
    count_trainable,
    decode_heatmap,
    head_backbone_config,
    load_backbone,
    load_head,
    predict,
    seed_heads,
)
from thermbench.tinyhead.features import load_features, read_crops, resolve_device, select_features, split_data
from thermbench.tinyhead.protocol import RUNS
from thermbench.tinyhead.training import HeadConfig, point_errors, stop_config


def evaluate(head: TinyHead, maps: dict[str, torch.Tensor], index: pd.DataFrame, record: dict, crop_size: int,
             split: str = "test") -> tuple[pd.DataFrame, dict]:
    """Per-crop predictions and the blog's table entries, in crop px and in frame px; the head's `save_head`
    record gives the maps that feed it, its stride and decode.

    Frame px: the crop resized its window (box_w x box_h) to crop_size x crop_size, one scale per axis, so a crop
    error vector converts by (box_w, box_h) / crop_size whatever the offset convention.
    """
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    feats, gt = split_data(select_features(maps, record["maps"]), index, split)
    pred = predict(head, feats, record["stride"], record["subpixel"])
    scale = index.iloc[rows][["box_w", "box_h"]].to_numpy(dtype=np.float64) / crop_size
    errors = {"crop_px": point_errors(pred, gt), "frame_px": point_errors(pred, gt, scale)}
    table = pd.DataFrame({"sample_id": index["sample_id"].iloc[rows].to_numpy(), "pred_x": pred[:, 0].numpy(),
                          "pred_y": pred[:, 1].numpy(), "nose_x": gt[:, 0].numpy(), "nose_y": gt[:, 1].numpy(),
                          "error_crop_px": errors["crop_px"], "error_frame_px": errors["frame_px"]})
    return table, {unit: metrics.nose_summary(err, record["pck_thresholds"]) for unit, err in errors.items()}


@torch.no_grad()
def time_inference(backbone: FrozenBackbone, head: TinyHead, crops: torch.Tensor, stride: float, subpixel: bool,
                   warmup: int = 2) -> np.ndarray:
    """Wall-clock ms per crop for the whole predictor (backbone + head + decode), batch 1, after `warmup` crops, with
    backbone and head on the backbone's device (the decode copies the heatmap back, which waits for the GPU)."""
    head = head.eval().to(backbone.device)
    times = []
    for i, crop in enumerate(progress(crops, desc="timing", unit="crop")):
        start = time.perf_counter()
        decode_heatmap(head(backbone(crop[None])).cpu(), stride, subpixel)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return np.asarray(times)


def seed_summary(per_seed: dict[int, dict]) -> dict:
    """{unit: {"mean_px" | "median_px": {"mean", "sd"}, "pck": {"<t>px": {"mean", "sd"}}}} over the seeds' test
    scores (`metrics.nose_summary` blocks per unit); sd is the sample sd (ddof 1), None for a single seed."""
    def spread(values: list[float]) -> dict:
        return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}

    blocks = list(per_seed.values())
    out = {}
    for unit in blocks[0]:
        out[unit] = {key: spread([b[unit][key] for b in blocks]) for key in ("mean_px", "median_px")}
        out[unit]["pck"] = {t: spread([b[unit]["pck"][t] for b in blocks]) for t in blocks[0][unit]["pck"]}
    return out


def convergence_summary(runs: dict, criterion: str) -> dict:
    """`runs.json` -> the metrics' convergence block: the stopping rule every run was held to (`criterion`), every
    run's record (main, label curve, sweep), the names of those that did not converge and, among them, of those
    that failed to train (best at their first validation)."""
    records = {**runs["runs"], **{f"sweep_{name}": rec for name, rec in runs["sweep"].items()}}
    return {"criterion": criterion, "runs": {name: rec["convergence"] for name, rec in sorted(records.items())},
            "not_converged": sorted(n for n, rec in records.items() if not rec["convergence"]["converged"]),
            "failed_to_train": sorted(n for n, rec in records.items() if rec["convergence"].get("failed_to_train"))}


RECIPE = ("lr", "weight_decay", "warmup_epochs", "init", "batch_size", "epochs")  # the metrics' training recipe


@dataclass(frozen=True)
class HeadInputs:
    """What head_eval reads: the feature cache, the trained heads, the prepared crops (for timing) and the offline
    backbone's teacher folder."""

    features: Path
    models: Path
    prepared: Path
    teacher: Path


@dataclass(frozen=True)
class HeadOutputs:
    """What head_eval writes: the metrics JSON, the learning-curve CSV, every seed's test predictions, the timing."""

    metrics: Path
    labels: Path
    predictions: Path
    timing: Path


def learning_curve(models: Path, maps: dict[str, torch.Tensor], index: pd.DataFrame, crop_size: int) -> pd.DataFrame:
    """One row per learning-curve head (`n<labels>_s<seed>`): its test errors in every unit, and its convergence."""
    curve = []
    for path in sorted(models.glob("n*_s*.safetensors")):
        run_head, run_fit = load_head(path)
        _, run_scores = evaluate(run_head, maps, index, run_fit, crop_size)
        row = {"n_labels": run_fit["n_labels"], "seed": run_fit["seed"],
               "converged": run_fit["convergence"]["converged"], "epochs_run": run_fit["convergence"]["epochs_run"]}
        for unit, values in run_scores.items():
            row.update({f"mean_{unit}": values["mean_px"], f"median_{unit}": values["median_px"]})
            row.update({f"pck{t.removesuffix('px')}_{unit}": v for t, v in values["pck"].items()})
        curve.append(row)
    return pd.DataFrame(curve).sort_values(["n_labels", "seed"])


def time_head(inputs: HeadInputs, head: TinyHead, fit: dict, backbone: dict, index: pd.DataFrame, cfg: HeadConfig,
              sapiens2_cfg: dict) -> tuple[np.ndarray, torch.device]:
    """ms per crop of backbone + head + decode on the first `cfg.timing_crops` test crops; the backbone the params
    give now must be the one the features came from."""
    model, info = load_backbone(head_backbone_config(cfg.backbone, fit["maps"]), sapiens2_cfg, allow_download=False,
                                teacher_dir=inputs.teacher)
    if info["name"] != backbone["name"]:
        raise InputError(f"{inputs.features}: features come from '{backbone['name']}' but params now give "
                         f"'{info['name']}' (re-run head_features)")
    device = resolve_device(cfg.backbone.device)
    test = index[index["split"] == "test"].head(cfg.timing_crops)
    crops = read_crops(inputs.prepared, test["crop_path"])
    backbone_model = FrozenBackbone(model, cfg.backbone.feature_size, device, cfg.backbone.precision)
    return time_inference(backbone_model, head, crops, fit["stride"], fit["subpixel"]), device


def evaluate_heads(inputs: HeadInputs, outputs: HeadOutputs, cfg: HeadConfig, sapiens2_cfg: dict, data: str) -> None:
    """Test-crop scores of the main head of every seed (crop and frame px), the learning curve, and end-to-end
    inference time.

    The metrics JSON holds scalars only: the base seed's test errors per unit (top level, as a single run's), each
    seed's and their mean and sd (`seeds`, `over_seeds`), the validation choice (the base seed's best epoch and error,
    the seed-mean best-val error per candidate set of maps), every run's convergence record, the training recipe
    (`RECIPE`, as the base seed's head records it) and the head's size; the
    learning curve goes to the `labels` CSV, every seed's test predictions (a `seed` column) to `predictions`.
    """
    torch.set_num_threads(cfg.threads)
    maps, index, backbone = load_features(inputs.features)
    crop_size = backbone["crop_size"]
    heads = seed_heads(inputs.models)
    if list(heads) != sorted(cfg.seeds):
        raise InputError(f"{inputs.models}: heads of seeds {list(heads)} but params head.seeds are "
                         f"{list(cfg.seeds)} (re-run head_train)")

    loaded = {seed: load_head(path) for seed, path in heads.items()}
    per_seed, tables = {}, []
    for seed, (seed_head, seed_fit) in loaded.items():
        table, per_seed[seed] = evaluate(seed_head, maps, index, seed_fit, crop_size)
        tables.append(table.assign(seed=seed))
    base = cfg.seeds[0]
    head, fit = loaded[base]
    curve = learning_curve(inputs.models, maps, index, crop_size)
    write_json(outputs.metrics, {
        "data": data, **per_seed[base], "base_seed": base,
        "seeds": {str(s): {**per_seed[s], "best_epoch": fitted["best_epoch"],
                           "best_val_mean_crop_px": fitted["best_val_mean_px"],
                           "converged": fitted["convergence"]["converged"]} for s, (_, fitted) in loaded.items()},
        "over_seeds": seed_summary(per_seed),
        "val": {"best_epoch": fit["best_epoch"], "best_mean_crop_px": fit["best_val_mean_px"],
                "sweep_best_mean_crop_px": fit["sweep_best_val_mean_px"]},
        "convergence": convergence_summary(read_json(inputs.models / RUNS), stop_rule(stop_config(cfg))),
        "recipe": {key: fit[key] for key in RECIPE}, "trainable_params": count_trainable(head),
        "n_train_labels": fit["n_labels"]})
    write_text(outputs.labels, curve.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    table = pd.concat(tables)
    write_text(outputs.predictions, table[["seed", *table.columns[:-1]]].to_csv(index=False, float_format="%.4f",
                                                                               lineterminator="\n"))

    times, device = time_head(inputs, head, fit, backbone, index, cfg, sapiens2_cfg)
    write_json(outputs.timing, {"data": data, "backbone": backbone["name"], "threads": torch.get_num_threads(),
                                "device": str(device), "batch": 1, "n_crops_timed": int(len(times)),
                                "median_ms_per_crop": float(np.median(times))}, 2)
    for seed, scores in per_seed.items():
        crop = scores["crop_px"]
        print(f"seed {seed}, test ({crop['n_gt']} crops): mean {crop['mean_px']:.2f} crop px, median "
              f"{crop['median_px']:.2f}")
    print(f"{np.median(times):.1f} ms/crop on {device}, {torch.get_num_threads()} thread(s)")
