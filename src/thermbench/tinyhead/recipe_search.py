"""The choice of the TinyHead's lr, warm-up and initialisation, made on the validation crops (never on test).

Each candidate recipe (`CANDIDATES`: the blog's and a few variants) replaces head.lr, head.warmup_epochs and
head.init in the params' head recipe; one head per candidate, set of backbone maps (the candidates head_train sweeps
over) and seed in head.seeds trains on every train crop and is scored on the val crops, as head_train trains its
heads. Per candidate: the runs that failed to train (best validation at the first), those that did not converge, and
the mean and worst best-val mean error (crop px) over its runs. The chosen candidate is the one with no run that
failed to train and the lowest mean (the first on a tie); none when every candidate has such a run.

    python -m thermbench.tinyhead.recipe_search --features data/features/head --out conclusions/head_recipe.json
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.core.parallel import ordered_map
from thermbench.tinyhead.features import load_features
from thermbench.tinyhead.protocol import fit_head, map_label
from thermbench.tinyhead.training import HeadConfig, TrainConfig

CANDIDATES = {  # name -> the head params it sets: each init with the blog's lr, a 5-epoch warm-up to it, or lr 1e-3
    "blog": {"lr": 3e-3, "warmup_epochs": 0, "init": "default"},
    "warmup5": {"lr": 3e-3, "warmup_epochs": 5, "init": "default"},
    "lr1e-3": {"lr": 1e-3, "warmup_epochs": 0, "init": "default"},
    "zero_last": {"lr": 3e-3, "warmup_epochs": 0, "init": "zero_last"},
    "zero_last+warmup5": {"lr": 3e-3, "warmup_epochs": 5, "init": "zero_last"},
    "zero_last+lr1e-3": {"lr": 1e-3, "warmup_epochs": 0, "init": "zero_last"},
}
RULE = ("no run failed to train (best validation at the first), then the lowest mean best-val mean error (crop px) "
        "over every set of maps and seed; the first candidate on a tie; val crops only")


def search(maps: dict[str, torch.Tensor], index: pd.DataFrame, base: TrainConfig, candidates: dict[str, dict],
           map_sets: list[list[str]], seeds: list[int], workers: int = 1) -> dict[str, dict]:
    """{candidate: `summarise` of its runs}: one head per candidate, set of maps and seed, on every train crop."""
    everything = np.arange(int((index["split"] == "train").sum()))
    jobs = [(names, everything, seed, dataclasses.replace(base, **recipe))
            for recipe in candidates.values() for names in map_sets for seed in seeds]
    fitted = list(ordered_map(partial(fit_head, maps, index, torch.get_num_threads()), jobs, "recipe search",
                              workers=workers, unit="head"))
    k = len(map_sets) * len(seeds)  # runs per candidate, in job order
    return {name: {**recipe, **summarise(fitted[i * k:(i + 1) * k])}
            for i, (name, recipe) in enumerate(candidates.items())}


def summarise(runs: list[dict]) -> dict:
    """One candidate's runs (`fit_head` results) -> the runs that failed to train or did not converge (by name,
    "<maps>_s<seed>"), the mean and worst best-val mean error (crop px) and every run's record."""
    records = {f"{map_label(run['maps'])}_s{run['seed']}": {
        "best_epoch": run["best_epoch"], "best_val_mean_px": run["history"][run["best_epoch"]]["val_mean_px"],
        "epochs_run": len(run["history"]), "converged": run["convergence"]["converged"],
        "failed_to_train": bool(run["convergence"].get("failed_to_train"))} for run in runs}
    errors = [r["best_val_mean_px"] for r in records.values()]
    return {"failed_to_train": [n for n, r in records.items() if r["failed_to_train"]],
            "not_converged": [n for n, r in records.items() if not r["converged"]],
            "mean_best_val_px": float(np.mean(errors)), "worst_best_val_px": float(np.max(errors)), "runs": records}


def choose(summaries: dict[str, dict]) -> str | None:
    """The candidate `RULE` picks; None when every candidate has a run that failed to train."""
    trained = [name for name, s in summaries.items() if not s["failed_to_train"]]
    return min(trained, key=lambda name: summaries[name]["mean_best_val_px"]) if trained else None  # min: first tie


def table(summaries: dict[str, dict], chosen: str | None) -> str:
    """The candidates as aligned text lines, for the terminal."""
    lines = [f"{'candidate':<20} {'lr':>7} {'warm-up':>7} {'init':<10} {'mean px':>8} {'worst px':>8}  failed to train"
             f" / not converged"]
    for name, s in summaries.items():
        mark = " <- chosen" if name == chosen else ""
        lines.append(f"{name:<20} {s['lr']:>7g} {s['warmup_epochs']:>7} {s['init']:<10} {s['mean_best_val_px']:>8.2f} "
                     f"{s['worst_best_val_px']:>8.2f}  {', '.join(s['failed_to_train']) or '-'} / "
                     f"{', '.join(s['not_converged']) or '-'}{mark}")
    return "\n".join(lines)


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--features", required=True, type=Path, help="head_features' output, e.g. data/features/head")
    parser.add_argument("--out", required=True, type=Path, help="the search's JSON")
    parser.add_argument("--workers", type=int, default=1, help="heads trained at once, one process each")
    args = parser.parse_args()
    cfg = stage.config(args, "head", HeadConfig)
    torch.set_num_threads(cfg.threads)
    maps, index, backbone = load_features(args.features)
    base = TrainConfig.from_head(cfg, backbone["crop_size"], backbone["feature_size"])
    summaries = search(maps, index, base, CANDIDATES, backbone["candidates"], list(cfg.seeds), args.workers)
    chosen = choose(summaries)
    write_json(args.out, {"features": str(args.features), "backbone": backbone["name"],
                          "maps": [map_label(m) for m in backbone["candidates"]], "seeds": list(cfg.seeds),
                          "base": {k: v for k, v in dataclasses.asdict(base).items() if k not in CANDIDATES["blog"]},
                          "rule": RULE, "candidates": summaries, "chosen": chosen})
    print(table(summaries, chosen))
    print(f"chosen: {chosen or 'none (every candidate has a run that failed to train)'} -> {args.out}")


if __name__ == "__main__":
    stage.run(main)
