"""Stage raw@<dataset>: produce data/raw/<dataset> — synthesised offline, or downloaded when data.source is real."""

import argparse
from pathlib import Path

from thermbench.core.io import InputError
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=["thermeval", "tfake", "charlotte"])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--params", default="params.yaml", type=Path)
    args = parser.parse_args()
    params = load_params(args.params)
    source = section(params, "data.source")
    if source == "synthetic":
        from thermbench.datasets import synth

        synth.write(args.dataset, args.out, section(params, f"synth.{args.dataset}"), seed=section(params, "seed"))
    elif source == "real":
        from thermbench.datasets import fetch

        fetch.fetch(args.dataset, args.out, section(params, f"fetch.{args.dataset}"))
    else:
        raise InputError(f"params.yaml: data.source must be 'synthetic' or 'real', not '{source}'")


if __name__ == "__main__":
    run_stage(main)
