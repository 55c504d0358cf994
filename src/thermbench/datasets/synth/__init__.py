"""The synthetic thermal world (design §4): seeded renders of a MediaPipe face mesh, written in the raw on-disk
formats of ThermEval-D, T-FAKE and CHARLOTTE-ThermalFace so the real parsers read them unchanged."""

from __future__ import annotations

from pathlib import Path

from thermbench.io import InputError, atomic_dir

DATASETS = ("thermeval", "tfake", "charlotte")


def write(dataset: str, out: Path, cfg: dict, seed: int) -> None:
    """Write the raw format of `dataset` into `out` (replaced atomically), deterministically from `seed`."""
    if dataset not in DATASETS:
        raise InputError(f"synth: unknown dataset '{dataset}' (expected one of {', '.join(DATASETS)})")
    from thermbench.datasets.synth import charlotte, tfake, thermeval

    writer = {"thermeval": thermeval.write, "tfake": tfake.write, "charlotte": charlotte.write}[dataset]
    with atomic_dir(out) as tmp:
        writer(tmp, cfg, seed)
