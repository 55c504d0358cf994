"""The blog's part-2 report for the TinyHead: the comparison table, the convergence check, and three figures.

Everything is read from the head stages' outputs and `metrics/zeroshot/*.json`; nothing here computes accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import InputError, atomic_dir, read_json, write_text
from thermbench.core.plots import data_label, plt, save_figure
from thermbench.tinyhead.finetune import descent_phases, load_samples, read_crops

UNITS = ("crop_px", "frame_px")
UNIT_NAMES = {"crop_px": "crop px", "frame_px": "frame px"}


def zeroshot_columns(zeroshot_dir: str | Path, timing_dir: str | Path) -> tuple[dict[str, dict | str], str | None]:
    """{model: its crop-protocol block (+ "timing"), or its short status} from `<dir>/*.json`; a note if none exist.

    The zero-shot stage writes `status` ("ok" or why not, e.g. weights not available) and `crop` = {"crop_px": ...,
    "frame_px": ...} in the layout of `thermbench.core.metrics.nose_summary`; its timing file holds
    `median_ms_per_frame`.
    """
    zeroshot_dir = Path(zeroshot_dir)
    files = sorted(zeroshot_dir.glob("*.json")) if zeroshot_dir.is_dir() else []
    if not files:
        return {}, f"No zero-shot results: {zeroshot_dir}/*.json is absent, so the bake-off columns are missing."
    columns = {}
    for path in files:
        data = read_json(path)
        status = str(data.get("status", "no status"))
        if status != "ok":
            columns[path.stem] = status.split(":")[0]  # the full line is in the zero-shot report
        elif not isinstance(data.get("crop"), dict):
            raise InputError(f"{path}: status ok but no 'crop' block")
        else:
            timing = Path(timing_dir) / path.name
            columns[path.stem] = {**data["crop"], "timing": read_json(timing) if timing.is_file() else None}
    return columns, None


def _fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{100 * value:.0f}%" if kind == "pct" else f"{value:.1f} px"


def _cost(timing: dict | None) -> str:
    if not timing:
        return "not timed"
    return f"{timing['median_ms_per_frame']:.0f} ms/frame (full frame, {timing['threads']} thread)"


def comparison_table(head: dict, timing: dict, train_timing: dict, zeroshot: dict[str, dict | str],
                     thresholds) -> str:
    """Markdown: metric rows, one column per zero-shot model (crop protocol) and one for the finetuned head."""
    ours = "Finetuned TinyHead"
    names = list(zeroshot) + [ours]
    cells = {**zeroshot, ours: head}
    rows = [("Test setting", {n: "GT Person box given (crop protocol)" for n in names})]
    detection = {n: _fmt(c["crop_px"]["detection_rate"], "pct") if isinstance(c, dict) else c for n, c in cells.items()}
    rows.append(("Detection rate over GT", {**detection, ours: "100% by protocol (one prediction per crop)"}))
    for unit in UNITS:
        metrics = [("mean_px", "Mean nose error", "px"), ("median_px", "Median error", "px")]
        for key, label, kind in metrics + [(t, f"PCK@{t}px", "pct") for t in thresholds]:
            rows.append((f"{label} ({UNIT_NAMES[unit]})", {
                n: (_fmt(c[unit]["pck"].get(f"{key}px") if kind == "pct" else c[unit][key], kind)
                    if isinstance(c, dict) else c) for n, c in cells.items()}))
    cost = (f"{timing['median_ms_per_crop']:.0f} ms/crop ({timing['backbone']} backbone + head, "
            f"{timing['threads']} thread)")
    rows.append(("Inference cost (median)", {**{n: _cost(c.get("timing")) if isinstance(c, dict) else c
                                                for n, c in zeroshot.items()}, ours: cost}))
    rows.append(("Trainable params", {**{n: "0" for n in zeroshot}, ours: f"{head['trainable_params']:,}"}))
    supervision = (f"{head['n_train_labels']} labels + {train_timing['main_run_s']:.0f} s head training "
                   f"({train_timing['threads']} CPU thread)")
    rows.append(("Supervision needed", {**{n: "0" for n in zeroshot}, ours: supervision}))
    lines = ["| Metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(values[n] for n in names) + " |" for label, values in rows]
    return "\n".join(lines) + "\n"


STRIDES = {1: 4, 2: 8, 3: 16, 4: 32}  # CSPNeXt stage -> output stride


def backbone_text(backbone: dict, trainable_params: int) -> str:
    """What the head was trained on, from the feature cache's backbone record; for the teacher also which input size
    and CSPNeXt stages fed the head, and why."""
    grid = f"{backbone['feature_size']}x{backbone['feature_size']}"
    text = (f"Frozen backbone: {backbone['name']} ({backbone['arch']}), {backbone['channels']}-channel features on a "
            f"{grid} grid from {backbone['crop_size']} px crops. The TinyHead on it has {trainable_params:,} trainable "
            "parameters (410,625 at Sapiens2's 1024 channels).")
    if backbone["name"] != "teacher":
        return text
    (w, h), (tw, th), crop = backbone["input_px"], backbone["trained_px"], backbone["crop_size"]
    maps = " + ".join(f"stage {s} (stride {STRIDES[s]}, {w // STRIDES[s]}x{h // STRIDES[s]} cells)"
                      for s in backbone["stages"])
    size = f"at its own {crop}x{crop} px" if (w, h) == (crop, crop) else f"resized to {w}x{h} px (w x h)"
    text += (f"\n\nTeacher features: the RGB RTMPose teacher was trained at {tw}x{th} px on tight face crops. Each "
             f"crop runs through it {size}, and the head reads CSPNeXt {maps}, each resized bilinearly (antialiased) "
             "to the head's grid and concatenated. ")
    if max(backbone["stages"]) <= 2:
        text += ("Why: features transfer across the RGB-to-thermal gap less the deeper they are (shallow stages hold "
                 "edges and blobs, deep ones RGB face parts); with the deep stride-16/32 maps, at the crop's size or "
                 "with the crop resized to bring its squashed faces to the teacher's training scale, the head did no "
                 "better than predicting the mean nose position on the synthetic data.")
    else:
        text += ("Note: deep stages (3: stride 16, 4: stride 32) encode the teacher's RGB face parts and transfer "
                 "worst across the RGB-to-thermal gap.")
    return text


def convergence_text(history: pd.DataFrame) -> str:
    """One sentence, computed from the val-loss curve, on whether the blog's two-stage convergence appears."""
    phases = descent_phases(history["val_loss"].tolist())
    spans = ", ".join(f"epochs {p['first_epoch']}-{p['last_epoch']} ({100 * p['share']:.0f}% of the log-loss fall)"
                      for p in phases)
    if len(phases) >= 2:
        return f"Two-stage convergence shows up: the validation loss falls fastest in {len(phases)} phases, {spans}."
    if len(phases) == 1:
        return f"No two-stage convergence: the validation loss has a single fast descent, {spans}."
    return "No phase of fast descent was found in the validation loss."


def learning_curve_table(curve: pd.DataFrame, threshold: int = 10) -> str:
    """Markdown: per label count, mean (min-max over seeds) of mean error and PCK@threshold, crop px."""
    key = f"pck{threshold}_crop_px"
    lines = [f"| Labels | Seeds | Mean error (crop px) | PCK@{threshold}px (crop px) |", "|---|---|---|---|"]
    for n, group in curve.groupby("n_labels"):
        err, pck = group["mean_crop_px"], group[key]
        lines.append(f"| {n} | {len(group)} | {err.mean():.1f} ({err.min():.1f}-{err.max():.1f}) "
                     f"| {100 * pck.mean():.0f}% ({100 * pck.min():.0f}-{100 * pck.max():.0f}%) |")
    return "\n".join(lines) + "\n"


def predictions_figure(crops: list[np.ndarray], table: pd.DataFrame, source: str) -> "plt.Figure":
    """Six test crops: GT nose as a red cross, prediction as a green dot, error in each panel title."""
    fig, axes = plt.subplots(2, 3, figsize=(8, 6), layout="constrained")
    for ax, crop, row in zip(axes.flat, crops, table.itertuples()):
        ax.imshow(crop, cmap="gray", vmin=0, vmax=255)
        ax.plot(row.nose_x, row.nose_y, "x", color="red", markersize=9, markeredgewidth=2, label="GT")
        ax.plot(row.pred_x, row.pred_y, "o", color="lime", markersize=5, label="prediction")
        ax.set_title(f"{row.sample_id}: {row.error_crop_px:.1f} px", fontsize=8)
        ax.set_xlabel("x (crop px)")
        ax.set_ylabel("y (crop px)")
    for ax in list(axes.flat)[len(crops):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"TinyHead predictions on test crops (red x = GT, green dot = prediction) [{data_label(source)}]")
    return fig


def training_figure(history: pd.DataFrame, source: str, threshold: int = 10) -> "plt.Figure":
    """Train/val heatmap MSE (log scale) and val PCK per epoch; detected fast-descent phases shaded."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(history["epoch"], history["train_loss"], label="train loss")
    ax.semilogy(history["epoch"], history["val_loss"], label="val loss")
    for phase in descent_phases(history["val_loss"].tolist()):
        ax.axvspan(phase["first_epoch"], phase["last_epoch"], color="grey", alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("heatmap MSE (log scale)")
    pck = ax.twinx()
    pck.plot(history["epoch"], 100 * history[f"val_pck{threshold}"], color="green", label=f"val PCK@{threshold}px")
    pck.set_ylabel(f"val PCK@{threshold}px (%, crop px)")
    pck.set_ylim(0, 100)
    handles = ax.get_legend_handles_labels()[0] + pck.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="center right", fontsize=8)
    ax.set_title(f"TinyHead training (grey: fast-descent phases of val loss) [{data_label(source)}]")
    return fig


def label_curve_figure(curve: pd.DataFrame, source: str, threshold: int = 10) -> "plt.Figure":
    """Test PCK@threshold and mean error (crop px) against the number of labels; dots are seeds, line the mean."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
    means = curve.groupby("n_labels").mean(numeric_only=True)
    for ax, key, scale, label in ((left, f"pck{threshold}_crop_px", 100, f"test PCK@{threshold}px (%, crop px)"),
                                  (right, "mean_crop_px", 1, "test mean error (crop px)")):
        ax.plot(curve["n_labels"], scale * curve[key], "o", color="grey", alpha=0.6, label="one seed")
        ax.plot(means.index, scale * means[key], "-", color="C0", label="mean over seeds")
        ax.set_xlabel("labelled train crops")
        ax.set_ylabel(label)
        ax.set_xticks(means.index)
    left.set_ylim(0, 100)
    left.legend(fontsize=7)
    fig.suptitle(f"How little supervision does the head need? [{data_label(source)}]")
    return fig


N_EXAMPLES = 6  # the blog's predictions figure


def write_report(metrics_path: Path, timing: Path, train_timing: Path, zeroshot_dir: Path, zeroshot_timing: Path,
                 curve_path: Path, labels: Path, predictions: Path, prepared: Path, out: Path, source: str,
                 thresholds: list) -> None:
    """The blog's part-2 table (zero-shot crop-protocol columns beside the head), convergence check, figures."""
    head = read_json(metrics_path)
    zeroshot, missing_note = zeroshot_columns(zeroshot_dir, zeroshot_timing)
    for path in (curve_path, labels, predictions):
        if not path.is_file():
            raise InputError(f"{path}: not found (run head_train / head_eval)")
    history, curve = pd.read_csv(curve_path), pd.read_csv(labels)
    table = pd.read_csv(predictions).head(N_EXAMPLES)
    crop_paths = load_samples(prepared).set_index("sample_id").loc[table["sample_id"], "crop_path"]
    crops = list(read_crops(prepared, crop_paths).numpy())

    backbone = head["backbone"]
    lines = [f"# TinyHead on a frozen {backbone['name']} backbone, ThermEval crop protocol ({data_label(source)})",
             ""]
    if "note" in backbone:
        lines += [backbone["note"] + ".", ""]
    lines += [backbone_text(backbone, head["trainable_params"]), ""]
    lines += [comparison_table(head, read_json(timing), read_json(train_timing), zeroshot, thresholds),
              *([missing_note, ""] if missing_note else []),
              "Frame px: crop errors scaled back per axis by the padded Person box (box_w, box_h) / crop size.", "",
              "## Training curve", "", convergence_text(history), "", "![training](training.png)", "",
              "## How little supervision do we need?", "", learning_curve_table(curve), "",
              "![labels](labels.png)", "", "## Predictions", "", "![predictions](predictions.png)", ""]
    with atomic_dir(out) as tmp:
        write_text(tmp / "report.md", "\n".join(lines))
        save_figure(training_figure(history, source), tmp / "training")
        save_figure(label_curve_figure(curve, source), tmp / "labels")
        save_figure(predictions_figure(crops, table, source), tmp / "predictions")
    print(f"report -> {out / 'report.md'}")
