"""Stage head_eval: trained heads + cached features -> test-crop metrics, learning curve, predictions, timing.

Accuracy goes to `--metrics` (deterministic); wall-clock inference cost goes to `--timing` only.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.models.tinyhead import count_trainable
from thermbench.tinyhead.finetune import (
    FrozenBackbone,
    evaluate,
    load_backbone,
    load_features,
    load_head,
    read_crops,
    time_inference,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True, type=Path, help="data/features/head")
    parser.add_argument("--models", required=True, type=Path, help="data/models/head")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (crops for timing)")
    parser.add_argument("--metrics", required=True, type=Path, help="e.g. metrics/head/thermeval.json")
    parser.add_argument("--labels", required=True, type=Path, help="learning curve, e.g. plots/curves/head_labels.csv")
    parser.add_argument("--predictions", required=True, type=Path, help="e.g. data/predictions/head/test.csv")
    parser.add_argument("--timing", required=True, type=Path, help="e.g. metrics/timing/head.json")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    p = section(params, "head")
    torch.set_num_threads(p["threads"])
    features, index, backbone = load_features(args.features)
    crop_size = backbone["crop_size"]

    head, cfg = load_head(args.models / "main.safetensors")
    table, scores = evaluate(head, features, index, cfg, crop_size)
    curve = []
    for path in sorted(args.models.glob("n*_s*.safetensors")):
        run_head, run_cfg = load_head(path)
        _, run_scores = evaluate(run_head, features, index, run_cfg, crop_size)
        row = {"n_labels": run_cfg["n_labels"], "seed": run_cfg["seed"]}
        for unit, values in run_scores.items():
            row.update({f"mean_{unit}": values["mean_px"], f"median_{unit}": values["median_px"]})
            row.update({f"pck{t.removesuffix('px')}_{unit}": v for t, v in values["pck"].items()})
        curve.append(row)
    curve = pd.DataFrame(curve).sort_values(["n_labels", "seed"])
    by_count = curve.drop(columns="seed").groupby("n_labels").mean()
    write_json(args.metrics, {
        "backbone": backbone, **scores, "trainable_params": count_trainable(head), "n_train_labels": cfg["n_labels"],
        "epochs": cfg["epochs"],
        "learning_curve": {str(n): row.to_dict() for n, row in by_count.iterrows()}})
    write_text(args.labels, curve.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(args.predictions, table.to_csv(index=False, float_format="%.4f", lineterminator="\n"))

    model, info = load_backbone(p["backbone"], section(params, "zeroshot.sapiens2"), allow_download=False)
    if info["name"] != backbone["name"]:
        raise InputError(f"{args.features}: features come from '{backbone['name']}' but params now give "
                         f"'{info['name']}' (re-run head_features)")
    test = index[index["split"] == "test"].head(p["timing_crops"])
    crops = read_crops(args.prepared, test["crop_path"])
    times = time_inference(FrozenBackbone(model, p["backbone"]["feature_size"]), head, crops, cfg["stride"],
                           cfg["subpixel"])
    write_json(args.timing, {"backbone": backbone["name"], "threads": torch.get_num_threads(), "batch": 1,
                             "n_crops_timed": int(len(times)), "median_ms_per_crop": float(np.median(times))}, 2)
    crop = scores["crop_px"]
    print(f"test ({crop['n_gt']} crops): mean {crop['mean_px']:.2f} crop px, median {crop['median_px']:.2f}; "
          f"{np.median(times):.1f} ms/crop on {torch.get_num_threads()} thread(s)")


if __name__ == "__main__":
    run_stage(main)
