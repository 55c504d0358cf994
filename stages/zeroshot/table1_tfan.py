"""Stage zeroshot_table1_tfan: TFAN (70 points) zero-shot on the T-FAKE-format thermal and CHARLOTTE-format tests,
in the MLCM-KD metrics schema -> metrics/mlcmkd/zeroshot-tfan.json (a Table I row; a status row without weights)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.api import table1_tfan


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", type=Path, required=True, help="data/prepared/tfake")
    parser.add_argument("--charlotte", type=Path, required=True, help="data/prepared/charlotte")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/mlcmkd/zeroshot-tfan.json")
    args = parser.parse_args()
    scales = (float(stage.value(args, "prepare.tfake.box_scale")),
              float(stage.value(args, "prepare.charlotte.box_scale")))
    table1_tfan(args.tfake, args.charlotte, args.metrics, stage.value(args, "zeroshot.tfan"), scales,
                int(stage.value(args, "zeroshot.threads")), stage.value(args, "zeroshot.device"),
                stage.sources(args, ("tfake", "charlotte")))


if __name__ == "__main__":
    stage.run(main)
