"""Stage evaluate_nme@<run>: NME-IO on the T-FAKE thermal test split, NME-diag on the CHARLOTTE subsets.

Writes the run's metrics JSON (with params/GFLOPs at the paper's 256x256 and the training summary) and its T-FAKE
test predictions (.npy, crop px, samples.csv order) for the qualitative grid. The RGB teacher is scored on thermal
input (zero-shot: the modality gap) and, for reference, on its own RGB input.
"""

from pathlib import Path

from thermbench.core import stage
from thermbench.mlcmkd.evaluate import evaluate_run
from thermbench.mlcmkd.runs import RTMPoseParams, Settings, TrainParams


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--run", required=True, type=Path, help="data/models/<run>")
    parser.add_argument("--tfake", required=True, type=Path, help="data/prepared/tfake")
    parser.add_argument("--charlotte", required=True, type=Path, help="data/prepared/charlotte")
    parser.add_argument("--metrics", required=True, type=Path, help="metrics/mlcmkd/<run>.json")
    parser.add_argument("--predictions", required=True, type=Path, help="data/predictions/mlcmkd/<run>.npy")
    args = parser.parse_args()
    settings = Settings(seed=stage.value(args, "seed"), rtmpose=stage.config(args, "rtmpose", RTMPoseParams),
                        train=stage.config(args, "train", TrainParams))
    evaluate_run(args.run, args.tfake, args.charlotte, args.metrics, args.predictions, settings)


if __name__ == "__main__":
    stage.run(main)
