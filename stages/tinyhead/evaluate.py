"""Stage head_eval: the TinyHead of every seed on the test crops (crop and frame px), learning curve, convergence,
end-to-end inference time."""

from pathlib import Path

from thermbench.core import stage
from thermbench.tinyhead.evaluation import HeadInputs, HeadOutputs, evaluate_heads
from thermbench.tinyhead.training import HeadConfig


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--features", required=True, type=Path, help="data/features/head")
    parser.add_argument("--models", required=True, type=Path, help="data/heads/thermeval")
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval (crops for timing)")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher (the offline backbone)")
    parser.add_argument("--metrics", required=True, type=Path, help="e.g. metrics/head/thermeval.json")
    parser.add_argument("--labels", required=True, type=Path, help="learning curve, e.g. plots/curves/head_labels.csv")
    parser.add_argument("--predictions", required=True, type=Path, help="e.g. data/predictions/head/test.csv")
    parser.add_argument("--timing", required=True, type=Path, help="e.g. metrics/timing/head.json")
    args = parser.parse_args()
    evaluate_heads(HeadInputs(args.features, args.models, args.prepared, args.teacher),
                   HeadOutputs(args.metrics, args.labels, args.predictions, args.timing),
                   stage.config(args, "head", HeadConfig), stage.value(args, "zeroshot.sapiens2"),
                   stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
