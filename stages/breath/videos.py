"""Stage breath_videos: the thermal video sequences of the breath benchmark, in the documented video format.

data.source.breath synthetic: rendered by the synthetic world (params synth.video, seed); real: the user's
own recordings in `breath.real_dir` are checked with the format's reader and copied in (see breath/README.md).
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.raw import make_videos
from thermbench.datasets.synth.video import VideoConfig


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--out", type=Path, required=True, help="e.g. data/raw/breath")
    args = parser.parse_args()
    make_videos(args.out, stage.value(args, "data.source.breath"), stage.config(args, "synth.video", VideoConfig),
                stage.value(args, "seed"), stage.value(args, "breath.real_dir"))


if __name__ == "__main__":
    stage.run(main)
