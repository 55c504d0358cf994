"""The prepared-data contract: what `prepare@<dataset>` writes and every model stage reads.

`data/prepared/<dataset>/` holds `samples.csv` (one row per sample, crops under `crops/`) and, for ThermEval,
`frames.csv` (one row per frame, for the full-frame protocols). Coordinates are continuous pixel coordinates
(pixel i covers [i, i+1)). The columns below are what readers may rely on; writers add more (kept for audit).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from thermbench.core.io import InputError, read_csv
from thermbench.datasets.common import TableStream, write_table

SAMPLES = "samples.csv"
FRAMES = "frames.csv"

FRAME_COLUMNS = ("image_file", "annotation_file", "image_id", "split", "noses", "persons")  # noses, persons: JSON
# an RGB face set's samples (the synthetic RGB pretraining set, each real RGB set, their union): RGB-only rows
RGB_COLUMNS = ("sample_id", "split", "crop_path", "rgb_crop_path", "kpts")


def write_samples(rows: list[dict], out: Path, columns: tuple[str, ...], sort_by: list[str]) -> pd.DataFrame:
    """Write `<out>/samples.csv` (sorted, deterministic); every contract column (the adapter's `COLUMNS`) must be
    present."""
    _check(rows, columns, out / SAMPLES)
    return write_table(rows, out / SAMPLES, sort_by)


@contextmanager
def stream_samples(out: Path, columns: tuple[str, ...], sort_by: list[str]) -> Iterator[Callable[[dict], None]]:
    """`write_samples` for sets too large to hold: yields `add(row)`, rows in `sort_by` order; the file is complete
    once the block ends."""
    stream = TableStream(out / SAMPLES, sort_by)

    def add(row: dict) -> None:
        if stream.last is None:
            _check([row], columns, out / SAMPLES)
        stream.add(row)

    yield add
    stream.flush()


def write_frames(rows: list[dict], out: Path, sort_by: list[str]) -> pd.DataFrame:
    _check(rows, FRAME_COLUMNS, out / FRAMES)
    return write_table(rows, out / FRAMES, sort_by)


def read_samples(prepared: str | Path, columns: tuple[str, ...] = ("sample_id", "split", "crop_path")
                 ) -> pd.DataFrame:
    """`<prepared>/samples.csv` in file order, or one clear error (not prepared yet, or a column missing)."""
    path = Path(prepared) / SAMPLES
    if not path.is_file():
        raise InputError(f"{path}: not found (run the prepare stage first)")
    return read_csv(path, columns)


def iter_samples(prepared: str | Path, columns: tuple[str, ...], chunk_rows: int,
                 every_column: bool = False) -> Iterator[pd.DataFrame]:
    """`<prepared>/samples.csv` in file order, `chunk_rows` rows at a time, so that a reader's memory does not grow
    with the table: its `columns` only (all of them with `every_column`), or one clear error as `read_samples`."""
    path = Path(prepared) / SAMPLES
    if not path.is_file():
        raise InputError(f"{path}: not found (run the prepare stage first)")
    header = tuple(pd.read_csv(path, nrows=0).columns)
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    with pd.read_csv(path, chunksize=chunk_rows, usecols=None if every_column else list(columns)) as reader:
        yield from reader


def read_frames(prepared: str | Path) -> pd.DataFrame:
    path = Path(prepared) / FRAMES
    if not path.is_file():
        raise InputError(f"{path}: not found (run prepare@thermeval first)")
    return read_csv(path, FRAME_COLUMNS)


def _check(rows: list[dict], columns: tuple[str, ...], path: Path) -> None:
    if rows:
        missing = [c for c in columns if c not in rows[0]]
        if missing:
            raise ValueError(f"{path}: the writer lacks contract column(s) {', '.join(missing)}")
