"""Stage raw_rgb@<set>: download a real RGB face set of the teacher's pretraining (COCO-WholeBody, 300W) into
data/raw/<set>, or say in one line where to put the files that cannot be downloaded automatically."""

from pathlib import Path

from thermbench.core import stage
from thermbench.datasets.fetch import fetch


def main() -> None:
    parser = stage.parser(__doc__)
    parser.add_argument("--dataset", required=True, help="cocowholebody | 300w (fetch.LAYOUTS)")
    parser.add_argument("--out", required=True, type=Path, help="data/raw/<set>")
    args = parser.parse_args()
    fetch(args.dataset, args.out, stage.value(args, f"fetch.{args.dataset}"))


if __name__ == "__main__":
    stage.run(main)
