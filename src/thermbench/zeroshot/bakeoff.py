"""The zero-shot bake-off: build one built-in model (registry.py), run the ThermEval nose protocols, write the
results; `scores` also scores the submissions (submission.py)."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from thermbench.core.io import InputError, write_json
from thermbench.core.numerics import check_device
from thermbench.core.stage import build
from thermbench.datasets import thermeval
from thermbench.datasets.prepared import FRAMES, SAMPLES, read_frames, read_samples
from thermbench.models.weights import WeightsUnavailable
from thermbench.zeroshot import evaluate as ev
from thermbench.zeroshot import registry

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
    models: dict                 # the built-in models' settings sections as given (registry.settings reads them)

    def __post_init__(self):
        check_device(self.device, "zeroshot.device")
        for key, least, meaning in (("limit", 0, " (0: all)"), ("threads", 1, ""), ("qualitative_n", 0, ""),
                                    ("qualitative_upscale", 1, "")):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"params.yaml: 'zeroshot.{key}' must be a whole number of at least {least}{meaning}, "
                                 f"not {value!r}")
        if not self.match_cap_px > 0:
            raise InputError(f"params.yaml: 'zeroshot.match_cap_px' must be a number above 0 (px), "
                             f"not {self.match_cap_px!r}")


def config(section: dict) -> ZeroshotConfig:
    """params `zeroshot`: the protocols' settings, beside each built-in model's own (zeroshot.<section>)."""
    keys = {registry.section(name) for name in registry.MODELS}
    protocol = {k: v for k, v in section.items() if k not in keys}
    models = {k: v for k, v in section.items() if k in keys}
    return build(ZeroshotConfig, {**protocol, "models": models}, "zeroshot")


def protocol_rows(prepared: Path, cfg: ZeroshotConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The frames the full-frame protocol scores, and the crops the offset is fitted on and scored on."""
    frames = ev.select(read_frames(prepared), cfg.eval_split, cfg.limit, prepared / FRAMES)
    samples = read_samples(prepared, thermeval.COLUMNS)
    return (frames, ev.select(samples, cfg.offset_fit_split, cfg.limit, prepared / SAMPLES),
            ev.select(samples, cfg.eval_split, cfg.limit, prepared / SAMPLES))


def predict(model: str, prepared: Path, raw: Path, predictions: Path, metrics: Path, timing: Path,
            cfg: ZeroshotConfig, crop_size: int, source: str) -> None:
    """Run `model` on the full-frame and crop protocols; where its weights are absent, write status lines only."""
    frames, fit, test = protocol_rows(prepared, cfg)
    head = {"model": model, "data": source}

    try:
        adapter = registry.adapter(model, cfg.models, registry.Runtime(source == "real", cfg.threads, cfg.device))
    except WeightsUnavailable as err:
        status = str(err)
        print(f"zeroshot@{model}: {status}", file=sys.stderr)
        for path in (predictions, metrics, timing):
            write_json(path, {**head, "status": status})
        return

    full, seconds = ev.run_full_frame(adapter, frames, raw)
    fit_records = ev.run_crops(adapter, fit, raw)
    test_records = ev.run_crops(adapter, test, raw)
    # all but float noise: a model's own predictions entered as a submission (tools/submissions/submission.py) score as
    # its row
    write_json(predictions, {**head, "status": "ok", "full_frame": full, "crop": fit_records + test_records},
               PREDICTION_DIGITS)
    write_json(metrics, {**head, "status": "ok", **scores(full, fit_records, test_records, cfg, crop_size)})
    used = cfg.threads if registry.entry(model).threads else f"{model} default"
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
