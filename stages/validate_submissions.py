"""Stage validate_submissions: every file and ONNX model card of submissions.yaml read and checked against the scored
sets before any stage scores one (tools/check_submissions.py) -> data/submissions/validated.json, which the scoring
stages depend on. Its output persists (dvc.yaml), so a bad entry stops the run here and changes nothing. Without
--out it only checks: `make repro` runs it so before DVC starts (`make check-submissions`)."""

import sys
from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.tools.check_submissions import check
from thermbench.zeroshot.bakeoff import config


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--submissions", type=Path, default=Path("submissions.yaml"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw/thermeval"))
    parser.add_argument("--videos", type=Path, default=Path("data/raw/breath"))
    parser.add_argument("--out", type=Path, help="data/submissions/validated.json; none: check only")
    args = parser.parse_args()
    checked = check(args.submissions, args.prepared, args.raw, args.videos,
                    config(stage.value(args, "zeroshot")))
    if args.out is not None:
        write_json(args.out, {"submissions": checked})
    print(f"{args.submissions}: {len(checked)} submission(s) checked", file=sys.stderr)


if __name__ == "__main__":
    stage.run(main)
