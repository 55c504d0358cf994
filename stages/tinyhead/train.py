"""Stage head_train: cached features -> the val sweep over backbone maps, the blog's TinyHead + learning-curve heads.

Every head trains until its validation error converges (at most `head.epochs`). Writes `<out>/<run>.safetensors`
(+ `.json`) for the main run of each seed in `head.seeds` (`main` for the first, `main_s<seed>` for the others) and
`n<labels>_s<seed>` (each at its best validation epoch) and `<out>/runs.json` (every run's convergence record), the
main runs' per-epoch train/val loss and val error/PCK and the sweep (one row per candidate set of maps and seed) as
DVC plot CSVs, and training wall-clock time to `--timing`.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.tinyhead.protocol import train_heads
from thermbench.tinyhead.training import HeadConfig


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--features", required=True, type=Path, help="data/features/head")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/heads/thermeval")
    parser.add_argument("--curve", required=True, type=Path, help="e.g. plots/curves/head.csv")
    parser.add_argument("--sweep", required=True, type=Path, help="e.g. plots/curves/head_sweep.csv")
    parser.add_argument("--timing", required=True, type=Path, help="e.g. metrics/timing/head_train.json")
    args = parser.parse_args()
    train_heads(args.features, args.out, args.curve, args.sweep, args.timing, stage.config(args, "head", HeadConfig),
                stage.value(args, "data.source.thermeval"))


if __name__ == "__main__":
    stage.run(main)
