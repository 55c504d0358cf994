"""Stage conclusions: every report's statements (each with the numbers behind it and whether it is resolved under
every CPU kernel setting checked) in metrics/conclusions.json and a table, labelled with the data they rest on."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check
from thermbench.core.conclusions_table import gather


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--statements", required=True, type=Path, nargs="+",
                        help="metrics/conclusions/<report>.json of every report")
    parser.add_argument("--out", required=True, type=Path, help="metrics/conclusions.json")
    parser.add_argument("--table", required=True, type=Path, help="plots/conclusions.md")
    parser.add_argument("--kernel-check", required=True, type=Path,
                        help="verdicts under other CPU kernel settings, e.g. conclusions/kernel_check.json")
    args = parser.parse_args()
    checks = {path.stem: read_kernel_check(args.kernel_check, args.params, path.stem) for path in args.statements}
    gather(args.statements, args.out, args.table, stage.value(args, "data.source"), checks)


if __name__ == "__main__":
    stage.run(main)
