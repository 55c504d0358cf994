"""Stage head_train: cached features -> the blog's TinyHead (all train labels) + learning-curve heads.

Writes `<out>/<run>.safetensors` (+ `.json`) for run `main` and `n<labels>_s<seed>`, the main run's per-epoch
train/val loss and val PCK as a DVC plot CSV, and training wall-clock time to `--timing`.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.tinyhead.finetune import HeadConfig
from thermbench.tinyhead.pipeline import train_heads


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--features", required=True, type=Path, help="data/features/head")
    parser.add_argument("--out", required=True, type=Path, help="e.g. data/heads/thermeval")
    parser.add_argument("--curve", required=True, type=Path, help="e.g. plots/curves/head.csv")
    parser.add_argument("--timing", required=True, type=Path, help="e.g. metrics/timing/head_train.json")
    args = parser.parse_args()
    train_heads(args.features, args.out, args.curve, args.timing, stage.config(args, "head", HeadConfig))


if __name__ == "__main__":
    stage.run(main)
