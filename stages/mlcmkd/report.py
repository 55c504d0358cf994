"""Stage report_mlcmkd: the paper's Tables I, III, IV, V with mean ± sd over student seeds, paired differences
(Holm, bootstrap over test images), rank orders, the teacher and mean-shape checks, convergence and loss balance
(markdown, summary scalars, statements), CED, training curves, gradient norms (Fig. 5) and a qualitative grid."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check
from thermbench.mlcmkd.report import write_report
from thermbench.mlcmkd.settings import SCORED_ON, RTMPoseParams, Settings, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd")
    parser.add_argument("--submitted", required=True, type=Path, help="metrics/table1_submissions.json")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd")
    parser.add_argument("--out", required=True, type=Path, help="plots")
    parser.add_argument("--summary", required=True, type=Path, help="metrics/mlcmkd_summary.json")
    parser.add_argument("--statements", required=True, type=Path, help="metrics/conclusions/mlcmkd.json")
    parser.add_argument("--kernel-check", required=True, type=Path,
                        help="conclusions/kernel_check.json (committed by `make conclusions`; absent: none yet)")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                            train=train_params(stage.value(args, "train")),
                            data=stage.sources(args, SCORED_ON))
    write_report(args.tfake, args.metrics, args.submitted, args.curves, args.predictions, args.out, args.summary,
                     args.statements, read_kernel_check(args.kernel_check, args.params, "mlcmkd"), settings)


if __name__ == "__main__":
    stage.run(main)
