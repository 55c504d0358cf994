"""The TinyHead stages' calls (blog part 2): cache backbone features, train the heads, evaluate and time them, report.

The one module `stages/tinyhead/*.py` import.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core.io import InputError, atomic_dir, read_json, write_json, write_text
from thermbench.core.stage import seed_everything
from thermbench.models.tinyhead import (
    BackboneConfig,
    FrozenBackbone,
    count_trainable,
    head_backbone_config,
    load_backbone,
    load_head,
    save_head,
    seed_heads,
)
from thermbench.tinyhead.evaluation import evaluate, time_inference
from thermbench.tinyhead.features import (
    extract_features,
    load_features,
    load_samples,
    read_crops,
    resolve_device,
    save_features,
)
from thermbench.tinyhead.protocol import fit_protocol, main_name
from thermbench.tinyhead.report import write_report
from thermbench.tinyhead.training import HeadConfig, TrainConfig

__all__ = ["BackboneConfig", "HeadConfig", "cache_features", "evaluate_heads", "train_heads", "write_report"]

RUNS = "runs.json"  # beside the heads: what head_train recorded about every run
SWEEP_RECORD = ("maps", "seed", "best_epoch", "best_val_mean_px", "convergence")  # a sweep run's entry in it


def cache_features(prepared: Path, teacher: Path, out: Path, cfg: BackboneConfig, threads: int, sapiens2_cfg: dict,
                   allow_download: bool) -> None:
    """Frozen-backbone maps of every prepared crop -> `out`, computed on `cfg.device` (the head stages never run the
    backbone again). Every map a candidate in `cfg.teacher_stages` needs is kept, each under its own name."""
    torch.set_num_threads(threads)
    device = resolve_device(cfg.device)
    samples = load_samples(prepared)
    crops = read_crops(prepared, samples["crop_path"])
    model, info = load_backbone(cfg, sapiens2_cfg, allow_download, teacher)
    maps = extract_features(FrozenBackbone(model, cfg.feature_size, device, cfg.precision), crops, cfg.batch_size)
    info.update(crop_size=int(crops.shape[-1]), feature_size=cfg.feature_size,
                maps={name: int(m.shape[1]) for name, m in maps.items()})
    with atomic_dir(out) as tmp:
        save_features(tmp, maps, samples, info)
    shapes = ", ".join(f"{name} {tuple(m.shape)}" for name, m in maps.items())
    print(f"{info['name']} features on {device}: {shapes} for {len(samples)} crops -> {out}")


def train_heads(features_dir: Path, out: Path, curve: Path, sweep_path: Path, timing: Path, cfg: HeadConfig,
                data: str) -> None:
    """The val sweep over backbone maps and seeds, the blog's head once per seed (all train labels) and the
    learning-curve heads, each trained until its val error converges and kept at its best val epoch -> `out`, with
    `runs.json` (every run's maps, seed, labels, best val epoch and error, convergence record; sweep runs included);
    the main runs' per-epoch curves (a `seed` column) and the sweep as plot CSVs; wall-clock training time, labelled
    with `data` (data.source.thermeval)."""
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seeds[0])
    maps, index, backbone = load_features(features_dir)
    fit = TrainConfig.from_head(cfg, backbone["crop_size"], backbone["feature_size"])
    start = time.perf_counter()
    runs, sweep = fit_protocol(maps, index, fit, list(cfg.seeds), backbone["candidates"], list(cfg.label_counts),
                               list(cfg.curve_seeds), cfg.sweep_epochs)
    total = time.perf_counter() - start
    by_maps = pd.DataFrame(sweep).groupby("maps", sort=False)["best_val_mean_px"].mean().to_dict()
    with atomic_dir(out) as tmp:
        for name, run in runs.items():
            save_head(tmp / f"{name}.safetensors", run["head"],
                      {**dataclasses.asdict(fit), "backbone": backbone["name"], **run_record(run),
                       **({"sweep_best_val_mean_px": by_maps} if name.startswith("main") else {})})
        write_json(tmp / RUNS, {"runs": {name: run_record(run) for name, run in runs.items()},
                                "sweep": {f"{row['maps']}_s{row['seed']}": {k: row[k] for k in SWEEP_RECORD}
                                          for row in sweep}})
    mains = [runs[main_name(s, cfg.seeds)] for s in cfg.seeds]
    history = pd.concat([pd.DataFrame(run["history"]).assign(seed=run["seed"]) for run in mains])
    write_text(curve, history[["seed", *history.columns[:-1]]].to_csv(index=False, float_format="%.6g",
                                                                     lineterminator="\n"))
    write_text(sweep_path, pd.DataFrame(sweep).drop(columns=["seconds", "convergence"]).to_csv(
        index=False, float_format="%.6g", lineterminator="\n"))
    write_json(timing, {"data": data, "threads": torch.get_num_threads(), "main_run_s": mains[0]["seconds"],
                        "sweep_s": sum(row["seconds"] for row in sweep), "all_runs_s": total}, 2)
    for run in mains:
        print(f"main head, seed {run['seed']}, on {'+'.join(run['maps'])} (chosen on val): best val mean "
              f"{run['history'][run['best_epoch']]['val_mean_px']:.2f} crop px at epoch {run['best_epoch']}, "
              f"{'converged' if run['convergence']['converged'] else 'NOT converged'} after "
              f"{len(run['history'])} epochs")


def run_record(run: dict) -> dict:
    """What a trained run's sidecar and `runs.json` keep about it."""
    return {"maps": run["maps"], "n_labels": run["n_labels"], "seed": run["seed"], "best_epoch": run["best_epoch"],
            "best_val_mean_px": run["history"][run["best_epoch"]]["val_mean_px"], "convergence": run["convergence"]}


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


def convergence_summary(runs: dict) -> dict:
    """`runs.json` -> the metrics' convergence block: every run's record (main, label curve, sweep) and the names of
    those that did not converge."""
    records = {**runs["runs"], **{f"sweep_{name}": rec for name, rec in runs["sweep"].items()}}
    return {"runs": {name: rec["convergence"] for name, rec in sorted(records.items())},
            "not_converged": sorted(n for n, rec in records.items() if not rec["convergence"]["converged"])}


def evaluate_heads(features_dir: Path, models: Path, prepared: Path, teacher: Path, metrics_path: Path,
                   labels: Path, predictions: Path, timing: Path, cfg: HeadConfig, sapiens2_cfg: dict,
                   data: str) -> None:
    """Test-crop scores of the main head of every seed (crop and frame px), the learning curve, and end-to-end
    inference time.

    The metrics JSON holds scalars only: the base seed's test errors per unit (top level, as a single run's), each
    seed's and their mean and sd (`seeds`, `over_seeds`), the validation choice (the base seed's best epoch and error,
    the seed-mean best-val error per candidate set of maps), every run's convergence record and the head's size; the
    learning curve goes to the `labels` CSV, every seed's test predictions (a `seed` column) to `predictions`.
    """
    torch.set_num_threads(cfg.threads)
    maps, index, backbone = load_features(features_dir)
    crop_size = backbone["crop_size"]
    heads = seed_heads(models)
    if list(heads) != sorted(cfg.seeds):
        raise InputError(f"{models}: heads of seeds {list(heads)} but params head.seeds are {list(cfg.seeds)} "
                         "(re-run head_train)")

    loaded = {seed: load_head(path) for seed, path in heads.items()}
    per_seed, tables = {}, []
    for seed, (seed_head, seed_fit) in loaded.items():
        table, per_seed[seed] = evaluate(seed_head, maps, index, seed_fit, crop_size)
        tables.append(table.assign(seed=seed))
    base = cfg.seeds[0]
    head, fit = loaded[base]
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
    curve = pd.DataFrame(curve).sort_values(["n_labels", "seed"])
    write_json(metrics_path, {
        "data": data, **per_seed[base], "base_seed": base,
        "seeds": {str(s): {**per_seed[s], "best_epoch": fitted["best_epoch"],
                           "best_val_mean_crop_px": fitted["best_val_mean_px"]} for s, (_, fitted) in loaded.items()},
        "over_seeds": seed_summary(per_seed),
        "val": {"best_epoch": fit["best_epoch"], "best_mean_crop_px": fit["best_val_mean_px"],
                "sweep_best_mean_crop_px": fit["sweep_best_val_mean_px"]},
        "convergence": convergence_summary(read_json(models / RUNS)),
        "trainable_params": count_trainable(head), "n_train_labels": fit["n_labels"]})
    write_text(labels, curve.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    table = pd.concat(tables)
    write_text(predictions, table[["seed", *table.columns[:-1]]].to_csv(index=False, float_format="%.4f",
                                                                       lineterminator="\n"))

    model, info = load_backbone(head_backbone_config(cfg.backbone, fit["maps"]), sapiens2_cfg, allow_download=False,
                                teacher_dir=teacher)
    if info["name"] != backbone["name"]:
        raise InputError(f"{features_dir}: features come from '{backbone['name']}' but params now give "
                         f"'{info['name']}' (re-run head_features)")
    device = resolve_device(cfg.backbone.device)
    test = index[index["split"] == "test"].head(cfg.timing_crops)
    crops = read_crops(prepared, test["crop_path"])
    backbone_model = FrozenBackbone(model, cfg.backbone.feature_size, device, cfg.backbone.precision)
    times = time_inference(backbone_model, head, crops, fit["stride"], fit["subpixel"])
    write_json(timing, {"data": data, "backbone": backbone["name"], "threads": torch.get_num_threads(),
                        "device": str(device),
                        "batch": 1, "n_crops_timed": int(len(times)), "median_ms_per_crop": float(np.median(times))},
               2)
    for seed, scores in per_seed.items():
        crop = scores["crop_px"]
        print(f"seed {seed}, test ({crop['n_gt']} crops): mean {crop['mean_px']:.2f} crop px, median "
              f"{crop['median_px']:.2f}")
    print(f"{np.median(times):.1f} ms/crop on {device}, {torch.get_num_threads()} thread(s)")
