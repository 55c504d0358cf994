"""The raw stage's one call: a dataset's original on-disk format, synthesised offline or downloaded."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError


def make_raw(dataset: str, out: Path, source: str, seed: int, synth_cfg: dict, fetch_cfg: dict) -> None:
    """Write data/raw/<dataset>: the synthetic world (source 'synthetic') or the real download ('real')."""
    if source == "synthetic":
        from thermbench.datasets import synth

        synth.write(dataset, out, synth_cfg, seed=seed)
    elif source == "real":
        from thermbench.datasets import fetch

        fetch.fetch(dataset, out, fetch_cfg)
    else:
        raise InputError(f"params.yaml: data.source must be 'synthetic' or 'real', not '{source}'")
