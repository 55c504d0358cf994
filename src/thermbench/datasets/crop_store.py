"""The landmark crop store: prepared samples decoded into in-memory splits at a model's input size, and their cache
file, so that training and scoring stages skip PNG decoding.

Coordinates are continuous pixel coordinates as in `thermbench.core.crops` (pixel i covers [i, i+1)). Keypoints live in
*input* pixels (the crop resized to the model's input size), `x_in = x_crop * input_w / crop_w`; `Split.scale`
converts predictions back to crop pixels.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import InputError, atomic_write_bytes
from thermbench.core.progress import progress
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import SAMPLES, read_samples


@dataclass
class Split:
    """One split held in memory. `images`: (N,H,W) gray or (N,H,W,3) RGB uint8; `paired`: the RGB twin or None;
    `kpts` (N,K,2) float32 input px; `visible` (N,K) float32; `scale` (N,2) crop px per input px (x, y)."""

    images: np.ndarray
    kpts: np.ndarray
    visible: np.ndarray
    scale: np.ndarray
    paired: np.ndarray | None = None
    meta: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.images)


def _read_image(path: Path, color: bool) -> np.ndarray:
    if not color:
        return read_image(path)
    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def load_split(prepared: str | Path, split: str | None, input_size: int, *, modality: str = "thermal",
               paired: bool = False, all_labelled: bool = False, max_samples: int | None = None) -> Split:
    """Load the rows of `<prepared>/samples.csv` in `split` (None = all) into memory at `input_size` pixels.

    modality "thermal" reads `crop_path` (gray), "rgb" reads `rgb_crop_path`; `paired` also loads the RGB twin
    (for KTL). `all_labelled` treats every point as annotated (T-FAKE: every point has a rendered position and the flag
    only marks self-occlusion); otherwise the flag masks points without a label (CHARLOTTE's unmapped points).
    `max_samples` keeps the first rows.
    """
    prepared = Path(prepared)
    table = prepared / SAMPLES
    df = read_samples(prepared, ("split", "crop_path", "kpts")
                      + (("rgb_crop_path",) if modality == "rgb" or paired else ()))
    if split is not None:
        df = df[df["split"] == split]
    if max_samples is not None:
        df = df.iloc[:max_samples]
    if df.empty:
        raise InputError(f"{table}: no samples in split '{split}'")
    df = df.reset_index(drop=True)

    size = (input_size, input_size)
    images, twins, kpts, scales = [], [], [], []
    column = "rgb_crop_path" if modality == "rgb" else "crop_path"
    for row in progress(df.itertuples(index=False), f"load {prepared.name}/{split}", total=len(df)):
        img = _read_image(prepared / getattr(row, column), color=modality == "rgb")
        h, w = img.shape[:2]
        images.append(_resize(img, size))
        if paired:
            twins.append(_resize(_read_image(prepared / row.rgb_crop_path, color=True), size))
        scale = np.array([w / input_size, h / input_size], dtype=np.float32)
        pts = np.asarray(json.loads(row.kpts), dtype=np.float32).reshape(-1, 3)
        pts[:, :2] /= scale
        kpts.append(pts)
        scales.append(scale)
    kpts = np.stack(kpts)
    visible = (all_labelled | (kpts[..., 2] > 0)).astype(np.float32)
    return Split(images=np.stack(images), kpts=kpts[..., :2].copy(), visible=visible, scale=np.stack(scales),
                 paired=np.stack(twins) if paired else None, meta=df)


def save_splits(path: str | Path, splits: dict[str, Split]) -> None:
    """Decoded crops of several splits in one .npz (written atomically), so training stages skip PNG decoding."""
    arrays = {}
    for name, sp in splits.items():
        arrays.update({f"{name}/images": sp.images, f"{name}/kpts": sp.kpts, f"{name}/visible": sp.visible,
                       f"{name}/scale": sp.scale})
        if sp.paired is not None:
            arrays[f"{name}/paired"] = sp.paired
        if sp.meta is not None:
            arrays[f"{name}/meta"] = np.array(sp.meta.to_csv(index=False))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_splits(path: str | Path, names: tuple[str, ...]) -> dict[str, Split]:
    """The splits `names` from a `save_splits` file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: crop cache not found (run its cache stage first)")
    with np.load(path, allow_pickle=False) as z:
        out = {}
        for name in names:
            if f"{name}/images" not in z:
                raise InputError(f"{path}: no split '{name}'")
            meta = pd.read_csv(io.StringIO(str(z[f"{name}/meta"]))) if f"{name}/meta" in z else None
            out[name] = Split(images=z[f"{name}/images"], kpts=z[f"{name}/kpts"], visible=z[f"{name}/visible"],
                              scale=z[f"{name}/scale"], paired=z[f"{name}/paired"] if f"{name}/paired" in z else None,
                              meta=meta)
    return out
