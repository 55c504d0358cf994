"""Stage validate_thermeval_nose: the `thermeval_nose` entries of submissions.yaml (predictions files, ONNX model
cards) checked against the scored frames and samples before zeroshot_submissions scores them
(zeroshot/submission.validate) -> data/submissions/thermeval_nose.json. Its output persists (dvc.yaml), so a bad entry
stops the run here and changes nothing."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.zeroshot.bakeoff import config
from thermbench.zeroshot.submission import validate


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--prepared", type=Path, required=True, help="data/prepared/thermeval")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--out", type=Path, required=True, help="data/submissions/thermeval_nose.json")
    args = parser.parse_args()
    checked = validate(args.submissions, args.prepared, args.raw, config(stage.value(args, "zeroshot")))
    write_json(args.out, {"submissions": checked})


if __name__ == "__main__":
    stage.run(main)
