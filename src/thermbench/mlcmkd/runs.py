"""Glue shared by the MLCM-KD stages: run names and paths, params -> FitConfig, T-FAKE loading, saving a run.

Run names: `teacher`, `supervised-<arch>`, `ktl-<variant>`, `mcl-<variant>`. Each trained run owns
`data/models/<name>/{model.safetensors, model.safetensors.json, config.json}` and `plots/curves/mlcmkd/<name>.csv`
(+ `<name>_gradnorm.csv`); evaluation writes `metrics/mlcmkd/<name>.json` and `data/predictions/mlcmkd/<name>.npy`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import torch
import torch.distributed as dist

from thermbench.core.io import InputError, atomic_dir, dumps_json, write_text
from thermbench.core.stage import section, seed_everything
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.stability import grad_norm_stats
from thermbench.mlcmkd.train import AugmentConfig, FitConfig, Split, fit_ktl, fit_supervised, load_split
from thermbench.models.rtmpose import RTMPose, build_rtmpose, load_model, save_model

MODELS = Path("data/models")
CURVES = Path("plots/curves/mlcmkd")
METRICS = Path("metrics/mlcmkd")
PREDICTIONS = Path("data/predictions/mlcmkd")


def setup(params: dict) -> torch.device:
    """Threads, seed and device for a stage. Under torchrun (WORLD_SIZE > 1) it joins the process group and takes the
    local GPU; the fit loops in `thermbench.mlcmkd.train` then average gradients across ranks."""
    t = section(params, "train")
    torch.set_num_threads(int(t["num_threads"]))
    device = str(t["device"])
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(device)
    seed_everything(int(section(params, "seed")))
    return torch.device(device)


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def input_size(params: dict) -> int:
    return int(section(params, "rtmpose.input_size"))


def fit_config(params: dict, epochs: int | None = None) -> FitConfig:
    """FitConfig from `train.fit` (seed: the top-level `seed`); `epochs` overrides train.fit.epochs (the teacher)."""
    t = section(params, "train.fit")
    return FitConfig(
        epochs=int(epochs if epochs is not None else t["epochs"]),
        batch_size=int(t["batch_size"]),
        lr=float(t["lr"]),
        weight_decay=float(t["weight_decay"]),
        seed=int(section(params, "seed")),
        warmup_steps=int(t["warmup_steps"]),
        min_lr_ratio=float(t["min_lr_ratio"]),
        patience=int(t["patience"]) if t["early_stopping"] else None,
        grad_norm_steps=int(t["grad_norm_steps"]),
        gamma_warmup=int(t["gamma_warmup"]),
        augment=AugmentConfig(**t["augment"]),
    )


def load_tfake(params: dict, prepared: Path, modality: str = "thermal", paired: bool = False) -> dict[str, Split]:
    """Train/val splits of prepared T-FAKE at the model input size (train capped by train.max_train_samples)."""
    size, cap = input_size(params), section(params, "train.fit.max_train_samples")
    return {
        "train": load_split(prepared, "train", size, modality=modality, paired=paired, all_labelled=True,
                            max_samples=cap),
        "val": load_split(prepared, "val", size, modality=modality, all_labelled=True),
    }


def train_supervised(params: dict, arch: str, prepared: Path,
                     device: torch.device) -> tuple[RTMPose, FitConfig, dict]:
    """Thermal-only RTMPose-`arch` on T-FAKE (stage supervised@<arch>, seed repeats). The caller has seeded torch."""
    size = input_size(params)
    model = build_rtmpose(arch, input_size=(size, size)).to(device)
    cfg = fit_config(params)
    return model, cfg, fit_supervised(model, load_tfake(params, prepared), cfg)


def train_ktl(params: dict, variant: str, prepared: Path,
              device: torch.device) -> tuple[RTMPose, RTMPose, DistillConfig, FitConfig, dict]:
    """KTL `variant` (flags in train.ktl.variants): frozen RGB teacher -> thermal student on paired T-FAKE
    (stage ktl@<variant>, seed repeats). The caller has seeded torch.

    Returns (student, teacher, distill config, fit config, history)."""
    ktl = section(params, "train.ktl")
    if variant not in ktl["variants"]:
        raise InputError(f"params.yaml: train.ktl.variants has no '{variant}' ({', '.join(ktl['variants'])})")
    size = input_size(params)
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student = build_rtmpose(section(params, "rtmpose.ktl_arch"), input_size=(size, size)).to(device)
    teacher = load_run("teacher").to(device)
    distill = DistillConfig(**ktl["variants"][variant], dikd_mode=ktl["dikd_mode"], **ktl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = fit_config(params)
    history = fit_ktl(student, teacher, task, load_tfake(params, prepared, paired=True), cfg)
    return student, teacher, distill, cfg, history


def load_run(name: str) -> RTMPose:
    path = MODELS / name / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: model not found (train '{name}' first)")
    return load_model(path)


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def save_run(name: str, model: RTMPose, config: dict, history: dict) -> None:
    """Write the model dir atomically, then the curve CSVs (per-epoch rows; per-step gradient norms if logged)."""
    with atomic_dir(MODELS / name) as tmp:
        save_model(model, tmp / "model.safetensors")
        summary = {"best_epoch": history["best_epoch"], "best_val_nme": history["best_val_nme"],
                   "epochs_run": len(history["epochs"])}
        if len(history["grad_norms"]) >= 2:
            summary["grad_norm"] = {"steps": len(history["grad_norms"]), **grad_norm_stats(history["grad_norms"])}
        write_text(tmp / "config.json", dumps_json({**config, "history": summary}))
    write_text(CURVES / f"{name}.csv", _csv(history["epochs"]))
    if history["grad_norms"]:
        rows = [{"step": i + 1, "grad_norm": g} for i, g in enumerate(history["grad_norms"])]
        write_text(CURVES / f"{name}_gradnorm.csv", _csv(rows))
