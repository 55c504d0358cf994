"""plots/synth_examples: what the synthetic world looks like, in each dataset's format."""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import tifffile

from thermbench.core.io import read_csv
from thermbench.core.plots import data_label
from thermbench.datasets import charlotte, thermeval
from thermbench.datasets.common import read_image
from thermbench.datasets.synth.meta import read_meta
from thermbench.datasets.synth.tfake import THERMAL_DIR
from thermbench.datasets.synth.thermal import decode_window
from thermbench.datasets.tfake import read_landmarks

CATEGORY_COLOURS = {"Person": "lime", "Chest": "deepskyblue", "Forehead": "yellow", "Nose": "red"}


def _pick(n_total: int, n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def examples_figure(raw_tfake: Path, raw_thermeval: Path, raw_charlotte: Path, n: int):
    # Constrained layout: each y label gets its own room (none on the neighbouring image), and the suptitle sits
    # right above the first row.
    fig, axes = plt.subplots(4, n, figsize=(2.6 * n + 1.2, 11.5), squeeze=False, layout="constrained")
    meta = read_meta(raw_tfake).sort_values(["yaw", "id"]).reset_index(drop=True)  # examples span the yaw range
    for col, i in enumerate(_pick(len(meta), n)):
        item = meta.iloc[i]
        lm = read_landmarks(raw_tfake / f"{item.id}_ldmks.txt")
        rgb = cv2.cvtColor(read_image(raw_tfake / f"{item.id}.png", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        temp = decode_window(read_image(raw_tfake / THERMAL_DIR / f"{item.id}.png", cv2.IMREAD_GRAYSCALE))
        axes[0, col].imshow(rgb)
        im = axes[1, col].imshow(temp, cmap="inferno", vmin=20, vmax=40)
        for row in (0, 1):
            axes[row, col].scatter(lm[:68, 0], lm[:68, 1], s=3, c="lime")
            axes[row, col].scatter(lm[68:, 0], lm[68:, 1], s=6, c="cyan")
        axes[0, col].set_title(f"T-FAKE RGB {item.id}\nyaw {item.yaw:+.0f}°", fontsize=8)
        axes[1, col].set_title("thermal twin\n(20-40 °C window)", fontsize=8)
    fig.colorbar(im, ax=axes[1, :].tolist(), label="temperature (°C)", shrink=0.8)

    coco = thermeval.load_annotations(raw_thermeval / thermeval.ANNOTATION_FILES[1])
    names = {c["id"]: c["name"] for c in coco["categories"]}
    # Prefer frames with at least one complete person (4 annotations); tiny sets may have none.
    busy = [im for im in coco["images"] if sum(a["image_id"] == im["id"] for a in coco["annotations"]) >= 4]
    busy = busy or coco["images"]
    for col, i in enumerate(_pick(len(busy), n)):
        image = busy[i]
        stem = Path(image["file_name"]).stem
        temp = tifffile.imread(raw_thermeval / "Temp_Matrix" / f"{stem}.tiff")
        ax = axes[2, col]
        im = ax.imshow(temp, cmap="gray", vmin=18, vmax=38)
        for ann in coco["annotations"]:
            if ann["image_id"] == image["id"]:
                poly = np.array(ann["segmentation"][0]).reshape(-1, 2)
                ax.add_patch(plt.Polygon(poly, fill=False, lw=0.8, ec=CATEGORY_COLOURS[names[ann["category_id"]]]))
        ax.set_title(f"ThermEval-D {stem}\n192x256 frame", fontsize=8)
    fig.colorbar(im, ax=axes[2, :].tolist(), label="temperature (°C)", shrink=0.8)

    cmeta = read_meta(raw_charlotte).sort_values(["view", "ID"]).reset_index(drop=True)
    for col, i in enumerate(_pick(len(cmeta), n)):
        item = cmeta.iloc[i]
        path = raw_charlotte / f"S{item.subject}.csv"
        table = read_csv(path, dtype={"ID": str})
        xs, ys = charlotte.read_points(table, path)[np.flatnonzero(table["ID"] == item.ID)[0], :72].T
        temp = charlotte.read_centikelvin(raw_charlotte / f"S{item.subject}" / f"{item.ID}.tiff")
        im = axes[3, col].imshow(temp, cmap="inferno", vmin=20, vmax=40)
        axes[3, col].scatter(xs, ys, s=3, c="lime")
        axes[3, col].set_title(f"CHARLOTTE {item.ID}\n{item.view}, {int(np.isfinite(xs).sum())} points", fontsize=8)
    fig.colorbar(im, ax=axes[3, :].tolist(), label="temperature (°C)", shrink=0.8)

    for ax in axes.ravel():
        ax.set_xlabel("x (px)", fontsize=7)
        ax.set_ylabel("y (px)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"Synthetic thermal world: RGB/thermal pairs with landmarks, ThermEval-D frames "
                 f"(Person/Chest/Forehead/Nose), CHARLOTTE images — {data_label('synthetic')}", fontsize=10)
    return fig


def not_applicable_figure(reason: str):
    """Stand-in for the examples figure when the raw data are real: there is no generator to inspect."""
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True)
    ax.set_xlabel("x (none)")
    ax.set_ylabel("y (none)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Synthetic-world QA not applicable — {data_label('real')}")
    return fig
