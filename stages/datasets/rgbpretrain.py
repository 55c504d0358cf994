"""Stage rgbpretrain: the synthetic RGB-only face set the MLCM-KD teacher pretrains on (prepared contract)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.synth.rgbpretrain import RGBPretrainConfig
from thermbench.datasets.synth.rgbpretrain import write as write_rgbpretrain


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--out", required=True, type=Path, help="data/prepared/rgbpretrain")
    args = parser.parse_args()
    write_rgbpretrain(args.out, stage.config(args, "synth.rgbpretrain", RGBPretrainConfig), stage.value(args, "seed"))


if __name__ == "__main__":
    stage.run(main)
