"""Helpers the dataset parsers share: strict image reading, PNG writing, deterministic CSV tables."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import InputError, is_number

ZERO_CELSIUS_K = 273.15  # 0 °C in kelvin: a centikelvin frame (CHARLOTTE's, a breath video's) holds (°C + this) x 100


def celsius_from_centikelvin(raw: np.ndarray) -> np.ndarray:
    """°C (float64) of a uint16 centikelvin frame."""
    return raw.astype(np.float64) / 100.0 - ZERO_CELSIUS_K


def centikelvin_from_celsius(temp: np.ndarray) -> np.ndarray:
    """°C -> uint16 centikelvin (`celsius_from_centikelvin`'s inverse, rounded and clipped), in the precision of
    `temp`."""
    return np.clip(np.round((temp + ZERO_CELSIUS_K) * 100), 0, 65535).astype(np.uint16)


def check_crop(where: str, box_scale, crop_size) -> None:
    """The crop keys every `prepare.<dataset>` section has, checked where its params are read, in one line."""
    if not (is_number(box_scale) and box_scale > 0):
        raise InputError(f"params.yaml: '{where}.box_scale' must be a number above 0, not {box_scale!r}")
    if isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1:
        raise InputError(f"params.yaml: '{where}.crop_size' must be a whole number of px of at least 1, "
                         f"not {crop_size!r}")


def check_choice(where: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"params.yaml: '{where}' must be one of {', '.join(choices)}, not {value!r}")


def read_image(path: Path, flags: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    """Read an image or raise InputError naming the file (cv2.imread would return None silently)."""
    if not path.is_file():
        raise InputError(f"{path}: image file not found")
    data = np.fromfile(path, dtype=np.uint8)
    previous = cv2.getLogLevel()
    cv2.setLogLevel(0)  # 0 = silent: our one-line error replaces cv2's warnings
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error:
        image = None
    finally:
        cv2.setLogLevel(previous)
    if image is None:
        raise InputError(f"{path}: corrupt or unreadable image")
    return image


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"{path}: could not write PNG")


def points_json(points: np.ndarray, ndigits: int = 3) -> str:
    """Compact JSON list of point rows, rounded so the CSV is stable."""
    return json.dumps([[round(float(v), ndigits) for v in row] for row in np.asarray(points)], separators=(",", ":"))


def write_table(rows: list[dict], path: Path, sort_by: list[str]) -> pd.DataFrame:
    """Write rows as CSV sorted by `sort_by`, floats with 3 decimals, '\\n' line ends; return the table."""
    table = pd.DataFrame(rows).sort_values(sort_by, kind="stable").reset_index(drop=True)
    table.to_csv(path, index=False, float_format="%.3f", lineterminator="\n")
    return table


class TableStream:
    """`write_table`'s CSV written `chunk_rows` rows at a time, so no table of the whole set is held: rows must come
    in `sort_by` order (checked), which is the order `write_table` would have sorted them into."""

    def __init__(self, path: Path, sort_by: list[str], chunk_rows: int = 1024):
        self.path, self.sort_by, self.chunk_rows = path, sort_by, chunk_rows
        self.rows: list[dict] = []
        self.last: tuple | None = None
        self.started = False

    def add(self, row: dict) -> None:
        key = tuple(row[k] for k in self.sort_by)
        if self.last is not None and key < self.last:
            raise ValueError(f"{self.path}: rows out of {self.sort_by} order ({key} after {self.last})")
        self.last = key
        self.rows.append(row)
        if len(self.rows) >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        """Append the rows held (the whole file where none came: `write_table`'s empty table)."""
        if self.rows or not self.started:
            pd.DataFrame(self.rows).to_csv(self.path, index=False, float_format="%.3f", lineterminator="\n",
                                           mode="a" if self.started else "w", header=not self.started)
            self.started, self.rows = True, []
