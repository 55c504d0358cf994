"""Stage breath_report: figures (ROI signal vs waveform, Bland-Altman, rate MAE vs landmark error) and a table."""

from pathlib import Path

from thermbench.breath.report import report
from thermbench.core import stage


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/breath/rates.json")
    parser.add_argument("--windows", type=Path, required=True, help="plots/breath/windows.csv")
    parser.add_argument("--signals", type=Path, required=True, help="plots/breath/signals.csv")
    parser.add_argument("--figures", type=Path, required=True, help="folder for the PNG/SVG figures, e.g. plots/breath")
    parser.add_argument("--table", type=Path, required=True, help="markdown summary, e.g. plots/breath/summary.md")
    args = parser.parse_args()
    report(args.metrics, args.windows, args.signals, args.figures, args.table)


if __name__ == "__main__":
    stage.run(main)
