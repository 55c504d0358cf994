"""The blog's finetune protocol on cached features: the validation sweep over backbone maps, the main heads per seed and
the learning-curve heads.

Which maps feed the head is chosen on the validation crops by training one head per candidate (never on test).
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.parallel import ordered_map
from thermbench.core.stage import seed_everything
from thermbench.models.tinyhead import save_head
from thermbench.tinyhead.features import load_features, select_features, split_data
from thermbench.tinyhead.training import HeadConfig, TrainConfig, train_head


def label_subset(n_train: int, n_labels: int, seed: int) -> np.ndarray:
    """The first `n_labels` of a seeded permutation of the train rows (nested in n_labels for one seed)."""
    if not 0 < n_labels <= n_train:
        raise InputError(f"params.yaml: head.label_counts entry {n_labels} is outside 1..{n_train} train crops")
    return np.random.default_rng(seed).permutation(n_train)[:n_labels]


def map_label(names) -> str:
    """A candidate set of backbone maps as one readable key, e.g. "stage1+stage2"."""
    return "+".join(names)


def main_name(seed: int, seeds) -> str:
    """The main run of `seed`: "main" for the base seed (the first of `seeds`; what a single-head consumer loads),
    "main_s<seed>" for the others."""
    return "main" if seed == seeds[0] else f"main_s{seed}"


def fit_protocol(maps: dict[str, torch.Tensor], index: pd.DataFrame, cfg: TrainConfig, seeds, candidates,
                 label_counts, curve_seeds, sweep_epochs: int | None = None,
                 workers: int | None = None) -> tuple[dict[str, dict], list[dict]]:
    """The val sweep over backbone maps, the blog's head once per seed (`main_name`) and the learning-curve heads
    ("n<labels>_s<seed>").

    One head per candidate set of maps and seed is trained on every train label (for `sweep_epochs`, with the lr
    schedule over them; None = the full recipe); the candidate with the lowest best-epoch validation mean error
    averaged over the seeds (crop px; the first on a tie) is chosen, so the test crops never take part in the choice.
    The main runs are the chosen candidate's sweep heads when the sweep ran the full recipe, else full-recipe heads on
    the chosen maps. The learning-curve heads use the chosen maps; a run with every label and a main seed is that main
    run itself. Each run: {"head", "history", "best_epoch", "convergence", "maps", "n_labels", "seed", "seconds"};
    the sweep: one row per candidate and seed (its convergence record under "convergence"). Heads train in `workers`
    processes (None = one per core, 1 = in this process), each with this process's torch thread count: independent
    seeded runs, so the heads are the same either way.
    """
    if not seeds or not label_counts or not curve_seeds:
        raise InputError("params.yaml: head.seeds, head.label_counts and head.curve_seeds must each list at least "
                         "one value")
    if not candidates:
        raise InputError("params.yaml: head.backbone.teacher_stages must list at least one candidate")

    fit = partial(fit_head, maps, index, torch.get_num_threads())
    n_train = int((index["split"] == "train").sum())
    everything = np.arange(n_train)
    short = sweep_epochs is not None and sweep_epochs != cfg.epochs
    sweep_cfg = dataclasses.replace(cfg, epochs=sweep_epochs) if short else cfg
    fitted = list(ordered_map(fit, [(names, everything, s, sweep_cfg) for names in candidates for s in seeds],
                              "val sweep", workers=workers, unit="head"))
    sweep = [_sweep_row(run) for run in fitted]
    by_maps: dict[str, list[float]] = {}
    for row in sweep:
        by_maps.setdefault(row["maps"], []).append(row["best_val_mean_px"])
    chosen = min(by_maps, key=lambda m: np.mean(by_maps[m]))  # min keeps the first of equal means
    for row in sweep:
        row["chosen"] = row["maps"] == chosen
    names = next(run["maps"] for run in fitted if map_label(run["maps"]) == chosen)

    curve = [(n, s) for n in label_counts for s in curve_seeds if not (n == n_train and s in seeds)]
    jobs = [(names, everything, s, cfg) for s in seeds] if short else []
    jobs += [(names, everything if n == n_train else label_subset(n_train, n, s), s, cfg) for n, s in curve]
    more = list(ordered_map(fit, jobs, "main and label-curve heads", workers=workers, unit="head"))
    main = dict(zip(seeds, more)) if short else {run["seed"]: run for run in fitted if run["maps"] == names}
    runs = {main_name(s, seeds): main[s] for s in seeds}
    runs.update({f"n{n}_s{s}": run for (n, s), run in zip(curve, more[len(jobs) - len(curve):])})
    runs.update({f"n{n_train}_s{s}": main[s] for s in curve_seeds if n_train in label_counts and s in seeds})
    return runs, sweep


def _sweep_row(run: dict) -> dict:
    best = run["history"][run["best_epoch"]]
    return {"maps": map_label(run["maps"]), "seed": run["seed"], "channels": run["head"].in_channels,
            "best_epoch": run["best_epoch"], "best_val_mean_px": best["val_mean_px"],
            **{k: v for k, v in best.items() if k.startswith("val_pck")},
            "last_val_mean_px": run["history"][-1]["val_mean_px"], "epochs_run": len(run["history"]),
            "converged": run["convergence"]["converged"],
            "failed_to_train": bool(run["convergence"].get("failed_to_train")), "seconds": run["seconds"],
            "convergence": run["convergence"]}


def fit_head(maps: dict[str, torch.Tensor], index: pd.DataFrame, threads: int, job: tuple) -> dict:
    """One head trained on train rows and scored on the val split (module level: a worker process runs it), as
    `fit_protocol` and the recipe search train theirs. `job` = (map names, train rows, seed, its TrainConfig)."""
    names, rows, run_seed, run_cfg = job
    torch.set_num_threads(threads)
    feats = select_features(maps, names)
    train_feats, train_points = split_data(feats, index, "train")
    val_feats, val_points = split_data(feats, index, "val")
    start = time.perf_counter()
    head, history, best, record = train_head(train_feats[rows], train_points[rows], val_feats, val_points, run_cfg,
                                             run_seed)
    return {"head": head, "history": history, "best_epoch": best, "convergence": record, "maps": list(names),
            "n_labels": len(rows), "seed": run_seed, "seconds": time.perf_counter() - start}


RUNS = "runs.json"  # beside the heads: what head_train recorded about every run
SWEEP_RECORD = ("maps", "seed", "best_epoch", "best_val_mean_px", "convergence")  # a sweep run's entry in it


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
              f"{convergence_state(run['convergence'])} after "
              f"{len(run['history'])} epochs")


def convergence_state(record: dict) -> str:
    """A convergence record in two words, for a progress line."""
    if record.get("failed_to_train"):
        return "FAILED to train (best at the first validation)"
    return "converged" if record["converged"] else "NOT converged"


def run_record(run: dict) -> dict:
    """What a trained run's sidecar and `runs.json` keep about it."""
    return {"maps": run["maps"], "n_labels": run["n_labels"], "seed": run["seed"], "best_epoch": run["best_epoch"],
            "best_val_mean_px": run["history"][run["best_epoch"]]["val_mean_px"], "convergence": run["convergence"]}
