"""Stages teacher and pretrain@<arch>: RGB RTMPose pretrained on the RGB face set until it converges (the teacher from
official mmpose weights or the CSPNeXt checkpoint of its size where given), scored on T-FAKE RGB test crops and
zero-shot on their thermal twins. The teacher is also the pretrained backbone of its size; `--arch` pretrains another
size only as a students' backbone."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.run_outputs import RunPaths
from thermbench.mlcmkd.runs import run_teacher
from thermbench.mlcmkd.settings import SCORED_ON, RTMPoseParams, Settings, TeacherTrainParams, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--pretrain", required=True, type=Path, help="data/cache/mlcmkd/rgbpretrain")
    parser.add_argument("--arch", help="pretrain this RTMPose size as a backbone source (default: the teacher)")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte")
    parser.add_argument("--out", required=True, type=Path, help="data/models/<run>")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/<run>.json")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/<run>.npy")
    args = parser.parse_args()
    teacher_keys = {"device": stage.value(args, "train.device"), "num_threads": stage.value(args, "train.num_threads"),
                    "teacher_epochs": stage.value(args, "train.teacher_epochs"), "fit": stage.value(args, "train.fit")}
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                            train=train_params(teacher_keys, TeacherTrainParams),
                            data=stage.sources(args, SCORED_ON))
    paths = RunPaths(args.out, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_teacher(settings, args.pretrain, paths, args.arch)


if __name__ == "__main__":
    stage.run(main)
