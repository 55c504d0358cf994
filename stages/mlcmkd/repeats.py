"""Stage repeats: seed repeats of the train.repeats runs (student seeds; same teacher), scored as evaluate_nme.

Off (a status line) when the seed list is empty: `dvc exp run -S 'train.repeats.seeds=[1,2]'`.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.repeats import run_repeats
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/prepared/charlotte")
    parser.add_argument("--teacher", required=True, type=Path, help="data/models/teacher")
    parser.add_argument("--base-metrics", required=True, type=Path, help="metrics/mlcmkd (the base seed's numbers)")
    parser.add_argument("--out", required=True, type=Path, help="metrics/mlcmkd_repeats.json")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    run_repeats(settings, args.tfake, args.charlotte, args.teacher, args.base_metrics, args.out)


if __name__ == "__main__":
    stage.run(main)
