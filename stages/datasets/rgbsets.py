"""Stage rgbsets@<name>: the union of the prepared real RGB sets in data.rgb_sets, the teacher's pretraining set."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.rgbsets import union


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/rgb (a folder per set)")
    parser.add_argument("--out", required=True, type=Path, help="data/prepared/<name>")
    args = parser.parse_args()
    union(args.prepared, list(stage.value(args, "data.rgb_sets")), args.out)


if __name__ == "__main__":
    stage.run(main)
