"""The real RGB face sets of the MLCM-KD teacher's pretraining (the paper: COCO-WholeBody face + 300W) in the
contract of the synthetic RGB pretraining set (`synth/rgbpretrain.py`): `samples.csv` (sample_id, split train|val,
crop_path = rgb_crop_path, kpts: 68 iBUG points in crop px with a labelled flag) and `crops_rgb/`. Each set is
prepared on its own (and counted in metrics/datasets/); their union is the teacher's pretraining set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from thermbench.core.io import InputError, atomic_dir
from thermbench.core.stage import build
from thermbench.datasets.prepared import RGB_COLUMNS, read_samples, write_samples
from thermbench.datasets.registry import RGB_ADAPTERS

RGB_SETS = tuple(RGB_ADAPTERS)


def prepare(dataset: str, raw: Path, out: Path, cfg: dict) -> None:
    """Parse `raw` with the set's own reader and write `out` atomically."""
    if not raw.is_dir():
        raise InputError(f"{raw}: raw dataset folder not found (run its raw_rgb stage first)")
    if dataset not in RGB_ADAPTERS:
        raise InputError(f"prepare_rgb: unknown RGB set '{dataset}' (one of {', '.join(RGB_SETS)})")
    build(RGB_ADAPTERS[dataset].PrepareConfig, cfg, f"prepare.{dataset}")  # before any output is touched
    with atomic_dir(out) as tmp:
        RGB_ADAPTERS[dataset].prepare(raw, tmp, cfg)


def union(prepared: Path, sets: list[str], out: Path) -> None:
    """`out` = the sets `prepared/<set>` in one prepared set (rows in set order, crops copied, a `source` column)."""
    if not sets:
        raise InputError("params.yaml: data.rgb_sets is empty, so there is no union to write")
    with atomic_dir(out) as tmp:
        rows = []
        for name in sets:
            table = read_samples(prepared / name, RGB_COLUMNS)
            for row in table.to_dict("records"):
                if row["crop_path"] != row["rgb_crop_path"]:
                    raise InputError(f"{prepared / name / 'samples.csv'}: {row['sample_id']} is not an RGB-only row")
                target = tmp / row["crop_path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(prepared / name / row["crop_path"], target)
                rows.append({**row, "source": name})
        ids = [r["sample_id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise InputError(f"{prepared}: sample ids repeat across {', '.join(sets)}")
        write_samples(rows, tmp, RGB_COLUMNS, ["sample_id"])
