"""Stage zeroshot_submissions: the `thermeval_nose` predictions files declared in submissions.yaml, scored on the
ThermEval nose protocols exactly as the zeroshot@<model> stages score a model (zeroshot/submission.py: the format)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.submissions import read
from thermbench.zeroshot.bakeoff import config
from thermbench.zeroshot.submission import score_submissions


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--prepared", type=Path, required=True, help="data/prepared/thermeval")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--predictions", type=Path, required=True, help="data/predictions/zeroshot_submissions.json")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/zeroshot_submissions.json")
    args = parser.parse_args()
    score_submissions(read(args.submissions, "thermeval_nose"), args.prepared, args.raw, args.predictions,
                      args.metrics, config(stage.value(args, "zeroshot")),
                      stage.value(args, "prepare.thermeval.crop_size"), stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
