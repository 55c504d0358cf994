"""Stage raw@<dataset>: produce data/raw/<dataset> — synthesised offline, or downloaded when data.source.<dataset> is
real."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.raw import make_raw
from thermbench.datasets.registry import DATASETS


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    make_raw(args.dataset, args.out, stage.value(args, f"data.source.{args.dataset}"), stage.value(args, "seed"),
             stage.value(args, f"synth.{args.dataset}"), stage.value(args, f"fetch.{args.dataset}"))


if __name__ == "__main__":
    stage.run(main)
