"""Stage report_head: the blog's part-2 table (zero-shot columns, our head, the blog's own), the TinyHead-vs-zero-shot
statements (also as a metrics JSON), val choice, convergence, figures."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check
from thermbench.tinyhead.report import write_report


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/head/thermeval.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/head.json")
    parser.add_argument("--train-timing", required=True, type=Path, help="metrics/timing/head_train.json")
    parser.add_argument("--features", required=True, type=Path, help="data/features/head (its backbone.json)")
    parser.add_argument("--sweep", required=True, type=Path, help="plots/curves/head_sweep.csv")
    parser.add_argument("--zeroshot", required=True, type=Path, help="metrics/zeroshot (its *.json files)")
    parser.add_argument("--zeroshot-timing", required=True, type=Path, help="metrics/timing/zeroshot")
    parser.add_argument("--zeroshot-predictions", required=True, type=Path,
                        help="data/predictions/zeroshot (per-crop records for the paired comparisons)")
    parser.add_argument("--curve", required=True, type=Path, help="plots/curves/head.csv")
    parser.add_argument("--labels", required=True, type=Path, help="plots/curves/head_labels.csv")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/head/test.csv")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (crops for the figure)")
    parser.add_argument("--kernel-check", required=True, type=Path,
                        help="conclusions/kernel_check.json (verdicts under other CPU kernels; absent = none yet)")
    parser.add_argument("--out", required=True, type=Path, help="e.g. plots/head")
    parser.add_argument("--conclusions", required=True, type=Path, help="e.g. metrics/conclusions/head.json")
    args = parser.parse_args()
    write_report(args.metrics, args.timing, args.train_timing, args.features, args.sweep, args.zeroshot,
                 args.zeroshot_timing, args.zeroshot_predictions, args.curve, args.labels, args.predictions,
                 args.prepared, read_kernel_check(args.kernel_check, args.params, "head"), args.out,
                 args.conclusions, stage.value(args, "data.source.thermeval"), stage.value(args, "head.pck_thresholds"))


if __name__ == "__main__":
    stage.run(main)
