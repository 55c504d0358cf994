"""Stage prepare@<dataset>: raw dataset folder -> <out>/samples.csv + crops (same code for real and synthetic data)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.prepare import prepare
from thermbench.datasets.registry import DATASETS


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    parser.add_argument("--raw", required=True, type=Path, help="raw folder, e.g. data/raw/<dataset>")
    parser.add_argument("--out", required=True, type=Path, help="output folder, e.g. data/prepared/<dataset>")
    args = parser.parse_args()
    prepare(args.dataset, args.raw, args.out, stage.value(args, f"prepare.{args.dataset}"), stage.value(args, "seed"))


if __name__ == "__main__":
    stage.run(main)
