"""Stage breath_track_zeroshot@<model>: the nostril track of a zero-shot model with downloaded weights (dwpose,
sapiens2, tfan: params `zeroshot.<model>`) in every sequence (JSON); where its weights are not here, the one-line
reason instead.
"""

from pathlib import Path

from thermbench.breath.sources import TrackConfig
from thermbench.breath.tracks import track_source
from thermbench.core import stage


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--source", required=True, choices=["dwpose", "sapiens2", "tfan"])
    parser.add_argument("--videos", type=Path, required=True, help="e.g. data/raw/breath")
    parser.add_argument("--out", type=Path, required=True, help="e.g. data/breath/tracks/<model>.json")
    parser.add_argument("--timing", type=Path, required=True, help="as --out under metrics/timing/breath")
    args = parser.parse_args()
    track_source(args.source, args.videos, args.out, stage.config(args, "breath.track", TrackConfig), None,
                 stage.value(args, f"zeroshot.{args.source}"), args.timing)


if __name__ == "__main__":
    stage.run(main)
