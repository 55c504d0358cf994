"""Stage speed_submissions: the ONNX models declared in submissions.yaml timed as paper Table II's checkpoints are,
with their weights and multiply-adds (speed/speed_submissions.py)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.submissions import onnx_models
from thermbench.speed.speed_submissions import run as speed_submissions
from thermbench.speed.speed_table import MEASURED_ON, SpeedConfig


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/speed_submissions.json")
    parser.add_argument("--timing", required=True, type=Path, help="metrics/timing/speed_submissions.json")
    parser.add_argument("--table", required=True, type=Path, help="plots/speed_submissions.md")
    args = parser.parse_args()
    speed_submissions(onnx_models(args.submissions), stage.config(args, "speed", SpeedConfig).timing,
                          args.metrics, args.timing, args.table, stage.sources(args, MEASURED_ON))


if __name__ == "__main__":
    stage.run(main)
