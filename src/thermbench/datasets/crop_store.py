"""The landmark crop store: prepared samples decoded at a model's input size, in memory (`load_split`) or in a store
folder that training and scoring stages read a few rows at a time (`store_split`, `load_splits`).

Coordinates are continuous pixel coordinates as in `thermbench.core.crops` (pixel i covers [i, i+1)). Keypoints live in
*input* pixels (the crop resized to the model's input size), `x_in = x_crop * input_w / crop_w`; `Split.scale`
converts predictions back to crop pixels.

A store holds one folder per split: `images.npy` (and `paired.npy`, the RGB twins), `kpts.npy`, `visible.npy`,
`scale.npy` and `meta.csv` (sample_id and any columns asked for). Its memory does not grow with the number of crops:
they are written one at a time and read back by byte offset (`Rows`). Not memory-mapped, because every mapped page a
process touches counts in its resident set: reading a 500 MB `.npy` once through `np.load(mmap_mode="r")` took a
process's peak RSS from 35 to 535 MB, reading it by offset from 35 to 44 MB. The labels (824 bytes a crop) are held in
memory; the images (65 KB a gray crop at 256 px, 196 KB an RGB one) are not.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import InputError, atomic_dir
from thermbench.core.progress import progress
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import SAMPLES, iter_samples

CHUNK_ROWS = 1024  # samples.csv rows parsed at a time


class Rows:
    """Read-only rows of a C-order `.npy` file: `rows[i]`, `rows[a:b]` and `rows[index_array]` read just those rows
    with `os.pread` into a new array. Picklable: each process opens the file for itself."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise InputError(f"{self.path}: .npy format version {version} not supported")
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran or not shape:
            raise InputError(f"{self.path}: expected a C-order array of rows")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd: tuple[int, int] | None = None  # (pid, fd)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def head(self, n: int) -> "Rows":
        """The first `n` rows, read on demand as these are."""
        first = copy.copy(self)
        first.shape = (min(n, len(self)),) + self.shape[1:]
        return first

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}

    def _file(self) -> int:
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDONLY))
        return self._fd[1]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._read(start, max(stop - start, 0))
            key = np.arange(start, stop, step)
        index = np.asarray(key, dtype=np.int64)
        if index.ndim != 1 or (index.size and (index.min() < -len(self) or index.max() >= len(self))):
            raise IndexError(f"{self.path}: row index out of range for {len(self)} rows")
        out = np.empty((len(index),) + self.shape[1:], self.dtype)
        for i, row in enumerate(index % max(len(self), 1)):
            self._read_into(out[i:i + 1], int(row))
        return out

    def _read(self, start: int, count: int) -> np.ndarray:
        out = np.empty((count,) + self.shape[1:], self.dtype)
        self._read_into(out, start)
        return out

    def _read_into(self, out: np.ndarray, start: int) -> None:
        if out.nbytes and os.preadv(self._file(), [out.reshape(-1).view(np.uint8)],
                                    self.offset + start * self.row_bytes) != out.nbytes:
            raise InputError(f"{self.path}: truncated (rows {start}..{start + len(out)} of {len(self)})")

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rows = self[:]
        return rows if dtype is None else rows.astype(dtype)


class _RowWriter:
    """A `.npy` file of `count` rows written one row at a time (the header first, so it needs the count up front)."""

    def __init__(self, path: Path, count: int, row_shape: tuple[int, ...], dtype):
        self.path, self.count, self.row_shape, self.dtype = path, count, tuple(row_shape), np.dtype(dtype)
        self.file = open(path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (count,) + self.row_shape}
        np.lib.format.write_array_header_1_0(self.file, header)
        self.written = 0

    def append(self, row: np.ndarray) -> None:
        row = np.ascontiguousarray(row, dtype=self.dtype)
        if row.shape != self.row_shape:
            raise ValueError(f"{self.path}: row of shape {row.shape}, expected {self.row_shape}")
        self.file.write(row.tobytes())
        self.written += 1

    def close(self) -> None:
        self.file.close()
        if self.written != self.count:
            raise ValueError(f"{self.path}: {self.written} rows written, {self.count} announced")


@dataclass
class Split:
    """One split. `images`: (N,H,W) gray or (N,H,W,3) RGB uint8, an array or the store's `Rows`; `paired`: the RGB
    twin or None; `kpts` (N,K,2) float32 input px; `visible` (N,K) float32; `scale` (N,2) crop px per input px (x, y);
    `meta`: a table with one row per sample, or None."""

    images: np.ndarray | Rows
    kpts: np.ndarray
    visible: np.ndarray
    scale: np.ndarray
    paired: np.ndarray | Rows | None = None
    meta: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.images)

    def in_crop_px(self, points: np.ndarray) -> np.ndarray:
        """(N,K,2) points in input px -> crop px (float64), each sample by its own scale."""
        return points * self.scale[:, None, :].astype(np.float64)

    def head(self, n: int) -> "Split":
        """The first `n` samples (all, where there are fewer), no image read."""
        def first(a):
            return None if a is None else a.head(n) if isinstance(a, Rows) else a[:n]
        return Split(first(self.images), self.kpts[:n], self.visible[:n], self.scale[:n], first(self.paired),
                     None if self.meta is None else self.meta.iloc[:n])


@dataclass(frozen=True)
class Decoded:
    """One sample at the input size: the image, its RGB twin (or None), (K,2) points in input px, their visibility,
    and the crop px per input px."""

    image: np.ndarray
    twin: np.ndarray | None
    kpts: np.ndarray
    visible: np.ndarray
    scale: np.ndarray


def _read_image(path: Path, color: bool) -> np.ndarray:
    if not color:
        return read_image(path)
    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _decode(prepared: Path, row, input_size: int, modality: str, paired: bool, all_labelled: bool) -> Decoded:
    size = (input_size, input_size)
    img = _read_image(prepared / (row.rgb_crop_path if modality == "rgb" else row.crop_path), color=modality == "rgb")
    h, w = img.shape[:2]
    twin = _resize(_read_image(prepared / row.rgb_crop_path, color=True), size) if paired else None
    scale = np.array([w / input_size, h / input_size], dtype=np.float32)
    pts = np.asarray(json.loads(row.kpts), dtype=np.float32).reshape(-1, 3)
    pts[:, :2] /= scale
    visible = (all_labelled | (pts[:, 2] > 0)).astype(np.float32)
    return Decoded(_resize(img, size), twin, pts[:, :2].copy(), visible, scale)


def _columns(modality: str, paired: bool, meta_columns: tuple[str, ...]) -> tuple[str, ...]:
    extra = ("rgb_crop_path",) if modality == "rgb" or paired else ()
    return tuple(dict.fromkeys(("sample_id", "split", "crop_path", "kpts") + extra + tuple(meta_columns)))


def _split_rows(prepared: Path, split: str | None, columns: tuple[str, ...], max_samples: int | None = None,
                every_column: bool = False) -> Iterator[pd.DataFrame]:
    """The rows of `split` (None = all) in file order, `CHUNK_ROWS` at a time, the first `max_samples` only; the
    table's `columns`, or all of them with `every_column`."""
    left = max_samples
    for chunk in iter_samples(prepared, columns, CHUNK_ROWS, every_column):
        if split is not None:
            chunk = chunk[chunk["split"] == split]
        if left is not None:
            chunk = chunk.iloc[:left]
            left -= len(chunk)
        if len(chunk):
            yield chunk
        if left == 0:
            return


def load_split(prepared: str | Path, split: str | None, input_size: int, *, modality: str = "thermal",
               paired: bool = False, all_labelled: bool = False, max_samples: int | None = None) -> Split:
    """The rows of `<prepared>/samples.csv` in `split` (None = all), decoded into memory at `input_size` pixels.

    modality "thermal" reads `crop_path` (gray), "rgb" reads `rgb_crop_path`; `paired` also loads the RGB twin
    (for KTL). `all_labelled` treats every point as annotated (T-FAKE: every point has a rendered position and the flag
    only marks self-occlusion); otherwise the flag masks points without a label (CHARLOTTE's unmapped points).
    `max_samples` keeps the first rows.
    """
    prepared = Path(prepared)
    chunks = list(_split_rows(prepared, split, _columns(modality, paired, ()), max_samples, every_column=True))
    if not chunks:
        raise InputError(f"{prepared / SAMPLES}: no samples in split '{split}'")
    df = pd.concat(chunks).reset_index(drop=True)
    rows = [_decode(prepared, row, input_size, modality, paired, all_labelled)
            for row in progress(df.itertuples(index=False), f"load {prepared.name}/{split}", total=len(df))]
    return Split(images=np.stack([r.image for r in rows]), kpts=np.stack([r.kpts for r in rows]),
                 visible=np.stack([r.visible for r in rows]), scale=np.stack([r.scale for r in rows]),
                 paired=np.stack([r.twin for r in rows]) if paired else None, meta=df)


class _SplitWriter:
    """The array files of one stored split, written a sample at a time; created from the first sample's shapes."""

    def __init__(self, folder: Path, count: int, first: Decoded):
        arrays = {"images": first.image, "kpts": first.kpts, "visible": first.visible, "scale": first.scale}
        if first.twin is not None:
            arrays["paired"] = first.twin
        self.writers = {name: _RowWriter(folder / f"{name}.npy", count, a.shape, a.dtype)
                        for name, a in arrays.items()}

    def append(self, sample: Decoded) -> None:
        for name, value in (("images", sample.image), ("kpts", sample.kpts), ("visible", sample.visible),
                            ("scale", sample.scale), ("paired", sample.twin)):
            if name in self.writers:
                self.writers[name].append(value)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def _write_split(folder: Path, count: int, samples: Iterator[Decoded]) -> None:
    writer = None
    try:
        for sample in samples:
            writer = writer or _SplitWriter(folder, count, sample)
            writer.append(sample)
    finally:
        if writer is not None:
            writer.close()


def store_split(out: str | Path, prepared: str | Path, split: str, input_size: int, *, modality: str = "thermal",
                paired: bool = False, all_labelled: bool = False, meta_columns: tuple[str, ...] = ()) -> int:
    """Decode the rows of `split` as `load_split` does and stream them into the store folder `<out>/<split>/`, one
    sample in memory at a time; `meta.csv` keeps sample_id and `meta_columns`. Returns the number of samples."""
    prepared, folder = Path(prepared), Path(out) / split
    folder.mkdir(parents=True)
    meta = list(dict.fromkeys(("sample_id",) + tuple(meta_columns)))
    count = 0
    for chunk in _split_rows(prepared, split, ("split",) + tuple(meta)):
        chunk[meta].to_csv(folder / "meta.csv", mode="a" if count else "w", header=not count, index=False,
                           lineterminator="\n")
        count += len(chunk)
    if not count:
        raise InputError(f"{prepared / SAMPLES}: no samples in split '{split}'")
    rows = (row for chunk in _split_rows(prepared, split, _columns(modality, paired, ()))
            for row in chunk.itertuples(index=False))
    _write_split(folder, count, (_decode(prepared, row, input_size, modality, paired, all_labelled)
                                 for row in progress(rows, f"store {prepared.name}/{split}", total=count)))
    return count


def save_splits(path: str | Path, splits: dict[str, Split]) -> None:
    """In-memory splits written as a store folder (`load_splits` reads it back), replaced only when complete."""
    with atomic_dir(path) as tmp:
        for name, sp in splits.items():
            (tmp / name).mkdir()
            if sp.meta is not None:
                sp.meta.to_csv(tmp / name / "meta.csv", index=False, lineterminator="\n")
            _write_split(tmp / name, len(sp), (
                Decoded(sp.images[i], None if sp.paired is None else sp.paired[i], sp.kpts[i], sp.visible[i],
                        sp.scale[i]) for i in range(len(sp))))


def load_splits(path: str | Path, names: tuple[str, ...]) -> dict[str, Split]:
    """The splits `names` of a store folder: labels in memory, images read on demand (`Rows`)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: crop store not found (run its cache stage first)")
    out = {}
    for name in names:
        folder = path / name
        if not (folder / "images.npy").is_file():
            raise InputError(f"{path}: no split '{name}'")
        meta = pd.read_csv(folder / "meta.csv") if (folder / "meta.csv").is_file() else None
        out[name] = Split(images=Rows(folder / "images.npy"), kpts=np.load(folder / "kpts.npy"),
                          visible=np.load(folder / "visible.npy"), scale=np.load(folder / "scale.npy"),
                          paired=Rows(folder / "paired.npy") if (folder / "paired.npy").is_file() else None,
                          meta=meta)
    return out
