"""Stage report_leaderboard: one leaderboard per task, every built-in and submitted model with its interval, data
label and whether it is a submission, ranked as far as metrics/conclusions.json resolves the order, from metrics/ only
(tools/reports/leaderboard.py) -> plots/leaderboard.md, metrics/leaderboard.json."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.submissions import builtin
from thermbench.tools.reports.leaderboard import write


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--registry", type=Path, required=True, help="submissions.yaml (builtin.zeroshot)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/")
    parser.add_argument("--table", type=Path, required=True, help="plots/leaderboard.md")
    parser.add_argument("--out", type=Path, required=True, help="metrics/leaderboard.json")
    args = parser.parse_args()
    write(args.metrics, builtin(args.registry)["zeroshot"], args.table, args.out)


if __name__ == "__main__":
    stage.run(main)
