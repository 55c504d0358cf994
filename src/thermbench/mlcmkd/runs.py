"""The MLCM-KD stages' calls: typed settings, device set-up, and training/saving one run of each kind.

Run names: `teacher`, `supervised-<arch>`, `ktl-<variant>`, `mcl-<variant>`. A trained run owns a model folder
`<models>/<name>/{model.safetensors, model.safetensors.json, config.json}` and its curves
`<curves>/<name>.csv` (+ `<name>_gradnorm.csv`); every folder is a command-line argument of its stage.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist

from thermbench.core.io import InputError, atomic_dir, dumps_json, write_text
from thermbench.core.stage import seed_everything
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.stability import grad_norm_stats
from thermbench.mlcmkd.train import AugmentConfig, FitConfig, Split, fit_ktl, fit_mcl, fit_supervised, load_split
from thermbench.models.rtmpose import RTMPose, build_rtmpose, load_mmpose_checkpoint, load_model, save_model


@dataclass(frozen=True)
class RTMPoseParams:
    input_size: int             # square model input, px (paper: 256); multiple of 32
    teacher_arch: str
    teacher_init: str | None    # optional official mmpose checkpoint
    ktl_arch: str
    mcl_arch: str
    supervised_archs: tuple


@dataclass(frozen=True)
class TrainParams:
    device: str                 # cpu | cuda (multi-GPU: torchrun sets WORLD_SIZE)
    num_threads: int
    teacher_epochs: int
    fit: dict                   # every run's schedule (FitConfig fields + early_stopping, max_train_samples)
    ktl: dict                   # dikd_mode, weights, variants
    mcl: dict                   # variants, weights
    repeats: dict               # seeds, variants, supervised


@dataclass(frozen=True)
class Settings:
    """What an MLCM-KD stage reads from params: `seed`, `rtmpose` and `train`."""
    seed: int
    rtmpose: RTMPoseParams
    train: TrainParams

    def with_seed(self, seed: int) -> "Settings":
        return replace(self, seed=seed)


def setup(settings: Settings) -> torch.device:
    """Threads, seed and device for a stage. Under torchrun (WORLD_SIZE > 1) it joins the process group and takes the
    local GPU; the fit loops in `thermbench.mlcmkd.train` then average gradients across ranks."""
    torch.set_num_threads(settings.train.num_threads)
    device = settings.train.device
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(device)
    seed_everything(settings.seed)
    return torch.device(device)


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def fit_config(settings: Settings, epochs: int | None = None) -> FitConfig:
    """FitConfig from `train.fit` (seed: the top-level `seed`); `epochs` overrides train.fit.epochs (the teacher)."""
    t = settings.train.fit
    return FitConfig(
        epochs=int(epochs if epochs is not None else t["epochs"]),
        batch_size=int(t["batch_size"]),
        lr=float(t["lr"]),
        weight_decay=float(t["weight_decay"]),
        seed=settings.seed,
        warmup_steps=int(t["warmup_steps"]),
        min_lr_ratio=float(t["min_lr_ratio"]),
        patience=int(t["patience"]) if t["early_stopping"] else None,
        grad_norm_steps=int(t["grad_norm_steps"]),
        gamma_warmup=int(t["gamma_warmup"]),
        augment=AugmentConfig(**t["augment"]),
    )


def load_tfake(settings: Settings, prepared: Path, modality: str = "thermal", paired: bool = False
               ) -> dict[str, Split]:
    """Train/val splits of prepared T-FAKE at the model input size (train capped by train.fit.max_train_samples)."""
    size, cap = settings.rtmpose.input_size, settings.train.fit["max_train_samples"]
    return {
        "train": load_split(prepared, "train", size, modality=modality, paired=paired, all_labelled=True,
                            max_samples=cap),
        "val": load_split(prepared, "val", size, modality=modality, all_labelled=True),
    }


def train_supervised(settings: Settings, arch: str, prepared: Path,
                     device: torch.device) -> tuple[RTMPose, FitConfig, dict]:
    """Thermal-only RTMPose-`arch` on T-FAKE (stage supervised@<arch>, seed repeats). The caller has seeded torch."""
    size = settings.rtmpose.input_size
    model = build_rtmpose(arch, input_size=(size, size)).to(device)
    cfg = fit_config(settings)
    return model, cfg, fit_supervised(model, load_tfake(settings, prepared), cfg)


def train_ktl(settings: Settings, variant: str, prepared: Path, teacher_dir: Path,
              device: torch.device) -> tuple[RTMPose, RTMPose, DistillConfig, FitConfig, dict]:
    """KTL `variant` (flags in train.ktl.variants): frozen RGB teacher -> thermal student on paired T-FAKE
    (stage ktl@<variant>, seed repeats). The caller has seeded torch.

    Returns (student, teacher, distill config, fit config, history)."""
    ktl = settings.train.ktl
    if variant not in ktl["variants"]:
        raise InputError(f"params.yaml: train.ktl.variants has no '{variant}' ({', '.join(ktl['variants'])})")
    size = settings.rtmpose.input_size
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student = build_rtmpose(settings.rtmpose.ktl_arch, input_size=(size, size)).to(device)
    teacher = load_run(teacher_dir).to(device)
    distill = DistillConfig(**ktl["variants"][variant], dikd_mode=ktl["dikd_mode"], **ktl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = fit_config(settings)
    history = fit_ktl(student, teacher, task, load_tfake(settings, prepared, paired=True), cfg)
    return student, teacher, distill, cfg, history


def run_teacher(settings: Settings, prepared: Path, out: Path, curves: Path) -> None:
    """Stage teacher: RGB RTMPose on the RGB half of paired T-FAKE (optionally from official mmpose weights)."""
    device = setup(settings)
    arch, init, size = settings.rtmpose.teacher_arch, settings.rtmpose.teacher_init, settings.rtmpose.input_size
    model = build_rtmpose(arch, input_size=(size, size))
    if init:
        load_mmpose_checkpoint(model, init)
    cfg = fit_config(settings, epochs=settings.train.teacher_epochs)
    history = fit_supervised(model.to(device), load_tfake(settings, prepared, modality="rgb"), cfg)
    if is_main_process():
        config = {"kind": "teacher", "arch": arch, "modality": "rgb", "input_size": size, "init": init or None,
                  "fit": asdict(cfg)}
        save_run(out, curves, model.cpu(), config, history)


def run_supervised(settings: Settings, arch: str, prepared: Path, out: Path, curves: Path) -> None:
    """Stage supervised@<arch>: the thermal-only baseline of Table I."""
    device = setup(settings)
    model, cfg, history = train_supervised(settings, arch, prepared, device)
    if is_main_process():
        config = {"kind": "supervised", "arch": arch, "modality": "thermal", "input_size": settings.rtmpose.input_size,
                  "fit": asdict(cfg)}
        save_run(out, curves, model.cpu(), config, history)


def run_ktl(settings: Settings, variant: str, prepared: Path, teacher_dir: Path, out: Path, curves: Path) -> None:
    """Stage ktl@<variant>: Knowledge Transfer Level (Tables III-V)."""
    device = setup(settings)
    student, teacher, distill, cfg, history = train_ktl(settings, variant, prepared, teacher_dir, device)
    if is_main_process():
        config = {"kind": "ktl", "variant": variant, "arch": student.cfg.arch, "teacher": teacher_dir.name,
                  "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": settings.rtmpose.input_size,
                  "distill": asdict(distill), "fit": asdict(cfg)}
        save_run(out, curves, student.cpu(), config, history)


def run_mcl(settings: Settings, variant: str, prepared: Path, teacher_dir: Path, out: Path, curves: Path) -> None:
    """Stage mcl@<variant>: Model Compression Level, the frozen KTL model -> a smaller thermal student (eq. 9)."""
    device = setup(settings)
    size = settings.rtmpose.input_size
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student = build_rtmpose(settings.rtmpose.mcl_arch, input_size=(size, size)).to(device)
    teacher = load_run(teacher_dir).to(device)
    distill = DistillConfig(fd=True, ld=True, fi=False, ri=False, **settings.train.mcl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = fit_config(settings)
    history = fit_mcl(student, teacher, task, load_tfake(settings, prepared), cfg)
    if is_main_process():
        config = {"kind": "mcl", "variant": variant, "arch": student.cfg.arch, "teacher": teacher_dir.name,
                  "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": size,
                  "distill": asdict(distill), "fit": asdict(cfg)}
        save_run(out, curves, student.cpu(), config, history)


def load_run(run_dir: Path) -> RTMPose:
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: model not found (train '{Path(run_dir).name}' first)")
    return load_model(path)


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def save_run(out: Path, curves: Path, model: RTMPose, config: dict, history: dict) -> None:
    """Write the model dir atomically, then the curve CSVs (per-epoch rows; per-step gradient norms if logged)."""
    with atomic_dir(out) as tmp:
        save_model(model, tmp / "model.safetensors")
        summary = {"best_epoch": history["best_epoch"], "best_val_nme": history["best_val_nme"],
                   "epochs_run": len(history["epochs"])}
        if len(history["grad_norms"]) >= 2:
            summary["grad_norm"] = {"steps": len(history["grad_norms"]), **grad_norm_stats(history["grad_norms"])}
        write_text(tmp / "config.json", dumps_json({**config, "history": summary}))
    write_text(curves / f"{out.name}.csv", _csv(history["epochs"]))
    if history["grad_norms"]:
        rows = [{"step": i + 1, "grad_norm": g} for i, g in enumerate(history["grad_norms"])]
        write_text(curves / f"{out.name}_gradnorm.csv", _csv(rows))
