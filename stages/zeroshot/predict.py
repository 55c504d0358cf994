"""Stage zeroshot@<model>: a zero-shot model on the ThermEval nose protocol (full frame + crop + convention offset).

Writes predictions (JSON), metrics (JSON) and wall-clock timing (JSON). When the model's weights are not on this
machine, all three hold only a status line and the stage still succeeds, so `dvc repro` completes.
"""

import argparse
import statistics
import sys
from pathlib import Path

import torch

from thermbench.core.io import read_csv, write_json
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.zeroshot import evaluate as ev
from thermbench.zeroshot.common import WeightsUnavailable

MODELS = ("mediapipe", "dwpose", "sapiens2")


def build(model: str, cfg: dict, allow_download: bool, threads: int):
    if model == "mediapipe":
        from thermbench.zeroshot.mediapipe_facemesh import MediaPipeFaceMesh

        return MediaPipeFaceMesh.from_params(cfg["mediapipe"])
    if model == "dwpose":
        from thermbench.zeroshot.dwpose import DWPose

        return DWPose.from_params(cfg["dwpose"], allow_download, threads)
    from thermbench.zeroshot.sapiens2 import Sapiens2Pose

    return Sapiens2Pose.from_params(cfg["sapiens2"], allow_download)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, choices=MODELS)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/thermeval"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw/thermeval"))
    parser.add_argument("--predictions", type=Path, required=True, help="e.g. data/predictions/zeroshot/<model>.json")
    parser.add_argument("--metrics", type=Path, required=True, help="e.g. metrics/zeroshot/<model>.json")
    parser.add_argument("--timing", type=Path, required=True, help="e.g. metrics/timing/zeroshot/<model>.json")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()

    params = load_params(args.params)
    cfg = section(params, "zeroshot")
    source = section(params, "data.source")
    box_scale = section(params, "prepare.thermeval.box_scale")
    crop_size = section(params, "prepare.thermeval.crop_size")
    threads = cfg["threads"]
    torch.set_num_threads(threads)

    frames_path, samples_path = args.prepared / "frames.csv", args.prepared / "samples.csv"
    frames = ev.select(read_csv(frames_path, ev.FRAME_COLUMNS), cfg["eval_split"], cfg["limit"], frames_path)
    samples = read_csv(samples_path, ev.SAMPLE_COLUMNS)
    fit = ev.select(samples, cfg["offset_fit_split"], cfg["limit"], samples_path)
    test = ev.select(samples, cfg["eval_split"], cfg["limit"], samples_path)
    head = {"model": args.model, "data": source}

    try:
        adapter = build(args.model, cfg, allow_download=source == "real", threads=threads)
    except WeightsUnavailable as err:
        status = str(err)
        print(f"zeroshot@{args.model}: {status}", file=sys.stderr)
        for path in (args.predictions, args.metrics, args.timing):
            write_json(path, {**head, "status": status})
        return

    full, seconds = ev.run_full_frame(adapter, frames, args.raw)
    fit_records = ev.run_crops(adapter, fit, args.raw, box_scale)
    test_records = ev.run_crops(adapter, test, args.raw, box_scale)
    offset = ev.fit_offset(fit_records)
    thresholds, cap = cfg["pck_thresholds_px"], cfg["match_cap_px"]
    write_json(args.predictions, {**head, "status": "ok", "full_frame": full, "crop": fit_records + test_records})
    write_json(args.metrics, {
        **head, "status": "ok", "split": cfg["eval_split"], "match_cap_px": cap,
        "full_frame": ev.full_frame_metrics(full, cap, thresholds),
        "crop": ev.crop_metrics(test_records, crop_size, thresholds),
        "crop_offset_corrected": ev.crop_metrics(ev.apply_offset(test_records, offset), crop_size, thresholds),
        "offset": {"fit_split": cfg["offset_fit_split"], "n_fit": len(fit_records), "box_normalised_xy": offset,
                   "crop_px_xy": offset * crop_size},
    })
    # MediaPipe's solutions API has no thread setting; the others run with `threads`.
    used = "mediapipe default" if args.model == "mediapipe" else threads
    write_json(args.timing, {**head, "threads": used, "n_frames": len(seconds),
                             "median_ms_per_frame": 1000 * statistics.median(seconds)}, ndigits=2)


if __name__ == "__main__":
    run_stage(main)
