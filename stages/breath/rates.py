"""Stage breath_rates: nostril tracks -> ROI signals -> breaths/min per window, scored against ground truth.

Also runs the no-tracking baselines (fixed ROI at the first frame's nose, whole-face mean) and the noisy-oracle
sources. Scalars go to --metrics; the per-window series and one sequence's signals go to plot CSVs.
"""

from pathlib import Path

from thermbench.breath.rates import RateConfig, evaluate, write_outputs
from thermbench.core import stage
from thermbench.core.submissions import builtin


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--registry", type=Path, required=True,
                        help="submissions.yaml: the built-in sources (builtin.breath, builtin.breath_zeroshot)")
    parser.add_argument("--tracks", type=Path, required=True,
                        help="data/breath/tracks: <source>.json of each built-in source")
    parser.add_argument("--trained", type=Path, nargs="+", required=True,
                        help="data/breath/tracks/<source> (its seed<s>.json files) of each trained source")
    parser.add_argument("--submitted", type=Path, required=True,
                        help="data/breath/submitted: the users' track files (<name>.json), untrained sources")
    parser.add_argument("--metrics", type=Path, required=True, help="e.g. metrics/breath/rates.json")
    parser.add_argument("--windows", type=Path, required=True, help="e.g. plots/breath/windows.csv")
    parser.add_argument("--signals", type=Path, required=True, help="e.g. plots/breath/signals.csv")
    args = parser.parse_args()
    cfg = stage.config(args, "breath.rates", RateConfig)
    listed = builtin(args.registry)
    tracks = ([args.tracks / f"{name}.json" for name in listed["breath"] + listed["breath_zeroshot"]] + args.trained
              + sorted(args.submitted.glob("*.json")))
    result = evaluate(args.videos, tracks, cfg, stage.value(args, "seed"))
    write_outputs(result, args.metrics, args.windows, args.signals)


if __name__ == "__main__":
    stage.run(main)
