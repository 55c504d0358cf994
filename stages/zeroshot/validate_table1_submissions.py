"""Stage validate_landmarks68: the `landmarks68` entries of submissions.yaml (predictions files, ONNX model cards)
checked against the T-FAKE and CHARLOTTE test crops before table1_submissions and speed_submissions use them
(zeroshot/table1/submission.validate) -> data/submissions/landmarks68.json. Its output persists (dvc.yaml), so a bad
entry stops the run here and changes nothing."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.zeroshot.table1.submission import validate


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--tfake", type=Path, required=True, help="data/prepared/tfake")
    parser.add_argument("--charlotte", type=Path, required=True, help="data/prepared/charlotte")
    parser.add_argument("--out", type=Path, required=True, help="data/submissions/landmarks68.json")
    args = parser.parse_args()
    write_json(args.out, {"submissions": validate(args.submissions, args.tfake, args.charlotte)})


if __name__ == "__main__":
    stage.run(main)
