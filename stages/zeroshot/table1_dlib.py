"""Stage zeroshot_table1_dlib: dlib-68 zero-shot on the T-FAKE-format (thermal and RGB) and CHARLOTTE-format tests,
in the MLCM-KD metrics schema -> metrics/mlcmkd/zeroshot-dlib68.json (a Table I row)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.api import Table1Config, table1_dlib


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--tfake", type=Path, required=True, help="data/prepared/tfake")
    parser.add_argument("--charlotte", type=Path, required=True, help="data/prepared/charlotte")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/mlcmkd/zeroshot-dlib68.json")
    args = parser.parse_args()
    scales = (float(stage.value(args, "prepare.tfake.box_scale")),
              float(stage.value(args, "prepare.charlotte.box_scale")))
    data = stage.sources(args, ("tfake", "charlotte"))
    table1_dlib(args.tfake, args.charlotte, args.metrics, stage.config(args, "zeroshot_table1", Table1Config), scales,
                data)


if __name__ == "__main__":
    stage.run(main)
