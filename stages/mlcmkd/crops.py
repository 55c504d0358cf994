"""Stage crops_mlcmkd: decode the MLCM-KD crops once at the model input size (one crop store folder per dataset)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.crop_cache import cache_crops


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/prepared/charlotte")
    parser.add_argument("--rgbpretrain", required=True, type=Path, help="data/prepared/rgbpretrain")
    parser.add_argument("--out-tfake", required=True, type=Path, help="data/cache/mlcmkd/tfake")
    parser.add_argument("--out-charlotte", required=True, type=Path, help="data/cache/mlcmkd/charlotte")
    parser.add_argument("--out-rgbpretrain", required=True, type=Path, help="data/cache/mlcmkd/rgbpretrain")
    args = parser.parse_args()
    cache_crops(stage.value(args, "rtmpose.input_size"), args.tfake, args.charlotte, args.rgbpretrain,
                args.out_tfake, args.out_charlotte, args.out_rgbpretrain)


if __name__ == "__main__":
    stage.run(main)
