"""The prepare stage's one call: a raw dataset folder -> the prepared-data contract (samples.csv + crops)."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError, atomic_dir
from thermbench.core.stage import build
from thermbench.datasets.registry import DATASETS


def prepare(dataset: str, raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Parse `raw` with the dataset's own parser and write `out` atomically (same code for real and synthetic)."""
    if not raw.is_dir():
        raise InputError(f"{raw}: raw dataset folder not found (run the raw stage first)")
    if dataset not in DATASETS:
        raise InputError(f"prepare: unknown dataset '{dataset}'")
    build(DATASETS[dataset].adapter.PrepareConfig, cfg, f"prepare.{dataset}")  # before any output is touched
    with atomic_dir(out) as tmp:
        DATASETS[dataset].adapter.prepare(raw, tmp, cfg, seed)
