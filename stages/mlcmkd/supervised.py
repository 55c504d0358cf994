"""Stage supervised@<arch>: thermal-only RTMPose of one size of `rtmpose.supervised_archs` on T-FAKE thermal crops
(Table I baseline), at every student seed (`train.seeds`) and, where `train.scratch.supervised` lists the size, from
scratch at `train.scratch_seeds`; `train.workers` runs at a time, each until it converges on validation, then
scored."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.groups import run_key
from thermbench.mlcmkd.run_outputs import GroupPaths
from thermbench.mlcmkd.settings import SCORED_ON, STUDENT_KEYS, RTMPoseParams, Settings, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--arch", required=True, help="the RTMPose size (one of rtmpose.supervised_archs)")
    parser.add_argument("--backbones", required=True, type=Path, nargs="+",
                        help="data/models/teacher data/models/pretrain: RGB-pretrained backbone sources")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte")
    parser.add_argument("--models", required=True, type=Path, help="data/models/supervised/<arch> (a folder per run)")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd/supervised/<arch>")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/supervised/<arch> (a JSON per run)")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/supervised/<arch>")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                            train=train_params(stage.value(args, "train", keys=STUDENT_KEYS["supervised"])),
                            data=stage.sources(args, SCORED_ON))
    paths = GroupPaths(args.models, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_key(settings, "supervised", args.arch, paths, args.backbones)


if __name__ == "__main__":
    stage.run(main)
