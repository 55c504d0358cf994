"""Keypoint schemas and index mappings.

The tables are data (`schemas/*.json`); this module only loads and applies them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """Load `schemas/<name>.json` shipped inside the package."""
    path = resources.files("thermbench") / "schemas" / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"unknown keypoint schema or mapping '{name}'")
    return json.loads(path.read_text())


def map_points(points: np.ndarray, index: list[int | None]) -> np.ndarray:
    """Gather `points[index[k]]` for each target k; a None entry yields NaN (the point does not exist in the source).

    `points` is (N, D) or (B, N, D); the result has the target's count in place of N.
    """
    points = np.asarray(points, dtype=np.float64)
    out_shape = points.shape[:-2] + (len(index), points.shape[-1])
    out = np.full(out_shape, np.nan)
    for k, src in enumerate(index):
        if src is not None:
            out[..., k, :] = points[..., src, :]
    return out
