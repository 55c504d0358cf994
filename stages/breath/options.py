"""Stage breath_options: the signal chain's options (ROI reference, motion regression) chosen on validation videos of
their own seed, never the benchmark's: the oracle track's rate MAE under each candidate (breath/options.py).
"""

from pathlib import Path

from thermbench.breath.options import OptionsConfig
from thermbench.breath.options import choose as choose_options
from thermbench.breath.rates import RateConfig
from thermbench.breath.sources import TrackConfig
from thermbench.core import stage
from thermbench.datasets.synth.video import VideoConfig


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="e.g. metrics/breath/options.json")
    args = parser.parse_args()
    choose_options(args.out, stage.value(args, "data.source.breath"), stage.config(args, "synth.video", VideoConfig),
                   stage.config(args, "breath.track", TrackConfig), stage.config(args, "breath.rates", RateConfig),
                   stage.config(args, "breath.options", OptionsConfig), stage.value(args, "seed"))


if __name__ == "__main__":
    stage.run(main)
