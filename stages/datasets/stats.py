"""Stage stats: split sizes and mean coordinates of data/prepared/<dataset> -> metrics/datasets/<dataset>.json,
labelled with where the data came from (--source: its data.source, or real for the fetched RGB sets)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.datasets.stats import prepared_summary


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--source", required=True, choices=["synthetic", "real"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write_json(args.out, {"data": args.source, **prepared_summary(args.prepared)})


if __name__ == "__main__":
    stage.run(main)
