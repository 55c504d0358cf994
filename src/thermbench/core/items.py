"""Per-item scores, the unit every paired comparison is made on: one CSV per scored model run, committed beside its
curves, so every pair on a leaderboard can be re-tested from the committed files alone.

    dataset,item,value
    tfake,tfake_000412,0.0571
    charlotte,S3/R0012,0.0264

`dataset` names the test set (tfake: NME-IO per image; charlotte: NME-diag per image, the Full set; thermeval: the
error of one GT nose in frame px, empty where no prediction matched it), `item` the test item's id within it (a sample
id, or `<image file>#<nose index>`), `value` the per-item score, lower is better. One writer, one reader.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import InputError, read_csv, write_text

COLUMNS = ("dataset", "item", "value")


def items_name(model: str) -> str:
    """The file name stem of a model's items file: its name with every run of characters other than letters, digits,
    '.', '_' and '-' as one '_' (a submission's label holds spaces and brackets)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")


def items_path(folder: str | Path, model: str) -> Path:
    """Where `model`'s items file lies in `folder`: `<items_name(model)>_items.csv`."""
    return Path(folder) / f"{items_name(model)}_items.csv"


def items_text(scores: dict[str, tuple[list[str], np.ndarray]]) -> str:
    """The CSV of {dataset: (item ids, per-item values)}, datasets in the given order, values to 7 significant digits
    (NaN: empty)."""
    frames = []
    for dataset, (ids, values) in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if len(ids) != len(values):
            raise ValueError(f"{dataset}: {len(ids)} item ids for {len(values)} values")
        frames.append(pd.DataFrame({"dataset": dataset, "item": [str(i) for i in ids], "value": values}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    buf = io.StringIO()
    table.to_csv(buf, index=False, float_format="%.7g", lineterminator="\n")
    return buf.getvalue()


def write_items(path: str | Path, scores: dict[str, tuple[list[str], np.ndarray]]) -> None:
    write_text(path, items_text(scores))


def read_items(path: str | Path, dataset: str) -> pd.Series:
    """The per-item values of `dataset` in one items file, indexed by item id (NaN where the file has none); empty
    when the file holds no row of it (a model scored no item there)."""
    table = read_csv(path, COLUMNS)
    rows = table[table["dataset"] == dataset]
    if rows["item"].duplicated().any():
        raise InputError(f"{path}: item {rows['item'][rows['item'].duplicated()].iloc[0]!r} of {dataset} twice")
    return pd.Series(rows["value"].to_numpy(np.float64), index=rows["item"].astype(str).to_numpy(), name=dataset)
