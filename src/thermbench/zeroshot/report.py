"""Zero-shot report: markdown tables, PCK-vs-threshold curves, detection-rate bars, a qualitative grid, the models'
provenance and licences (registry.py), and its statements for the conclusions system (blog_statements.py).

Everything is built from the metrics JSON of each model; only the qualitative grid also reads predictions and frames,
and the statements the blog part-3 stage's per-nose table. Each model's per-nose errors go to
plots/curves/zeroshot/<model>_items.csv (`core.items`), the items its pairs on the leaderboard are tested on.
A model whose stage reported a status other than "ok" gets a status row and no numbers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core import metrics, submissions
from thermbench.core.conclusions import as_records
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.items import items_path, write_items
from thermbench.core.plots import data_label, plt, save_figure
from thermbench.datasets.common import read_image
from thermbench.models.landmarker import TFAN_SCHEMAS, nose_note
from thermbench.zeroshot import blog_report, registry
from thermbench.zeroshot.bakeoff import ZeroshotConfig
from thermbench.zeroshot.blog_statements import part3_statements


def name(model: str) -> str:
    """A built-in model's name; any other row is a user's submission (core/submissions.py), marked as one."""
    return registry.MODELS[model].display if model in registry.MODELS else submissions.label(model)


PROTOCOLS = (  # (metrics key, unit key, label)
    ("full_frame", None, "Full frame, multi-person (frame px)"),
    ("crop", "frame_px", "GT Person box given (frame px)"),
    ("crop", "crop_px", "GT Person box given (256x256 crop px)"),
    ("crop_offset_corrected", "crop_px", "GT Person box, convention offset removed (crop px)"),
)


def _block(m: dict, key: str, unit: str | None) -> dict:
    return m[key] if unit is None else m[key][unit]


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def _px(v) -> str:
    return "–" if v is None else f"{v:.1f} px"


def _short(status: str) -> str:
    """The table cell of a model without numbers: its status up to the first colon (the full line goes in a note)."""
    return status.split(":")[0]


def table(results: dict[str, dict], thresholds: list, cap: float, noses: dict[str, str] | None = None) -> str:
    """One markdown table per protocol, one row per model (the blog's part-1 metrics as columns). `noses`: model ->
    schema, for the models whose nose centre the notes state (with or without weights: it is a definition)."""
    source = next(iter(results.values()))["data"]
    head = ["Model", "Detection rate over GT", "Mean nostril error", "Median error"]
    head += [f"PCK@{t}px" for t in thresholds]
    lines = [f"# Zero-shot nose localisation on ThermEval ({data_label(source)})", ""]
    for key, unit, label in PROTOCOLS:
        lines += [f"## {label}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for model, m in results.items():
            if m["status"] != "ok":
                lines.append(f"| {name(model)} | {_short(m['status'])} |" + " |" * (len(head) - 2))
                continue
            b = _block(m, key, unit)
            cells = [_pct(b["detection_rate"]), _px(b["mean_px"]), _px(b["median_px"])]
            cells += [_pct(b["pck"].get(f"{t}px")) for t in thresholds]
            lines.append(f"| {name(model)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Convention offset (fitted on the train crops, applied to the test crops)", "",
              "| Model | offset x (crop px) | offset y (crop px) | n fit |", "|---|---|---|---|"]
    for model, m in results.items():
        if m["status"] == "ok":
            ox, oy = (_px(v) for v in m["offset"]["crop_px_xy"])
            lines.append(f"| {name(model)} | {ox} | {oy} | {m['offset']['n_fit']} |")
        else:
            lines.append(f"| {name(model)} | {_short(m['status'])} | | |")
    n = next((m["full_frame"]["n_gt"] for m in results.values() if m["status"] == "ok"), None)
    lines += ["", f"Match cap {cap} px; PCK counts unmatched GT as misses; mean/median over matched pairs only. "
              f"GT noses in the full-frame test split: {n if n else '–'}. "
              "Inference time per frame: metrics/timing/zeroshot/ (not part of this table).", ""]
    lines += [f"- {name(model)}: {m['status']}" for model, m in results.items() if m["status"] != "ok"]
    lines += [f"- {name(model)} nose centre: {nose_note(schema)}" for model, schema in (noses or {}).items()]
    lines += [f"- {name(model)}: {m['notes']}" for model, m in results.items() if m.get("notes")]
    return "\n".join(lines) + "\n"


def pck_curves(results: dict[str, dict], thresholds: list) -> tuple[plt.Figure, list[dict]]:
    """PCK vs threshold, one panel per protocol; also returns the plotted points as CSV rows."""
    source = next(iter(results.values()))["data"]
    fig, axes = plt.subplots(1, len(PROTOCOLS), figsize=(4 * len(PROTOCOLS), 3.4), sharey=True)
    rows = []
    for ax, (key, unit, label) in zip(axes, PROTOCOLS):
        for model, m in results.items():
            if m["status"] != "ok":
                continue
            y = [_block(m, key, unit)["pck"][f"{t}px"] for t in thresholds]
            ax.plot(thresholds, np.array(y) * 100, marker="o", label=name(model))
            rows += [{"protocol": f"{key}/{unit or 'frame_px'}", "model": model, "threshold_px": t, "pck": v}
                     for t, v in zip(thresholds, y)]
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("threshold (px)")
        ax.set_ylim(0, 102)
    axes[0].set_ylabel("PCK (% of all GT noses)")
    if rows:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"Zero-shot PCK vs threshold, ThermEval test [{data_label(source)}]")
    return fig, rows


def detection_bars(results: dict[str, dict]) -> plt.Figure:
    source = next(iter(results.values()))["data"]
    models = list(results)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    x = np.arange(len(models))
    for i, (key, unit, label) in enumerate(PROTOCOLS[:2]):
        vals = [100 * _block(results[m], key, unit)["detection_rate"] if results[m]["status"] == "ok" else 0.0
                for m in models]
        ax.bar(x + (i - 0.5) * 0.38, vals, width=0.38, label=label.split(" (")[0])
    for j, m in enumerate(models):
        if results[m]["status"] != "ok":
            ax.text(x[j], 2, "weights not\navailable", ha="center", va="bottom", fontsize=7)
    # wrapped at word breaks: five names side by side at 8 pt overlap on one line each
    ax.set_xticks(x, [textwrap.fill(name(m), 11, break_long_words=False) for m in models], fontsize=8)
    ax.set_ylabel("detection rate over GT (%)")
    ax.set_xlabel("model")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    ax.set_title(f"Zero-shot detection rate, ThermEval test [{data_label(source)}]")
    return fig


def qualitative_grid(frames: list[np.ndarray], records: dict[str, list[dict]], upscale: int, source: str) -> plt.Figure:
    """Rows = models, columns = frames; GT red cross, prediction green dot; frames upscaled nearest-neighbour."""
    models = list(records)
    n = len(frames)
    title = f"Zero-shot full-frame predictions (GT red x, prediction green dot) [{data_label(source)}]"
    if not models or not n:
        fig = plt.figure(figsize=(6, 1.2))
        fig.text(0.5, 0.4, "no zero-shot model had weights available (or no test frames)", ha="center")
        fig.suptitle(title, fontsize=9)
        return fig
    fig, axes = plt.subplots(len(models), n, figsize=(2.2 * n, 3.0 * len(models)), squeeze=False)
    for r, model in enumerate(models):
        for c, frame in enumerate(frames):
            ax = axes[r, c]
            big = np.kron(frame, np.ones((upscale, upscale), dtype=frame.dtype))  # nearest-neighbour
            ax.imshow(big, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            rec = records[model][c]
            # continuous frame px -> upscaled image coordinates (pixel centres at integers for imshow)
            marks = ((rec["pred"], dict(c="lime", marker="o", s=14)), (rec["gt"], dict(c="red", marker="x", s=30)))
            for pts, style in marks:
                p = np.asarray(pts, dtype=float).reshape(-1, 2) * upscale - 0.5
                ax.scatter(p[:, 0], p[:, 1], linewidths=1.2, **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name(model), fontsize=8)
            if r == len(models) - 1:
                ax.set_xlabel(rec["image_file"].split("/")[-1], fontsize=6)
    fig.suptitle(title, fontsize=9)
    return fig


def nose_items(records: list[dict], cap: float) -> dict:
    """Every GT nose of the full-frame protocol (`<image file>#<nose index>`) with its matched error in frame px (NaN:
    no prediction matched it), as `core.items` writes them: the per-item outcomes behind PCK over all GT noses."""
    ids, errors = [], []
    for r in records:
        ids += [f"{r['image_file']}#{i}" for i in range(len(r["gt"]))]
        errors.append(metrics.matched_errors(r["gt"], r["pred"], cap))
    return {"thermeval": (ids, np.concatenate(errors) if errors else np.zeros(0))}


def write_report(models: list[str], metrics_dir: Path, predictions_dir: Path, submitted: tuple[Path, Path], raw: Path,
                 out: Path, cfg: ZeroshotConfig, blog_metrics: tuple[Path, Path], blog_timing: tuple[Path, Path],
                 blog_noses: Path, calibration: Path, check: dict[str, dict[str, str]], conclusions_path: Path
                 ) -> None:
    """Table (blog part-1 shape) followed by the blog's protocols (parts 1 and 3, `blog_metrics` / `blog_timing`)
    with the blog's reference rows, what the scenes were calibrated to (`calibration`) apart from the findings,
    PCK curves (CSV + figure), detection bars and a qualitative grid. The built-in `models`' rows come first, in the
    registry's order, then the submissions' (`submitted`: their metrics and predictions files); the models'
    provenance and licences go to zeroshot_models.md. The statements, from part 3's per-nose table (`blog_noses`),
    go to `conclusions_path` as well (`check`: the kernel check's verdicts on this report)."""
    models = registry.in_order(models)
    thresholds = list(cfg.pck_thresholds_px)
    results = {m: read_json(metrics_dir / f"{m}.json") for m in models}
    results.update(read_json(submitted[0])["submissions"])
    source = results[models[0]]["data"]
    (part1, part3), (time1, time3) = ([read_json(p) for p in paths] for paths in (blog_metrics, blog_timing))
    for path, hint in ((blog_noses, "dvc repro zeroshot_blog_part3"), (calibration, "make calibrate")):
        if not path.is_file():
            raise InputError(f"{path}: not found (run {hint})")
    statements, skipped = part3_statements(pd.read_csv(blog_noses), blog_noses)
    # a point set no other row uses: say which points
    noses = {"tfan": TFAN_SCHEMAS[int(registry.settings("tfan", cfg.models)["n_landmarks"])]}
    write_text(out / "zeroshot_models.md", registry.licence_table())
    write_text(out / "zeroshot_table.md", table(results, thresholds, cfg.match_cap_px, noses) + "\n"
               + blog_report.blog_sections(part1, time1, part3, time3, thresholds, read_json(calibration),
                                           statements, skipped, check))
    write_json(conclusions_path, {"data": source, "statements": as_records(statements, check)})
    fig, rows = pck_curves(results, thresholds)
    save_figure(fig, out / "zeroshot_pck")
    write_text(out / "zeroshot_pck.csv", pd.DataFrame(rows, columns=["protocol", "model", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    save_figure(detection_bars(results), out / "zeroshot_detection")

    runs = {m: read_json(predictions_dir / f"{m}.json") for m in models if results[m]["status"] == "ok"}
    runs.update(read_json(submitted[1])["submissions"])
    for m, run in runs.items():
        write_items(items_path(out / "curves" / "zeroshot", results[m].get("label", m)),
                    nose_items(run["full_frame"], cfg.match_cap_px))
    records = {m: run["full_frame"][: cfg.qualitative_n] for m, run in runs.items()}
    # every model saw the same test frames in frames.csv order
    frames = [read_image(raw / r["image_file"]) for r in next(iter(records.values()), [])]
    save_figure(qualitative_grid(frames, records, cfg.qualitative_upscale, source),
                out / "zeroshot_qualitative")
