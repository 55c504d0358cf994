"""Stage pretrain: an RTMPose of every size in `rtmpose.pretrain_archs` pretrained on the RGB face set as the teacher
is, until it converges: the offline stand-in for the pose-pretrained CSPNeXt backbone students of that size start
from (the teacher is the one of its own size)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.run_outputs import GroupPaths
from thermbench.mlcmkd.runs import run_pretrain
from thermbench.mlcmkd.settings import SCORED_ON, RTMPoseParams, Settings, TeacherTrainParams, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--pretrain", required=True, type=Path, help="data/cache/mlcmkd/rgbpretrain")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte")
    parser.add_argument("--models", required=True, type=Path, help="data/models/pretrain (a folder per size)")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd/pretrain")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/pretrain (a JSON per size)")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/pretrain")
    args = parser.parse_args()
    teacher_keys = {"device": stage.value(args, "train.device"), "num_threads": stage.value(args, "train.num_threads"),
                    "teacher_epochs": stage.value(args, "train.teacher_epochs"), "fit": stage.value(args, "train.fit")}
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                            train=train_params(teacher_keys, TeacherTrainParams),
                            data=stage.sources(args, SCORED_ON))
    paths = GroupPaths(args.models, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_pretrain(settings, args.pretrain, paths)


if __name__ == "__main__":
    stage.run(main)
