"""MLCM-KD report figures: cumulative error curves, training curves, gradient norms (Fig. 5) and a qualitative
grid of predictions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler

LINES = cycler(linestyle=["-", "--"]) * cycler(color=plt.get_cmap("tab10").colors)


def _tag(ax, source_label: str) -> None:
    ax.text(0.99, 0.01, source_label, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")


def plot_ced(curves: dict[str, pd.DataFrame], source_label: str, student_seeds: list[int] | None = None):
    """CED of each run from its `<run>_ced.csv` (columns nme, tfake, charlotte_full): one run per method, the trained
    students' of `student_seeds` (named in the title; their run names carry the seed), the teacher's and the
    pretrained models' one run each. One legend below both panels, so it covers no curve."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    for ax, (title, column) in zip(axes, (("T-FAKE test (NME-IO)", "tfake"),
                                          ("CHARLOTTE Full (NME-diag)", "charlotte_full"))):
        ax.set_prop_cycle(LINES)
        for name, df in curves.items():
            ax.plot(df["nme"], df[column], label=name, lw=1.2)
        ax.set(title=title, xlabel="NME (fraction of normaliser)")
        ax.grid(alpha=0.3)
        _tag(ax, source_label)
    axes[0].set_ylabel("images with NME <= x (fraction)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=8)
    seeds = sorted(set(student_seeds or ()))
    drawn = ("one run per model" if not seeds else
             f"students at seed {seeds[0]} only" if len(seeds) == 1 else
             f"one run per student, of seeds {', '.join(map(str, seeds))} (in the run names)")
    fig.suptitle(f"Cumulative error distribution up to NME 0.1: {drawn}; teacher and pretrained models: their one "
                 f"run ({source_label})")
    return fig


def plot_curves(curves: dict[str, pd.DataFrame], source_label: str):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax in axes:
        ax.set_prop_cycle(LINES)
    for name, df in curves.items():
        axes[0].plot(df["epoch"], df["train_loss"], label=name, lw=1.2)
        scored = df.dropna(subset=["val_nme"]) if "val_nme" in df else df.iloc[:0]
        axes[1].plot(scored["epoch"], scored["val_nme"], label=name, lw=1.2, marker=".")
    axes[0].set(title="Training loss (weighted total)", xlabel="epoch", ylabel="loss (unitless)", yscale="log")
    axes[1].set(title="Validation NME-IO (thermal; RGB for the teacher)", xlabel="epoch", ylabel="NME (fraction)")
    for ax in axes:
        ax.grid(alpha=0.3)
        _tag(ax, source_label)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"MLCM-KD training curves ({source_label})")
    return fig


def plot_grad_norms(grad: dict[str, pd.DataFrame], source_label: str):
    """Fig. 5: per-step gradient L2 norm over the first logged KTL steps."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, df in grad.items():
        ax.plot(df["step"], df["grad_norm"], label=name, lw=1.0)
    ax.set(title=f"Gradient norm in early KTL training (Fig. 5; {source_label})", xlabel="training step",
           ylabel="||grad||_2 of student + adapters (unitless, log)", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _tag(ax, source_label)
    return fig


def plot_qualitative(images: list[np.ndarray], gt: np.ndarray, preds: dict[str, np.ndarray], source_label: str):
    """Rows = thermal test crops; columns = methods; GT green dots, prediction red crosses (crop px)."""
    n, cols = len(images), len(preds)
    fig, axes = plt.subplots(n, cols, figsize=(2.6 * cols, 2.6 * n), squeeze=False)
    for i, img in enumerate(images):
        for j, (name, pred) in enumerate(preds.items()):
            ax = axes[i, j]
            ax.imshow(img, cmap="inferno", vmin=0, vmax=255)
            ax.scatter(gt[i, :, 0], gt[i, :, 1], s=4, c="lime", label="GT")
            ax.scatter(pred[i, :, 0], pred[i, :, 1], s=6, c="red", marker="x", linewidths=0.7, label="prediction")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"test {i} (crop px)", fontsize=7)
    axes[0, 0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"T-FAKE thermal test crops: GT (green) vs prediction (red) ({source_label})")
    return fig
