"""Stage report_head: the blog's part-2 table (zero-shot crop-protocol columns beside the head), figures."""

from pathlib import Path

from thermbench.core import stage
from thermbench.tinyhead.report import write_report


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/head/thermeval.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/head.json")
    parser.add_argument("--train-timing", required=True, type=Path, help="metrics/timing/head_train.json")
    parser.add_argument("--zeroshot", required=True, type=Path, help="metrics/zeroshot (its *.json files)")
    parser.add_argument("--zeroshot-timing", required=True, type=Path, help="metrics/timing/zeroshot")
    parser.add_argument("--curve", required=True, type=Path, help="plots/curves/head.csv")
    parser.add_argument("--labels", required=True, type=Path, help="plots/curves/head_labels.csv")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/head/test.csv")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (crops for the figure)")
    parser.add_argument("--out", required=True, type=Path, help="e.g. plots/head")
    args = parser.parse_args()
    write_report(args.metrics, args.timing, args.train_timing, args.zeroshot, args.zeroshot_timing, args.curve,
                 args.labels, args.predictions, args.prepared, args.out, stage.value(args, "data.source"),
                 stage.value(args, "head.pck_thresholds"))


if __name__ == "__main__":
    stage.run(main)
