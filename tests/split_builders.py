"""Tiny in-memory MLCM-KD splits for the training tests: dark frames with a bright dot under each keypoint, so there
is something to learn."""

import numpy as np
import pandas as pd

from thermbench.datasets.crop_store import Split


def dot_split(n: int, seed: int, size: int = 64, twin: str | None = None, meta: pd.DataFrame | None = None) -> Split:
    """`n` gray crops of `size` px with 68 seeded keypoints. `twin`: None, "same" (an RGB copy of each crop) or
    "inverted" (an RGB copy of its negative, a twin that differs from the student's input, as RGB from thermal)."""
    rng = np.random.default_rng(seed)
    kpts = rng.uniform(8, size - 8, size=(n, 68, 2)).astype(np.float32)
    images = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        for x, y in kpts[i].astype(int):
            images[i, y, x] = 255
    if twin not in (None, "same", "inverted"):
        raise ValueError(f"twin must be None, 'same' or 'inverted', got {twin!r}")
    paired = None if twin is None else np.repeat((images if twin == "same" else 255 - images)[..., None], 3, axis=-1)
    # every store keeps its sample ids, the items a run's per-image scores are named by (core.items)
    ids = pd.DataFrame({"sample_id": [f"s{seed}_{i:03d}" for i in range(n)]})
    meta = ids if meta is None else meta if "sample_id" in meta else pd.concat([ids, meta.reset_index(drop=True)],
                                                                               axis=1)
    return Split(images=images, kpts=kpts, visible=np.ones((n, 68), np.float32), scale=np.ones((n, 2), np.float32),
                 paired=paired, meta=meta)
