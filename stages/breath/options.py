"""Stage breath_options: the signal chain's options (ROI reference, motion regression) chosen on validation videos of
their own seed, never the benchmark's: the oracle track's rate MAE under each candidate (breath/options.py).
"""

from pathlib import Path

from thermbench.breath.api import OptionsConfig, RateConfig, TrackConfig, VideoConfig, choose_options
from thermbench.core import stage


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="e.g. metrics/breath/options.json")
    args = parser.parse_args()
    choose_options(args.out, stage.value(args, "data.source.breath"), stage.config(args, "synth.video", VideoConfig),
                   stage.config(args, "breath.track", TrackConfig), stage.config(args, "breath.rates", RateConfig),
                   stage.config(args, "breath.options", OptionsConfig), stage.value(args, "seed"))


if __name__ == "__main__":
    stage.run(main)
