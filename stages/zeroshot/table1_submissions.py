"""Stage table1_submissions: the `landmarks68` predictions files and the ONNX models declared in submissions.yaml,
scored as Table I's zero-shot rows are (zeroshot/table1/submission.py: the format)
-> metrics/table1_submissions.json, and each one's per-image NMEs -> data/predictions/table1_submissions/."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.submissions import read
from thermbench.zeroshot.table1.submission import evaluate as table1_submissions


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, required=True, help="submissions.yaml")
    parser.add_argument("--tfake", type=Path, required=True, help="data/prepared/tfake")
    parser.add_argument("--charlotte", type=Path, required=True, help="data/prepared/charlotte")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/table1_submissions.json")
    parser.add_argument("--items", type=Path, required=True,
                        help="data/predictions/table1_submissions (each submission's per-image NMEs)")
    args = parser.parse_args()
    table1_submissions(read(args.submissions, "landmarks68"), args.tfake, args.charlotte, args.metrics, args.items,
                       stage.sources(args, ("tfake", "charlotte")), stage.value(args, "zeroshot.threads"))


if __name__ == "__main__":
    stage.run(main)
