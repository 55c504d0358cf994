"""Stage supervised@<arch>: thermal-only RTMPose-<arch> on T-FAKE thermal crops (Table I supervised baseline)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams, run_supervised
from thermbench.models.rtmpose import ARCHS


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--out", required=True, type=Path, help="data/models/supervised-<arch>")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    run_supervised(settings, args.arch, args.prepared, args.out, args.curves)


if __name__ == "__main__":
    stage.run(main)
