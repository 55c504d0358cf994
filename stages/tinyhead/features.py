"""Stage head_features: frozen-backbone features of the ThermEval crops (Sapiens2, or the RGB teacher without it).

The backbone runs on `head.backbone.device` (cpu by default; a user's GPU when set to cuda).
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.models.tinyhead import BackboneConfig
from thermbench.tinyhead.features import cache_features


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", required=True, type=Path, help="data/prepared/thermeval")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher (the offline backbone)")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/features/head")
    args = parser.parse_args()
    cache_features(args.prepared, args.teacher, args.out, stage.config(args, "head.backbone", BackboneConfig),
                   stage.value(args, "head.threads"), stage.value(args, "zeroshot.sapiens2"),
                   stage.value(args, "data.source.thermeval") == "real")


if __name__ == "__main__":
    stage.run(main)
