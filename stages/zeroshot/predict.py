"""Stage zeroshot@<model>: a zero-shot model on the ThermEval nose protocol (full frame + crop + convention offset).

Writes predictions (JSON), metrics (JSON) and wall-clock timing (JSON). When the model's weights are not on this
machine, all three hold only a status line and the stage still succeeds, so `dvc repro` completes.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.bakeoff import config, predict


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--model", required=True, help="a built-in model (submissions.yaml, builtin.zeroshot)")
    parser.add_argument("--prepared", type=Path, required=True, help="data/prepared/thermeval")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--predictions", type=Path, required=True, help="e.g. data/predictions/zeroshot/<model>.json")
    parser.add_argument("--metrics", type=Path, required=True, help="e.g. metrics/zeroshot/<model>.json")
    parser.add_argument("--timing", type=Path, required=True, help="e.g. metrics/timing/zeroshot/<model>.json")
    args = parser.parse_args()
    predict(args.model, args.prepared, args.raw, args.predictions, args.metrics, args.timing,
            config(stage.value(args, "zeroshot")), stage.value(args, "prepare.thermeval.crop_size"),
            stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
