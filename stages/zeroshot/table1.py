"""Stage zeroshot_table1@<model>: a built-in zero-shot model (submissions.yaml, builtin.table1) on the T-FAKE-format
and CHARLOTTE-format tests, in the MLCM-KD metrics schema -> metrics/mlcmkd/zeroshot-<model>.json (a Table I row; a
status row where its weights are absent)."""

from pathlib import Path

from thermbench.core import stage
from thermbench.zeroshot.table1.dlib import Table1Config
from thermbench.zeroshot.table1.rows import Table1Inputs
from thermbench.zeroshot.table1.rows import write_row as table1_row


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--model", required=True, help="a built-in model (submissions.yaml, builtin.table1)")
    parser.add_argument("--tfake", type=Path, required=True, help="data/prepared/tfake")
    parser.add_argument("--charlotte", type=Path, required=True, help="data/prepared/charlotte")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics/mlcmkd/zeroshot-<model>.json")
    parser.add_argument("--items", type=Path, required=True, help="plots/curves/table1/<model>_items.csv")
    args = parser.parse_args()
    scales = (float(stage.value(args, "prepare.tfake.box_scale")),
              float(stage.value(args, "prepare.charlotte.box_scale")))
    table1_row(args.model, Table1Inputs(
        args.tfake, args.charlotte, args.metrics, args.items, scales, stage.sources(args, ("tfake", "charlotte")),
        stage.config(args, "zeroshot_table1", Table1Config), stage.value(args, "zeroshot.tfan"),
        int(stage.value(args, "zeroshot.threads")), stage.value(args, "zeroshot.device")))


if __name__ == "__main__":
    stage.run(main)
