"""Stage breath_rates: nostril tracks -> ROI signals -> breaths/min per window, scored against ground truth.

Also runs the no-tracking baselines (fixed ROI at the first frame's nose, whole-face mean) and the noisy-oracle
sources. Scalars go to --metrics; the per-window series and one sequence's signals go to plot CSVs.
"""

from pathlib import Path

from thermbench.breath.api import RateConfig, evaluate, write_outputs
from thermbench.core import stage


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--tracks", type=Path, nargs="+", required=True,
                        help="data/breath/tracks/<source>.json of an untrained source, data/breath/tracks/<source> "
                             "(its seed<s>.json files) of a trained one ...")
    parser.add_argument("--submitted", type=Path, required=True,
                        help="data/breath/submitted: the users' track files (<name>.json), untrained sources")
    parser.add_argument("--metrics", type=Path, required=True, help="e.g. metrics/breath/rates.json")
    parser.add_argument("--windows", type=Path, required=True, help="e.g. plots/breath/windows.csv")
    parser.add_argument("--signals", type=Path, required=True, help="e.g. plots/breath/signals.csv")
    args = parser.parse_args()
    cfg = stage.config(args, "breath.rates", RateConfig)
    tracks = args.tracks + sorted(args.submitted.glob("*.json"))
    result = evaluate(args.videos, tracks, cfg, stage.value(args, "seed"))
    write_outputs(result, args.metrics, args.windows, args.signals)


if __name__ == "__main__":
    stage.run(main)
