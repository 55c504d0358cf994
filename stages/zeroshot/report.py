"""Stage report_zeroshot: the blog's part-1 table, PCK curves, detection bars and a qualitative grid -> plots/."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.bakeoff import ZeroshotConfig, write_report


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/zeroshot")
    parser.add_argument("--predictions", type=Path, required=True, help="data/predictions/zeroshot")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--out", type=Path, required=True, help="plots")
    args = parser.parse_args()
    write_report(args.metrics, args.predictions, args.raw, args.out, stage.config(args, "zeroshot", ZeroshotConfig))


if __name__ == "__main__":
    stage.run(main)
