"""Stage report_zeroshot: zero-shot tables (split 2; the blog's parts 1 and 3 with its reference rows; what the scenes
were calibrated to apart from the findings), PCK curves, detection bars, a qualitative grid and the models'
provenance and licences (zeroshot/registry.py) -> plots/; its statements -> metrics/conclusions/zeroshot.json."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.conclusions import read_kernel_check
from thermbench.core.submissions import builtin
from thermbench.zeroshot.bakeoff import config
from thermbench.zeroshot.report import write_report


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--registry", type=Path, required=True, help="submissions.yaml: builtin.zeroshot (what ran)")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/zeroshot")
    parser.add_argument("--predictions", type=Path, required=True, help="data/predictions/zeroshot")
    parser.add_argument("--submitted", type=Path, nargs=2, required=True,
                        help="metrics/zeroshot_submissions.json data/predictions/zeroshot_submissions.json")
    parser.add_argument("--raw", type=Path, required=True, help="data/raw/thermeval")
    parser.add_argument("--blog-part1", type=Path, required=True, help="metrics/zeroshot_blog/part1.json")
    parser.add_argument("--blog-part3", type=Path, required=True, help="metrics/zeroshot_blog/part3.json")
    parser.add_argument("--blog-part1-timing", type=Path, required=True, help="metrics/timing/zeroshot_blog/part1.json")
    parser.add_argument("--blog-part3-timing", type=Path, required=True, help="metrics/timing/zeroshot_blog/part3.json")
    parser.add_argument("--blog-part3-noses", type=Path, required=True, help="plots/zeroshot_blog_part3_noses.csv")
    parser.add_argument("--calibration", type=Path, required=True, help="conclusions/synth_calibration.json")
    parser.add_argument("--kernel-check", type=Path, required=True,
                        help="conclusions/kernel_check.json (verdicts under other CPU kernels; absent = none yet)")
    parser.add_argument("--out", type=Path, required=True, help="plots")
    parser.add_argument("--conclusions", type=Path, required=True, help="metrics/conclusions/zeroshot.json")
    args = parser.parse_args()
    write_report(builtin(args.registry)["zeroshot"], args.metrics, args.predictions, tuple(args.submitted), args.raw,
                 args.out, config(stage.value(args, "zeroshot")), (args.blog_part1, args.blog_part3),
                 (args.blog_part1_timing, args.blog_part3_timing), args.blog_part3_noses, args.calibration,
                 read_kernel_check(args.kernel_check, args.params, "zeroshot"), args.conclusions)


if __name__ == "__main__":
    stage.run(main)
