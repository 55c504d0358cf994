"""Stage speed: paper Table II and Fig. 4 on this CPU. The RTMPose sizes and every trained RTMPose checkpoint alone
(params, GFLOPs, ONNX export and parity, latency), RTMDet-nano and detector + pose end to end (a trained detector's
boxes compared on ThermEval frames), int8 students (speed-up and NME change on the T-FAKE and CHARLOTTE tests), and
the distance to the single-thread fp32 GEMM limit; the training grid's compute on paper.

Deterministic numbers go to the metrics files; wall-clock numbers, which depend on the machine and its load, to the
timing files (never gated).
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.speed.speed_table import MEASURED_ON, Outputs, SpeedConfig, run_speed


def grid_train(args) -> dict:
    """The `train` keys the training grid's compute reads (its runs, epochs and images), nothing else of `train`."""
    return {**stage.value(args, "train", keys=("seeds", "scratch_seeds", "teacher_epochs", "max_train_samples",
                                               "scratch")),
            "fit": {"epochs": stage.value(args, "train.fit.epochs")},
            "ktl": {"runs": stage.value(args, "train.ktl.runs")},
            "mcl": {"variants": stage.value(args, "train.mcl.variants")}}


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--models-dir", required=True, type=Path, help="data/models")
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake (calibration, int8 NME)")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/prepared/charlotte (int8 NME)")
    parser.add_argument("--thermeval", required=True, type=Path,
                        help="data/prepared/thermeval (the frames a trained detector's boxes are compared on)")
    parser.add_argument("--thermeval-raw", required=True, type=Path, help="data/raw/thermeval (those frames' images)")
    parser.add_argument("--caches", required=True, type=Path, help="data/cache/mlcmkd (images per epoch of the grid)")
    parser.add_argument("--onnx-dir", required=True, type=Path, help="data/onnx")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/speed.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/speed.json")
    parser.add_argument("--deploy-metrics", required=True, type=Path, help="metrics/speed/deploy.json")
    parser.add_argument("--deploy-timing", required=True, type=Path, help="metrics/timing/speed_deploy.json")
    parser.add_argument("--table", required=True, type=Path, help="plots/speed_table.md")
    parser.add_argument("--figure", required=True, type=Path, help="plots/speed_fps_vs_params (.png and .svg)")
    parser.add_argument("--grid-table", required=True, type=Path, help="plots/speed_grid.md")
    parser.add_argument("--gpu-metrics", type=Path, help="metrics/gpu (make gpu-check's measurements)")
    args = parser.parse_args()
    out = Outputs(args.onnx_dir, args.metrics, args.timing, args.deploy_metrics, args.deploy_timing, args.table,
                      args.figure, args.grid_table)
    sources = stage.sources(args, MEASURED_ON)
    run_speed(stage.config(args, "speed", SpeedConfig), args.models_dir, args.tfake, args.charlotte,
              (args.thermeval, args.thermeval_raw), out, stage.value(args, "seed"), sources,
              {"rtmpose": stage.value(args, "rtmpose"), "train": grid_train(args)}, args.caches,
              args.gpu_metrics)


if __name__ == "__main__":
    stage.run(main)
