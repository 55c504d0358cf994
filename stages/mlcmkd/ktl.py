"""Stage ktl: Knowledge Transfer Level, frozen RGB teacher -> thermal student (Tables III-V), every variant x student
seed of params (`train.ktl.runs`, flag sets in `train.ktl.variants`; `train.seeds`) and the from-scratch runs
(`train.scratch`), `train.workers` at a time."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import GroupPaths, RTMPoseParams, Settings, run_group, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher")
    parser.add_argument("--backbones", required=True, type=Path, nargs="+",
                        help="data/models/teacher data/models/pretrain-<arch>...: RGB-pretrained backbone sources")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake.npz")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte.npz")
    parser.add_argument("--models", required=True, type=Path, help="data/models/ktl (a folder per run)")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd/ktl")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/ktl (a JSON per run)")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/ktl")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=train_params(stage.value(args, "train")))
    paths = GroupPaths(args.models, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_group(settings, "ktl", paths, args.backbones, args.teacher)


if __name__ == "__main__":
    stage.run(main)
