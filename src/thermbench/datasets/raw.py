"""The raw stages' calls: a dataset's original on-disk format (or the breath videos), synthesised offline,
downloaded, or copied from the user's recordings."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError, atomic_dir
from thermbench.datasets import fetch
from thermbench.datasets.registry import DATASETS
from thermbench.datasets.synth.video import write_videos
from thermbench.datasets.video import import_real


def make_raw(dataset: str, out: Path, source: str, seed: int, synth_cfg: dict, fetch_cfg: dict) -> None:
    """Write data/raw/<dataset>: the synthetic world (source 'synthetic') or the real download ('real')."""
    if source == "synthetic":
        write_synthetic(dataset, out, synth_cfg, seed)
    elif source == "real":
        fetch.fetch(dataset, out, fetch_cfg)
    else:
        raise InputError(f"params.yaml: data.source.{dataset} must be 'synthetic' or 'real', not '{source}'")


def write_synthetic(dataset: str, out: Path, cfg: dict, seed: int) -> None:
    """The raw format of `dataset` from its synthetic twin into `out` (replaced atomically), deterministically from
    `seed`."""
    if dataset not in DATASETS:
        raise InputError(f"synth: unknown dataset '{dataset}' (expected one of {', '.join(DATASETS)})")
    twin = DATASETS[dataset].synth
    missing = [key for key in twin.REQUIRED if key not in cfg]
    if missing:
        raise InputError(f"params.yaml: synth.{dataset} lacks {', '.join(missing)}")
    with atomic_dir(out) as tmp:
        twin.write(tmp, cfg, seed)


def make_videos(out: str | Path, source: str, synth_cfg, seed: int, real_dir: str | Path) -> None:
    """The benchmark's videos in `out`: rendered by the synthetic world (`source` synthetic, `synth_cfg` a
    `synth.video.VideoConfig`), or the user's recordings in `real_dir` checked and copied (`source` real)."""
    if source == "real":
        import_real(real_dir, out)
    elif source == "synthetic":
        write_videos(Path(out), synth_cfg, seed)
    else:
        raise InputError(f"params.yaml: data.source.breath '{source}' is not synthetic or real")
