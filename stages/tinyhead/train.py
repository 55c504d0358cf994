"""Stage head_train: cached features -> the blog's TinyHead (all train labels) + learning-curve heads.

Writes `<out>/<run>.safetensors` (+ `.json`) for run `main` and `n<labels>_s<seed>`, the main run's per-epoch
train/val loss and val PCK as a DVC plot CSV, and training wall-clock time to `--timing`.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch

from thermbench.core.io import atomic_dir, write_json, write_text
from thermbench.core.stage import load_params, section, seed_everything
from thermbench.core.stage import run as run_stage
from thermbench.tinyhead.finetune import fit_protocol, load_features, save_head, train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True, type=Path, help="data/features/head")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/models/head")
    parser.add_argument("--curve", required=True, type=Path, help="e.g. plots/curves/head.csv")
    parser.add_argument("--timing", required=True, type=Path, help="e.g. metrics/timing/head_train.json")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    p = section(load_params(args.params), "head")
    torch.set_num_threads(p["threads"])
    seed_everything(p["seed"])
    features, index, backbone = load_features(args.features)
    cfg = train_config(p, backbone["crop_size"], backbone["feature_size"])
    runs = fit_protocol(features, index, cfg, p["seed"], p["label_counts"], p["curve_seeds"])
    with atomic_dir(args.out) as tmp:
        for name, run in runs.items():
            save_head(tmp / f"{name}.safetensors", run["head"],
                      {**cfg, "backbone": backbone["name"], "n_labels": run["n_labels"], "seed": run["seed"]})
    history = pd.DataFrame(runs["main"]["history"])
    write_text(args.curve, history.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_json(args.timing, {"threads": torch.get_num_threads(), "main_run_s": runs["main"]["seconds"],
                             "all_runs_s": sum(run["seconds"] for run in runs.values()), "runs": len(runs)}, 2)
    last = history.iloc[-1]
    print(f"main head: {len(history)} epochs, final val loss {last.val_loss:.3g}, val mean {last.val_mean_px:.2f} px")


if __name__ == "__main__":
    run_stage(main)
