"""Stage teacher: RGB RTMPose trained on the RGB half of paired T-FAKE (optionally from official mmpose weights)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams, run_teacher


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--out", required=True, type=Path, help="data/models/teacher")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    run_teacher(settings, args.prepared, args.out, args.curves)


if __name__ == "__main__":
    stage.run(main)
