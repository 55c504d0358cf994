"""Stage prepare_rgb@<set>: a real RGB face set's raw folder -> 68-point RGB face crops + samples.csv."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.rgbsets import RGB_SETS
from thermbench.datasets.rgbsets import prepare as prepare_rgb


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--dataset", required=True, choices=RGB_SETS)
    parser.add_argument("--raw", required=True, type=Path, help="data/raw/<set>")
    parser.add_argument("--out", required=True, type=Path, help="data/prepared/rgb/<set>")
    args = parser.parse_args()
    prepare_rgb(args.dataset, args.raw, args.out, stage.value(args, f"prepare.{args.dataset}"))


if __name__ == "__main__":
    stage.run(main)
