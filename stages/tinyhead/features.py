"""Stage head_features: frozen-backbone features of the ThermEval crops (Sapiens2, or the RGB teacher without it)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.tinyhead.finetune import HeadConfig
from thermbench.tinyhead.pipeline import cache_features


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher (the offline backbone)")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/features/head")
    args = parser.parse_args()
    cache_features(args.prepared, args.teacher, args.out, stage.config(args, "head", HeadConfig),
                   stage.value(args, "zeroshot.sapiens2"), stage.value(args, "data.source") == "real")


if __name__ == "__main__":
    stage.run(main)
