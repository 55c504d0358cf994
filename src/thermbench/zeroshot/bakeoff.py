"""The zero-shot bake-off stages' calls: build one adapter, run the ThermEval nose protocols, write the results."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.plots import save_figure
from thermbench.core.submissions import Submission
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import COLUMNS, FRAMES, SAMPLES, read_frames, read_samples
from thermbench.models.dlib68 import Dlib68
from thermbench.models.dwpose import DWPose
from thermbench.models.landmarker import TFAN_SCHEMAS
from thermbench.models.mediapipe_facemesh import MediaPipeFaceMesh
from thermbench.models.onnx_model import OnnxFaceModel, onnx_fields, read_card
from thermbench.models.sapiens2_pose import Sapiens2Pose
from thermbench.models.tfan_landmarker import TFANLandmarker
from thermbench.models.weights import WeightsUnavailable, file_sha256
from thermbench.zeroshot import blog_report, report, submission
from thermbench.zeroshot import evaluate as ev

PREDICTION_DIGITS = 12  # decimals of the stored predictions (frame px)


@dataclass(frozen=True)
class ZeroshotConfig:
    match_cap_px: float          # greedy matching distance cap, frame px (blog)
    pck_thresholds_px: tuple
    eval_split: str              # frames/crops scored
    offset_fit_split: str        # split the convention offset is fitted on
    limit: int                   # frames/crops per split, 0 = all
    threads: int                 # CPU threads for every runtime (recorded with timings)
    device: str                  # torch device of Sapiens2 (cpu | cuda | cuda:N)
    qualitative_n: int
    qualitative_upscale: int
    mediapipe: dict              # each adapter's own settings (see its from_params)
    dwpose: dict
    sapiens2: dict
    dlib: dict
    tfan: dict


def _torch(cfg: ZeroshotConfig) -> ZeroshotConfig:
    torch.set_num_threads(cfg.threads)
    return cfg


# The built-in models' adapters (submissions.yaml lists which run: builtin.zeroshot): name -> (config, whether it may
# download its weights) -> the model.
ADAPTERS = {
    "mediapipe": lambda cfg, download: MediaPipeFaceMesh.from_params(cfg.mediapipe),
    "dwpose": lambda cfg, download: DWPose.from_params(cfg.dwpose, download, cfg.threads),
    "dlib68": lambda cfg, download: Dlib68(cfg.dlib["detector"], int(cfg.dlib["upsample"])),
    # TFAN never downloads: its files are on Google Drive
    "tfan": lambda cfg, download: TFANLandmarker.from_params(_torch(cfg).tfan, device=cfg.device),
    "sapiens2": lambda cfg, download: Sapiens2Pose.from_params(_torch(cfg).sapiens2, download, cfg.device),
}


def build(model: str, cfg: ZeroshotConfig, allow_download: bool):
    if model not in ADAPTERS:
        raise InputError(f"zeroshot: no adapter for model '{model}' (adapters: {', '.join(ADAPTERS)})")
    return ADAPTERS[model](cfg, allow_download)


def protocol_rows(prepared: Path, cfg: ZeroshotConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The frames the full-frame protocol scores, and the crops the offset is fitted on and scored on."""
    frames = ev.select(read_frames(prepared), cfg.eval_split, cfg.limit, prepared / FRAMES)
    samples = read_samples(prepared, COLUMNS["thermeval"])
    return (frames, ev.select(samples, cfg.offset_fit_split, cfg.limit, prepared / SAMPLES),
            ev.select(samples, cfg.eval_split, cfg.limit, prepared / SAMPLES))


def predict(model: str, prepared: Path, raw: Path, predictions: Path, metrics: Path, timing: Path,
            cfg: ZeroshotConfig, crop_size: int, source: str) -> None:
    """Run `model` on the full-frame and crop protocols; where its weights are absent, write status lines only."""
    frames, fit, test = protocol_rows(prepared, cfg)
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
    fit_records = ev.run_crops(adapter, fit, raw)
    test_records = ev.run_crops(adapter, test, raw)
    # all but float noise: a model's own predictions entered as a submission (tools/submission.py) score as its row
    write_json(predictions, {**head, "status": "ok", "full_frame": full, "crop": fit_records + test_records},
               PREDICTION_DIGITS)
    write_json(metrics, {**head, "status": "ok", **scores(full, fit_records, test_records, cfg, crop_size)})
    # MediaPipe's solutions API has no thread setting; the others run with `threads`.
    used = "mediapipe default" if model == "mediapipe" else cfg.threads
    write_json(timing, {**head, "threads": used, "n_frames": len(seconds),
                        "median_ms_per_frame": 1000 * statistics.median(seconds)}, ndigits=2)


def scores(full: list[dict], fit_records: list[dict], test_records: list[dict], cfg: ZeroshotConfig,
           crop_size: int) -> dict:
    """The metrics of one model's records: full frame, GT Person box (as is and with the convention offset fitted on
    `fit_records`)."""
    offset = ev.fit_offset(fit_records)
    thresholds, cap = list(cfg.pck_thresholds_px), cfg.match_cap_px
    return {"split": cfg.eval_split, "match_cap_px": cap,
            "full_frame": ev.full_frame_metrics(full, cap, thresholds),
            "crop": ev.crop_metrics(test_records, crop_size, thresholds),
            "crop_offset_corrected": ev.crop_metrics(ev.apply_offset(test_records, offset), crop_size, thresholds),
            "offset": {"fit_split": cfg.offset_fit_split, "n_fit": len(fit_records), "box_normalised_xy": offset,
                       "crop_px_xy": offset * crop_size}}


def score_submissions(entries: list[Submission], prepared: Path, raw: Path, predictions: Path, metrics: Path,
                      cfg: ZeroshotConfig, crop_size: int, source: str) -> None:
    """Stage zeroshot_submissions: each predictions file (zeroshot/submission.py) scored as `predict` scores a
    model, on the same frames and crops; each ONNX model (models/onnx_model.py) run on them first, as `predict` runs
    a built-in one. Every file and card is read and checked before anything is run or written."""
    frames, fit, test = protocol_rows(prepared, cfg)
    cards = {e.name: read_card(e.path) for e in entries if e.onnx}
    scored = {}
    for entry in entries:
        if entry.onnx:
            adapter = OnnxFaceModel(cards[entry.name], cfg.threads)
            records = (ev.run_full_frame(adapter, frames, raw)[0], ev.run_crops(adapter, fit, raw),
                       ev.run_crops(adapter, test, raw))
        else:
            records = submission.records(entry.path, frames, fit, test, raw)
        scored[entry.name] = (entry, records)
    out, records = {}, {}
    for name, (entry, (full, fit_records, test_records)) in scored.items():
        head = {"model": name, "label": entry.label, "submission": True, "file": str(entry.path),
                "sha256": file_sha256(entry.path), **onnx_fields(cards.get(name)), "notes": entry.notes,
                "data": source, "status": "ok"}
        out[name] = {**head, **scores(full, fit_records, test_records, cfg, crop_size)}
        records[name] = {**head, "full_frame": full, "crop": fit_records + test_records}
    write_json(predictions, {"data": source, "submissions": records}, PREDICTION_DIGITS)
    write_json(metrics, {"data": source, "submissions": out})


def write_report(models: list[str], metrics_dir: Path, predictions_dir: Path, submitted: tuple[Path, Path], raw: Path,
                 out: Path, cfg: ZeroshotConfig, blog_metrics: tuple[Path, Path], blog_timing: tuple[Path, Path]
                 ) -> None:
    """Table (blog part-1 shape) followed by the blog's protocols (parts 1 and 3, `blog_metrics` / `blog_timing`)
    with the blog's reference rows, PCK curves (CSV + figure), detection bars and a qualitative grid. The built-in
    `models`' rows come first, in that order, then the submissions' (`submitted`: their metrics and predictions
    files)."""
    thresholds = list(cfg.pck_thresholds_px)
    results = {m: read_json(metrics_dir / f"{m}.json") for m in models}
    results.update(read_json(submitted[0])["submissions"])
    source = results[models[0]]["data"]
    (part1, part3), (time1, time3) = ([read_json(p) for p in paths] for paths in (blog_metrics, blog_timing))
    noses = {"tfan": TFAN_SCHEMAS[int(cfg.tfan["n_landmarks"])]}  # a point set no other row uses: say which points
    write_text(out / "zeroshot_table.md", report.table(results, thresholds, cfg.match_cap_px, noses) + "\n"
               + blog_report.blog_sections(part1, time1, part3, time3, thresholds))
    fig, rows = report.pck_curves(results, thresholds)
    save_figure(fig, out / "zeroshot_pck")
    write_text(out / "zeroshot_pck.csv", pd.DataFrame(rows, columns=["protocol", "model", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    save_figure(report.detection_bars(results), out / "zeroshot_detection")

    runs = {m: read_json(predictions_dir / f"{m}.json") for m in models if results[m]["status"] == "ok"}
    runs.update(read_json(submitted[1])["submissions"])
    records = {m: run["full_frame"][: cfg.qualitative_n] for m, run in runs.items()}
    # every model saw the same test frames in frames.csv order
    frames = [read_image(raw / r["image_file"]) for r in next(iter(records.values()), [])]
    save_figure(report.qualitative_grid(frames, records, cfg.qualitative_upscale, source),
                out / "zeroshot_qualitative")
