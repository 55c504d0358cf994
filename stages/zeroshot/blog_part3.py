"""Stage zeroshot_blog_part3: the blog's part-3 pipelines that run offline (MediaPipe A, B and both behind the GT
Person box; dlib-68) on the first split-2 frames with Person + Nose -> metrics, timing, per-threshold PCK (CSV) and
each GT nose's detections (CSV, for the paired comparisons)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.protocols.blog_part3 import Part3Config
from thermbench.zeroshot.protocols.blog_part3 import evaluate as blog_part3


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--prepared", type=Path, required=True, help="data/prepared/thermeval")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/zeroshot_blog/part3.json")
    parser.add_argument("--timing", type=Path, required=True, help="metrics/timing/zeroshot_blog/part3.json")
    parser.add_argument("--curves", type=Path, required=True, help="plots/zeroshot_blog_part3_pck.csv")
    parser.add_argument("--noses", type=Path, required=True, help="plots/zeroshot_blog_part3_noses.csv")
    args = parser.parse_args()
    blog_part3(args.prepared, args.raw, args.metrics, args.timing, args.curves, args.noses,
               stage.config(args, "zeroshot_blog.part3", Part3Config), stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
