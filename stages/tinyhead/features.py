"""Stage head_features: thermeval crops -> frozen-backbone features, cached once for every head run.

Depends only on the crops, the backbone and its params (`head.backbone`, `head.threads`, where the Sapiens2 weights
are: `zeroshot.sapiens2`, `data.source`), so head hyper-parameters never recompute these.
"""

import argparse
from pathlib import Path

import torch

from thermbench.core.io import atomic_dir
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.tinyhead.finetune import (
    FrozenBackbone,
    extract_features,
    load_backbone,
    load_samples,
    read_crops,
    save_features,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/features/head")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = section(params, "head.backbone")
    torch.set_num_threads(section(params, "head.threads"))
    samples = load_samples(args.prepared)
    crops = read_crops(args.prepared, samples["crop_path"])
    model, info = load_backbone(cfg, section(params, "zeroshot.sapiens2"), section(params, "data.source") == "real")
    features = extract_features(FrozenBackbone(model, cfg["feature_size"]), crops, cfg["batch_size"])
    info.update(crop_size=int(crops.shape[-1]), feature_size=cfg["feature_size"])
    with atomic_dir(args.out) as tmp:
        save_features(tmp, features, samples, info)
    print(f"{info['name']} features {tuple(features.shape)} for {len(samples)} crops -> {args.out}")


if __name__ == "__main__":
    run_stage(main)
