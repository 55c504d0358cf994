"""Stage check_params: params.yaml against the typed configs every stage reads (thermbench.params_schema), first of
all stages, so a bad value stops `dvc repro` before any other stage's outputs are removed. Writes `--out` only when
every value passes; its content never changes, so a valid change of params re-runs just the stages that read it."""

from pathlib import Path

from thermbench.core import stage
from thermbench.core.io import write_json
from thermbench.params_schema import check


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--out", required=True, type=Path, help="data/params_checked.json")
    args = parser.parse_args()
    check(stage.load_params(args.params))
    write_json(args.out, {"params.yaml": "every value is one its stages can use"})


if __name__ == "__main__":
    stage.run(main)
