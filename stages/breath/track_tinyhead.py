"""Stage breath_track_tinyhead: the nostril track of the blog's TinyHead, every seed `models.tinyhead.seed_heads`
finds in --heads, on its frozen backbone (--features says which; --teacher is the fallback backbone), in every
sequence: --out <folder>/seed<s>.json. Its crops are cut as `prepare.thermeval` cut its training crops.
"""

from pathlib import Path

from thermbench.breath.sources import TinyHeadInputs, TrackConfig
from thermbench.breath.tracks import track_tinyhead_seeds
from thermbench.core import stage
from thermbench.models.tinyhead import BackboneConfig, seed_heads


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--heads", type=Path, required=True, help="data/heads/thermeval")
    parser.add_argument("--features", type=Path, required=True, help="data/features/head (its backbone.json)")
    parser.add_argument("--teacher", type=Path, required=True, help="data/models/teacher (the fallback backbone)")
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--out", type=Path, required=True, help="a folder: seed<s>.json per seed")
    parser.add_argument("--timing", type=Path, required=True, help="as --out under metrics/timing/breath")
    args = parser.parse_args()
    backbone, sapiens2 = stage.config(args, "head.backbone", BackboneConfig), stage.value(args, "zeroshot.sapiens2")
    thermeval = stage.value(args, "prepare.thermeval")
    inputs = {seed: TinyHeadInputs(head, args.features, args.teacher, backbone, sapiens2, thermeval)
              for seed, head in seed_heads(args.heads).items()}
    track_tinyhead_seeds(inputs, args.videos, args.out, args.timing, stage.config(args, "breath.track", TrackConfig))


if __name__ == "__main__":
    stage.run(main)
