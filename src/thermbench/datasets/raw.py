"""The raw stages' calls: a dataset's original on-disk format (or the breath videos), synthesised offline,
downloaded, or copied from the user's recordings."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError
from thermbench.datasets import fetch, synth
from thermbench.datasets.synth.video import write_videos
from thermbench.datasets.video import import_real


def make_raw(dataset: str, out: Path, source: str, seed: int, synth_cfg: dict, fetch_cfg: dict) -> None:
    """Write data/raw/<dataset>: the synthetic world (source 'synthetic') or the real download ('real')."""
    if source == "synthetic":
        synth.write(dataset, out, synth_cfg, seed=seed)
    elif source == "real":
        fetch.fetch(dataset, out, fetch_cfg)
    else:
        raise InputError(f"params.yaml: data.source.{dataset} must be 'synthetic' or 'real', not '{source}'")


def make_videos(out: str | Path, source: str, synth_cfg, seed: int, real_dir: str | Path) -> None:
    """The benchmark's videos in `out`: rendered by the synthetic world (`source` synthetic, `synth_cfg` a
    `synth.video.VideoConfig`), or the user's recordings in `real_dir` checked and copied (`source` real)."""
    if source == "real":
        import_real(real_dir, out)
    elif source == "synthetic":
        write_videos(Path(out), synth_cfg, seed)
    else:
        raise InputError(f"params.yaml: data.source.breath '{source}' is not synthetic or real")
