"""Stage board_pairs: every pair of ranked rows on the per-item leaderboards (thermeval_nose, landmarks68 on T-FAKE and
CHARLOTTE) tested on the same items, one Holm family a board (tools/reports/board_pairs.py) ->
metrics/conclusions/boards.json, plots/board_pairs.md."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check
from thermbench.core.submissions import builtin
from thermbench.tools.reports.board_pairs import write


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--registry", type=Path, required=True, help="submissions.yaml (builtin.zeroshot)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/")
    parser.add_argument("--curves", type=Path, required=True, help="plots/curves (the per-item scores)")
    parser.add_argument("--submitted-items", type=Path, required=True,
                        help="data/predictions/table1_submissions (the landmarks68 submissions' per-item scores)")
    parser.add_argument("--kernel-check", required=True, type=Path, help="conclusions/kernel_check.json")
    parser.add_argument("--out", type=Path, required=True, help="metrics/conclusions/boards.json")
    parser.add_argument("--table", type=Path, required=True, help="plots/board_pairs.md")
    args = parser.parse_args()
    write(args.metrics, builtin(args.registry)["zeroshot"], args.curves, args.submitted_items,
          read_kernel_check(args.kernel_check, args.params, "boards"), args.out, args.table)


if __name__ == "__main__":
    stage.run(main)
