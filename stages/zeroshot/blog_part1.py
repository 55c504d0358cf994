"""Stage zeroshot_blog_part1: the blog's part 1 (first split-1 frames with a Nose, full frame, the blog's settings and
nose centres, plus variants) -> metrics, timing and per-threshold PCK (CSV). Rows without weights: a status line."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.protocols.blog_part1 import Adapters, Part1Config
from thermbench.zeroshot.protocols.blog_part1 import evaluate as blog_part1


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", type=Path, required=True, help="data/prepared/thermeval")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/zeroshot_blog/part1.json")
    parser.add_argument("--timing", type=Path, required=True, help="metrics/timing/zeroshot_blog/part1.json")
    parser.add_argument("--curves", type=Path, required=True, help="plots/zeroshot_blog_part1_pck.csv")
    args = parser.parse_args()
    adapters = Adapters(mediapipe=stage.value(args, "zeroshot.mediapipe"), dwpose=stage.value(args, "zeroshot.dwpose"),
                        sapiens2=stage.value(args, "zeroshot.sapiens2"), dlib=stage.value(args, "zeroshot.dlib"),
                        threads=int(stage.value(args, "zeroshot.threads")), device=stage.value(args, "zeroshot.device"))
    blog_part1(args.prepared, args.raw, args.metrics, args.timing, args.curves,
               stage.config(args, "zeroshot_blog.part1", Part1Config), adapters,
               stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
