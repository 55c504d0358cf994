"""Stage prepare@<dataset>: raw dataset folder -> <out>/samples.csv + crops (same code for real and synthetic data)."""

import argparse
from pathlib import Path

from thermbench.core.io import InputError, atomic_dir
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage

DATASETS = ("thermeval", "tfake", "charlotte")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--raw", required=True, type=Path, help="raw folder, e.g. data/raw/<dataset>")
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. data/prepared/<dataset>")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg, seed = section(params, f"prepare.{args.dataset}"), section(params, "seed")
    if not args.raw.is_dir():
        raise InputError(f"{args.raw}: raw dataset folder not found (run the raw/fetch stage first)")
    if args.dataset == "thermeval":
        from thermbench.datasets.thermeval import prepare
    elif args.dataset == "tfake":
        from thermbench.datasets.tfake import prepare
    else:
        from thermbench.datasets.charlotte import prepare
    with atomic_dir(args.out) as tmp:
        prepare(args.raw, tmp, cfg, seed)


if __name__ == "__main__":
    run_stage(main)
