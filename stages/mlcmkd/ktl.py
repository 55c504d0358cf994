"""Stage ktl@<variant>: Knowledge Transfer Level, frozen RGB teacher -> thermal student on paired T-FAKE.

The variant names a flag set in params `train.ktl.variants` (fd/ld/fi/ri): Tables III and IV.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams, run_ktl


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher")
    parser.add_argument("--out", required=True, type=Path, help="data/models/ktl-<variant>")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    run_ktl(settings, args.variant, args.prepared, args.teacher, args.out, args.curves)


if __name__ == "__main__":
    stage.run(main)
