"""The prepare stage's one call: a raw dataset folder -> the prepared-data contract (samples.csv + crops)."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError, atomic_dir


def prepare(dataset: str, raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Parse `raw` with the dataset's own parser and write `out` atomically (same code for real and synthetic)."""
    if not raw.is_dir():
        raise InputError(f"{raw}: raw dataset folder not found (run the raw stage first)")
    if dataset == "thermeval":
        from thermbench.datasets.thermeval import prepare as parse
    elif dataset == "tfake":
        from thermbench.datasets.tfake import prepare as parse
    elif dataset == "charlotte":
        from thermbench.datasets.charlotte import prepare as parse
    else:
        raise InputError(f"prepare: unknown dataset '{dataset}'")
    with atomic_dir(out) as tmp:
        parse(raw, tmp, cfg, seed)
