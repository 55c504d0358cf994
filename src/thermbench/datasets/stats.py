"""Summary numbers of a prepared dataset (data/prepared/<dataset>/samples.csv): split sizes and mean coordinates.

They follow from the raw data and the parsing code alone, so the regression gate compares them exactly: a changed
parser, split, crop box or frame-to-crop mapping moves them even where the smoke-size training cannot show it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from thermbench.core.io import InputError
from thermbench.datasets.prepared import SAMPLES, read_samples

# Per-sample coordinate columns of the prepared tables (crop px unless named frame_ or box_; box_* in frame px).
COORDINATES = ("nose_x", "nose_y", "nose_cx", "nose_cy", "frame_nose_x", "frame_nose_y",
               "box_x0", "box_y0", "box_w", "box_h")


def prepared_summary(prepared: Path) -> dict:
    """{"samples": {split: n}, "mean_px": {column: mean}, "keypoints": {...}} of `prepared`/samples.csv."""
    path = Path(prepared) / SAMPLES
    table = read_samples(prepared, ("split",))
    out: dict = {"samples": {str(k): int(v) for k, v in table["split"].value_counts().sort_index().items()}}
    out["mean_px"] = {c: float(table[c].mean()) for c in COORDINATES if c in table.columns}
    if "kpts" in table.columns:
        try:
            kpts = np.array([json.loads(cell) for cell in table["kpts"]], dtype=np.float64)  # (N, K, 3): x, y, visible
        except (ValueError, TypeError) as err:
            raise InputError(f"{path}: column kpts is not a JSON list of [x, y, visible] per sample ({err})") from None
        visible = kpts[..., 2] > 0
        out["keypoints"] = {"per_sample": int(kpts.shape[1]), "visible_share": float(visible.mean()),
                            "mean_x_px": float(kpts[..., 0][visible].mean()),
                            "mean_y_px": float(kpts[..., 1][visible].mean())}
    if "condition" in table.columns:  # T-FAKE: which thermal conditions each split holds
        counts = table.groupby(["split", "condition"]).size()
        out["conditions"] = {str(split): {str(c): int(n) for c, n in counts[split].items()}
                             for split in counts.index.get_level_values(0).unique()}
    if "width_px" in table.columns:
        out["width_groups"] = width_summary(table, path)
    return out


def width_summary(table, path: Path) -> dict:
    """CHARLOTTE's High/Mean/Low: which width they compare, the threshold, the widths' distribution, group sizes."""
    measure, threshold = table["width_measure"].unique(), table["width_threshold_px"].unique()
    if len(measure) != 1 or len(threshold) != 1:
        raise InputError(f"{path}: width_measure and width_threshold_px must each hold one value")
    widths = table["width_px"].to_numpy(np.float64)
    quantiles = (0, 10, 25, 50, 75, 90, 100)
    return {"measure": str(measure[0]), "threshold_px": float(threshold[0]), "median_px": float(np.median(widths)),
            "quantiles_px": {f"p{q}": float(np.percentile(widths, q)) for q in quantiles},
            "groups": {g: int((table["width_group"] == g).sum()) for g in ("high", "mean", "low")}}
