"""The zero-shot bake-off stages' calls: build one adapter, run the ThermEval nose protocols, write the results."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from thermbench.core.io import read_csv, read_json, write_json, write_text
from thermbench.core.plots import save_figure
from thermbench.datasets.common import read_image
from thermbench.zeroshot import evaluate as ev
from thermbench.zeroshot import report
from thermbench.zeroshot.common import WeightsUnavailable

MODELS = ("mediapipe", "dwpose", "sapiens2")
REPORT_ORDER = ("dwpose", "sapiens2", "mediapipe")  # the blog's part-1 order


@dataclass(frozen=True)
class ZeroshotConfig:
    match_cap_px: float          # greedy matching distance cap, frame px (blog)
    pck_thresholds_px: tuple
    eval_split: str              # frames/crops scored
    offset_fit_split: str        # split the convention offset is fitted on
    limit: int                   # frames/crops per split, 0 = all
    threads: int                 # CPU threads for every runtime (recorded with timings)
    qualitative_n: int
    qualitative_upscale: int
    mediapipe: dict              # each adapter's own settings (see its from_params)
    dwpose: dict
    sapiens2: dict


@dataclass(frozen=True)
class CropGeometry:
    box_scale: float             # prepare.thermeval: the Person box padding of the crop protocol
    crop_size: int


def build(model: str, cfg: ZeroshotConfig, allow_download: bool):
    if model == "mediapipe":
        from thermbench.zeroshot.mediapipe_facemesh import MediaPipeFaceMesh

        return MediaPipeFaceMesh.from_params(cfg.mediapipe)
    if model == "dwpose":
        from thermbench.zeroshot.dwpose import DWPose

        return DWPose.from_params(cfg.dwpose, allow_download, cfg.threads)
    from thermbench.zeroshot.sapiens2 import Sapiens2Pose

    return Sapiens2Pose.from_params(cfg.sapiens2, allow_download)


def predict(model: str, prepared: Path, raw: Path, predictions: Path, metrics: Path, timing: Path,
            cfg: ZeroshotConfig, geometry: CropGeometry, source: str) -> None:
    """Run `model` on the full-frame and crop protocols; where its weights are absent, write status lines only."""
    torch.set_num_threads(cfg.threads)
    frames_path, samples_path = prepared / "frames.csv", prepared / "samples.csv"
    frames = ev.select(read_csv(frames_path, ev.FRAME_COLUMNS), cfg.eval_split, cfg.limit, frames_path)
    samples = read_csv(samples_path, ev.SAMPLE_COLUMNS)
    fit = ev.select(samples, cfg.offset_fit_split, cfg.limit, samples_path)
    test = ev.select(samples, cfg.eval_split, cfg.limit, samples_path)
    head = {"model": model, "data": source}

    try:
        adapter = build(model, cfg, allow_download=source == "real")
    except WeightsUnavailable as err:
        status = str(err)
        print(f"zeroshot@{model}: {status}", file=sys.stderr)
        for path in (predictions, metrics, timing):
            write_json(path, {**head, "status": status})
        return

    full, seconds = ev.run_full_frame(adapter, frames, raw)
    fit_records = ev.run_crops(adapter, fit, raw, geometry.box_scale)
    test_records = ev.run_crops(adapter, test, raw, geometry.box_scale)
    offset = ev.fit_offset(fit_records)
    thresholds, cap, crop_size = list(cfg.pck_thresholds_px), cfg.match_cap_px, geometry.crop_size
    write_json(predictions, {**head, "status": "ok", "full_frame": full, "crop": fit_records + test_records})
    write_json(metrics, {
        **head, "status": "ok", "split": cfg.eval_split, "match_cap_px": cap,
        "full_frame": ev.full_frame_metrics(full, cap, thresholds),
        "crop": ev.crop_metrics(test_records, crop_size, thresholds),
        "crop_offset_corrected": ev.crop_metrics(ev.apply_offset(test_records, offset), crop_size, thresholds),
        "offset": {"fit_split": cfg.offset_fit_split, "n_fit": len(fit_records), "box_normalised_xy": offset,
                   "crop_px_xy": offset * crop_size},
    })
    # MediaPipe's solutions API has no thread setting; the others run with `threads`.
    used = "mediapipe default" if model == "mediapipe" else cfg.threads
    write_json(timing, {**head, "threads": used, "n_frames": len(seconds),
                        "median_ms_per_frame": 1000 * statistics.median(seconds)}, ndigits=2)


def write_report(metrics_dir: Path, predictions_dir: Path, raw: Path, out: Path, cfg: ZeroshotConfig) -> None:
    """Table (blog part-1 shape), PCK curves (CSV + figure), detection bars and a qualitative grid."""
    thresholds = list(cfg.pck_thresholds_px)
    results = {m: read_json(metrics_dir / f"{m}.json") for m in REPORT_ORDER}
    source = results[REPORT_ORDER[0]]["data"]
    write_text(out / "zeroshot_table.md", report.table(results, thresholds, cfg.match_cap_px))
    fig, rows = report.pck_curves(results, thresholds)
    save_figure(fig, out / "zeroshot_pck")
    write_text(out / "zeroshot_pck.csv", pd.DataFrame(rows, columns=["protocol", "model", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    save_figure(report.detection_bars(results), out / "zeroshot_detection")

    ok = [m for m in REPORT_ORDER if results[m]["status"] == "ok"]
    records = {m: read_json(predictions_dir / f"{m}.json")["full_frame"][: cfg.qualitative_n] for m in ok}
    # every model saw the same test frames in frames.csv order
    frames = [read_image(raw / r["image_file"]) for r in records[ok[0]]] if ok else []
    save_figure(report.qualitative_grid(frames, records, cfg.qualitative_upscale, source),
                out / "zeroshot_qualitative")
