"""The synthetic thermal world (design §4): seeded renders of a MediaPipe face mesh, written in the raw on-disk
formats of ThermEval-D, T-FAKE and CHARLOTTE-ThermalFace so the real parsers read them unchanged."""

from __future__ import annotations

from pathlib import Path

from thermbench.core.io import InputError, atomic_dir

# The params each writer reads from `synth.<dataset>`.
REQUIRED = {
    "thermeval": ("frames_file1", "frames_file2", "people_probs", "face_width_px", "blur_px"),
    "tfake": ("num_images", "image_size", "face_width_px", "max_pose", "blur_px"),
    "charlotte": ("subjects", "images_per_subject", "median_width_px"),
}


def write(dataset: str, out: Path, cfg: dict, seed: int) -> None:
    """Write the raw format of `dataset` into `out` (replaced atomically), deterministically from `seed`."""
    if dataset not in REQUIRED:
        raise InputError(f"synth: unknown dataset '{dataset}' (expected one of {', '.join(REQUIRED)})")
    missing = [key for key in REQUIRED[dataset] if key not in cfg]
    if missing:
        raise InputError(f"params.yaml: synth.{dataset} lacks {', '.join(missing)}")
    from thermbench.datasets.synth import charlotte, tfake, thermeval

    writer = {"thermeval": thermeval.write, "tfake": tfake.write, "charlotte": charlotte.write}[dataset]
    with atomic_dir(out) as tmp:
        writer(tmp, cfg, seed)
