"""Stage report_mlcmkd: the paper's Tables I, III, IV, V (markdown, from the metrics only), CED, training curves,
gradient norms (Fig. 5) and a qualitative grid."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.report import write_report
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd")
    parser.add_argument("--repeats", required=True, type=Path, help="metrics/mlcmkd_repeats.json")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd")
    parser.add_argument("--out", required=True, type=Path, help="plots")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    write_report(args.tfake, args.metrics, args.repeats, args.curves, args.predictions, args.out, settings,
                 stage.value(args, "data.source"))


if __name__ == "__main__":
    stage.run(main)
