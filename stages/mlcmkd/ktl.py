"""Stage ktl@<variant>: Knowledge Transfer Level, frozen RGB teacher -> thermal student (Tables III-V), one variant
of `train.ktl.runs` (flag sets in `train.ktl.variants`) at every student seed (`train.seeds`) and, where
`train.scratch.ktl` lists it, from scratch at `train.scratch_seeds`; `train.workers` runs at a time."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.groups import run_key
from thermbench.mlcmkd.run_outputs import GroupPaths
from thermbench.mlcmkd.settings import SCORED_ON, STUDENT_KEYS, RTMPoseParams, Settings, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--variant", required=True, help="the KTL variant (one of train.ktl.runs)")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher")
    parser.add_argument("--backbones", required=True, type=Path, nargs="+",
                        help="data/models/teacher data/models/pretrain: RGB-pretrained backbone sources")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte")
    parser.add_argument("--models", required=True, type=Path, help="data/models/ktl/<variant> (a folder per run)")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd/ktl/<variant>")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/ktl/<variant> (a JSON per run)")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/ktl/<variant>")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                            train=train_params(stage.value(args, "train", keys=STUDENT_KEYS["ktl"])),
                            data=stage.sources(args, SCORED_ON))
    paths = GroupPaths(args.models, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_key(settings, "ktl", args.variant, paths, args.backbones, args.teacher)


if __name__ == "__main__":
    stage.run(main)
