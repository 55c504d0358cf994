"""Stage mcl@<variant>: Model Compression Level, the frozen base-seed KTL model -> a smaller thermal student (eq. 9)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.runs import RTMPoseParams, RunPaths, Settings, run_mcl, train_params


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/ktl/ktl-<variant>-seed<seed>")
    parser.add_argument("--backbone", required=True, type=Path,
                        help="data/models/teacher (the RGB teacher: rtmpose.student_backbone's source)")
    parser.add_argument("--tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake.npz")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte.npz")
    parser.add_argument("--out", required=True, type=Path, help="data/models/<run>")
    parser.add_argument("--curves", required=True, type=Path, help="plots/curves/mlcmkd")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/<run>.json")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/<run>.npy")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=train_params(stage.value(args, "train")))
    paths = RunPaths(args.out, args.curves, args.metrics, args.predictions, args.tfake, args.charlotte)
    run_mcl(settings, args.variant, args.teacher, args.backbone, paths)


if __name__ == "__main__":
    stage.run(main)
