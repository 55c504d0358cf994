"""Stage fetch@<dataset>: download a real dataset into <out> (the raw stage calls the same library function)."""

import argparse
from pathlib import Path

from thermbench.datasets.fetch import LAYOUTS, fetch
from thermbench.io import load_params, run_stage, section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=sorted(LAYOUTS))
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/raw/<dataset>")
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    fetch(args.dataset, args.out, section(load_params(args.params), f"fetch.{args.dataset}"))


if __name__ == "__main__":
    run_stage(main)
