"""Stage mcl@<variant>: Model Compression Level, frozen ktl-<variant> -> smaller thermal student (Table I "Ours")."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams, run_mcl


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--variant", required=True, help="the KTL variant whose model is compressed")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/ktl-<variant>")
    parser.add_argument("--out", required=True, type=Path, help="data/models/mcl-<variant>")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    run_mcl(settings, args.variant, args.prepared, args.teacher, args.out, args.curves)


if __name__ == "__main__":
    stage.run(main)
