"""What a trained MLCM-KD run writes: its model folder `<out>/{model.safetensors, model.safetensors.json,
config.json}`, its curves `<curves>/<name>.csv` (per epoch), `<name>_gradnorm.csv` (per step) and `<name>_ced.csv`,
its scalar metrics JSON and its T-FAKE test predictions, after scoring it on the cached test crops."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import atomic_dir, atomic_write_bytes, dumps_json, write_json, write_text
from thermbench.core.items import write_items
from thermbench.mlcmkd.distributed import is_main_process
from thermbench.mlcmkd.evaluate import score_run
from thermbench.mlcmkd.stability import grad_norm_stats
from thermbench.models.rtmpose import RTMPose, save_model


@dataclass(frozen=True)
class RunPaths:
    """Where a run's outputs go (each a stage argument) and the cached crops it is scored on."""
    out: Path
    curves: Path
    metrics: Path
    predictions: Path
    tfake: Path
    charlotte: Path


@dataclass(frozen=True)
class GroupPaths:
    """The output folders of a multi-run stage (run `<name>` writes `<models>/<name>/`, `<metrics>/<name>.json`,
    `<predictions>/<name>.npy`, `<curves>/<name>*.csv`) and the cached crops every run is scored on."""
    models: Path
    curves: Path
    metrics: Path
    predictions: Path
    tfake: Path
    charlotte: Path

    def of(self, name: str) -> RunPaths:
        return RunPaths(self.models / name, self.curves, self.metrics / f"{name}.json",
                        self.predictions / f"{name}.npy", self.tfake, self.charlotte)


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))  # rows without validation lack val_nme
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def training_summary(history: dict) -> dict:
    """A fit's history as its metrics' `training` record begins (`finish_run` adds the gradient-norm statistics);
    `graph` (captured | refused (why) | failed (why)) only for a fit that asked for a CUDA graph."""
    summary = {"best_epoch": history["best_epoch"], "best_val_nme": history["best_val_nme"],
               "epochs_run": len(history["epochs"]), "convergence": history["convergence"],
               "gradient_shares": history["gradient_shares"]}
    if "graph" in history:
        summary["graph"] = history["graph"]
    return summary


def finish_run(paths: RunPaths, model: RTMPose, config: dict, history: dict, data: dict[str, str]) -> dict:
    """Rank 0: save the model, score it on the cached test crops, write metrics, curves and predictions. Returns the
    training summary (every rank)."""
    summary = training_summary(history)
    if not is_main_process():
        return summary
    model = model.cpu()
    norms, warmup = history["grad_norms"], config["fit"]["grad_norm_warmup"]
    if len(norms) >= 2:
        summary["grad_norm"] = {"steps": len(norms), **grad_norm_stats(norms)}
    if len(norms) - warmup >= 2 and warmup > 0:
        summary["grad_norm_after_warmup"] = {"steps": f"{warmup + 1}-{len(norms)}",
                                             **grad_norm_stats(norms[warmup:])}
    config = {**config, "threads": torch.get_num_threads(), "history": summary}  # results depend on it (per CPU)
    with atomic_dir(paths.out) as tmp:
        save_model(model, tmp / "model.safetensors")
        write_text(tmp / "config.json", dumps_json(config))
    name = paths.out.name
    result, ced, pred, items = score_run(model, config, paths.tfake, paths.charlotte, name)
    write_json(paths.metrics, {"data": data, **result})
    write_text(paths.curves / f"{name}_ced.csv", _csv(ced))
    write_items(paths.curves / f"{name}_items.csv", items)
    write_text(paths.curves / f"{name}.csv", _csv(history["epochs"]))
    if history["grad_norms"]:
        rows = [{"step": i + 1, "grad_norm": g} for i, g in enumerate(history["grad_norms"])]
        write_text(paths.curves / f"{name}_gradnorm.csv", _csv(rows))
    buf = io.BytesIO()
    np.save(buf, pred.astype(np.float32))
    atomic_write_bytes(paths.predictions, buf.getvalue())
    return summary
