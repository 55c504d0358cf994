"""Stage report_headline: the numbers the README's results block shows, one flat file per reproduction, read from
the committed metrics (tools/reports/headline.py) -> metrics/headline/<reproduction>.json, the only files dvc.yaml
registers as DVC metrics."""

from pathlib import Path

from thermbench.core import stage
from thermbench.tools.reports.headline import write


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/")
    parser.add_argument("--out", type=Path, required=True, help="metrics/headline")
    args = parser.parse_args()
    write(args.metrics, args.out)


if __name__ == "__main__":
    stage.run(main)
