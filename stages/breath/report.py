"""Stage breath_report: figures (ROI signal vs waveform, Bland-Altman, rate MAE vs landmark error), a summary table
with a trained source's mean ± sd over its seeds, and the rankings of the sources that the intervals support."""

from pathlib import Path

from thermbench.breath.ranking import ConclusionConfig
from thermbench.breath.report import report
from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check, read_moved


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/breath/rates.json")
    parser.add_argument("--windows", type=Path, required=True, help="plots/breath/windows.csv")
    parser.add_argument("--signals", type=Path, required=True, help="plots/breath/signals.csv")
    parser.add_argument("--figures", type=Path, required=True, help="folder for the PNG/SVG figures, e.g. plots/breath")
    parser.add_argument("--table", type=Path, required=True, help="markdown summary, e.g. plots/breath/summary.md")
    parser.add_argument("--options", type=Path, required=True, help="metrics/breath/options.json")
    parser.add_argument("--kernel-check", type=Path, required=True,
                        help="verdicts under other CPU kernel settings, e.g. conclusions/kernel_check.json")
    parser.add_argument("--conclusions", type=Path, required=True, help="e.g. metrics/conclusions/breath.json")
    args = parser.parse_args()
    report(args.metrics, args.windows, args.signals, args.options, args.figures, args.table, args.conclusions,
           read_kernel_check(args.kernel_check, args.params, "breath"),
           stage.config(args, "breath.conclusions", ConclusionConfig), stage.value(args, "seed"),
           read_moved(args.kernel_check, args.params, "breath"))


if __name__ == "__main__":
    stage.run(main)
