"""Stage speed: params, GFLOPs and CPU latency of the RTMPose sizes, and ONNX export, parity and CPU latency of
every trained RTMPose checkpoint (paper Table II, Fig. 4).

Deterministic numbers (params, FLOPs, ONNX agreement) go to the metrics file; wall-clock latencies, which depend on
the machine, to the timing file (never gated).
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.speed import run_speed


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--models-dir", required=True, type=Path, help="data/models")
    parser.add_argument("--onnx-dir", required=True, type=Path, help="data/onnx")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/speed.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/speed.json")
    parser.add_argument("--table", required=True, type=Path, help="plots/speed_table.md")
    parser.add_argument("--figure", required=True, type=Path, help="plots/speed_fps_vs_params (.png and .svg)")
    args = parser.parse_args()
    run_speed(args.models_dir, args.onnx_dir, args.metrics, args.timing, args.table, args.figure,
              stage.value(args, "speed"), stage.value(args, "seed"), stage.value(args, "data.source"))


if __name__ == "__main__":
    stage.run(main)
