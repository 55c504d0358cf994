"""The MLCM-KD stages' calls: typed settings, device set-up, the crop cache, and training + scoring one run.

Run names and where their files lie: `layout`. Student seeds vary the student's initial weights (its head, and its
backbone where none is pretrained: `build_student`), shuffling and augmentation; every KTL run distils the same frozen
teacher (trained with the top-level `seed`), and MCL compresses the base-seed KTL model. A trained run writes its
model folder `<out>/{model.safetensors, model.safetensors.json, config.json}`, its curves `<curves>/<name>.csv` (per
epoch), `<name>_gradnorm.csv` (per step) and `<name>_ced.csv`, its scalar metrics JSON and its T-FAKE test
predictions; every root is a command-line argument of its stage. The supervised and KTL stages train all their runs
(architectures or variants x seeds), `train.workers` at a time.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import InputError, atomic_dir, atomic_write_bytes, dumps_json, write_json, write_text
from thermbench.core.parallel import ordered_map
from thermbench.core.stage import build, seed_everything
from thermbench.mlcmkd.evaluate import score_run
from thermbench.mlcmkd.layout import run_name
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.stability import grad_norm_stats
from thermbench.mlcmkd.train import (
    FitConfig,
    Split,
    fit_ktl,
    fit_mcl,
    fit_supervised,
    init_distributed,
    is_main_process,
    load_split,
    load_splits,
    save_splits,
)
from thermbench.models.rtmpose import ARCHS, RTMPose, build_rtmpose, load_mmpose_checkpoint, load_model, save_model


@dataclass(frozen=True)
class RTMPoseParams:
    input_size: int             # square model input, px (paper: 256); multiple of 32
    teacher_arch: str
    teacher_init: str | None    # optional official mmpose checkpoint
    student_backbone: str | None  # "teacher": students of the teacher's arch start from its backbone; None: random
    ktl_arch: str
    mcl_arch: str
    supervised_archs: tuple


@dataclass(frozen=True)
class TrainParams:
    device: str                 # cpu | cuda (multi-GPU: torchrun sets WORLD_SIZE)
    num_threads: int            # torch threads of a stage
    workers: int                # runs a supervised/KTL stage trains at once, num_threads // workers threads each
    seeds: tuple                # student seeds of the supervised and KTL runs
    teacher_epochs: int
    max_train_samples: int | None  # cap on T-FAKE training crops (never on the teacher's pretraining set)
    fit: FitConfig              # every run's schedule; its `seed` is replaced by the run's
    ktl: dict                   # dikd_mode, weights, variants (flag sets), runs (the variants trained)
    mcl: dict                   # variants, weights


@dataclass(frozen=True)
class Settings:
    """What an MLCM-KD stage reads from params: `seed`, `rtmpose` and `train`."""
    seed: int
    rtmpose: RTMPoseParams
    train: TrainParams


def train_params(raw: dict) -> TrainParams:
    """`train` params -> TrainParams; train.fit becomes a FitConfig whose seed each run replaces with its own."""
    if not isinstance(raw, dict) or not isinstance(raw.get("fit"), dict):
        raise InputError("params.yaml: 'train.fit' must be a mapping")
    return build(TrainParams, {**raw, "fit": {**raw["fit"], "seed": 0}}, "train")


def setup(settings: Settings, seed: int) -> torch.device:
    """Threads, seed and device for a stage; under torchrun (WORLD_SIZE > 1) it joins the process group."""
    torch.set_num_threads(settings.train.num_threads)
    device = init_distributed(settings.train.device)
    seed_everything(seed)
    return device


def _fit_config(settings: Settings, seed: int, epochs: int | None = None) -> FitConfig:
    cfg = replace(settings.train.fit, seed=seed)
    return cfg if epochs is None else replace(cfg, epochs=epochs)


# --------------------------------------------------------------------------------------------------------- crop cache


def cache_crops(size: int, tfake: Path, charlotte: Path, rgbpretrain: Path, out_tfake: Path, out_charlotte: Path,
                out_rgbpretrain: Path) -> None:
    """Stage crops_mlcmkd: decode every crop once at the model input size into one .npz per dataset.
    T-FAKE train and test carry the RGB twin (KTL; the teacher's RGB test), CHARLOTTE its test split with the subset
    columns, the RGB pretraining set its train/val RGB crops."""
    save_splits(out_tfake, {
        "train": load_split(tfake, "train", size, paired=True, all_labelled=True),
        "val": load_split(tfake, "val", size, all_labelled=True),
        "test": load_split(tfake, "test", size, paired=True, all_labelled=True),
    })
    test = load_split(charlotte, "test", size)
    test.meta = test.meta[["sample_id", "width_group", "view"]]
    save_splits(out_charlotte, {"test": test})
    save_splits(out_rgbpretrain, {s: load_split(rgbpretrain, s, size, modality="rgb", all_labelled=True)
                                  for s in ("train", "val")})


def _tfake(settings: Settings, cache: Path, paired: bool) -> dict[str, Split]:
    data = load_splits(cache, ("train", "val"))
    cap = settings.train.max_train_samples
    train = data["train"]
    n = len(train) if cap is None else min(cap, len(train))
    data["train"] = Split(train.images[:n], train.kpts[:n], train.visible[:n], train.scale[:n],
                          train.paired[:n] if paired and train.paired is not None else None)
    return data


# ------------------------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunPaths:
    """Where a run's outputs go (each a stage argument) and the cached crops it is scored on."""
    out: Path
    curves: Path
    metrics: Path
    predictions: Path
    tfake: Path
    charlotte: Path


def run_teacher(settings: Settings, pretrain: Path, paths: RunPaths) -> None:
    """Stage teacher: RGB RTMPose on the RGB pretraining set, all of it (optionally from official mmpose weights);
    scored on T-FAKE RGB test crops and, zero-shot, on their thermal twins (the modality gap)."""
    device = setup(settings, settings.seed)
    arch, init, size = settings.rtmpose.teacher_arch, settings.rtmpose.teacher_init, settings.rtmpose.input_size
    model = build_rtmpose(arch, input_size=(size, size))
    if init:
        load_mmpose_checkpoint(model, init)
    cfg = _fit_config(settings, settings.seed, settings.train.teacher_epochs)
    history = fit_supervised(model.to(device), load_splits(pretrain, ("train", "val")), cfg, desc="teacher")
    config = {"kind": "teacher", "arch": arch, "seed": settings.seed, "modality": "rgb", "input_size": size,
              "init": init or None, "fit": asdict(cfg)}
    _finish(paths, model, config, history)


STUDENT_BACKBONES = (None, "teacher")


def build_student(settings: Settings, arch: str, teacher_dir: Path) -> tuple[RTMPose, str]:
    """A student network of `arch` and how it starts: ("teacher backbone" | "random").

    RTMPose and DWPose train every model from a pretrained CSPNeXt backbone (pose-pretrained on AIC + COCO) with a
    random head. Offline the one pose-pretrained backbone is the RGB teacher's (`teacher_dir`), so with
    `rtmpose.student_backbone: teacher` a student of the teacher's architecture starts from it; another size has no
    pretrained backbone here and starts at random, which one printed line says. The seeded build comes first either
    way, so one seed gives one head whatever the backbone.
    """
    source, size = settings.rtmpose.student_backbone, settings.rtmpose.input_size
    if source not in STUDENT_BACKBONES:
        raise InputError(f"params.yaml: rtmpose.student_backbone must be 'teacher' or null, got {source!r}")
    student = build_rtmpose(arch, input_size=(size, size))
    if source is None:
        return student, "random"
    if arch != settings.rtmpose.teacher_arch:
        print(f"RTMPose-{arch}: no pretrained backbone of this size (the teacher is RTMPose-"
              f"{settings.rtmpose.teacher_arch}): random initial weights", flush=True)
        return student, "random"
    backbone = {k: v for k, v in load_run(teacher_dir).state_dict().items() if k.startswith("backbone.")}
    missing, unexpected = student.load_state_dict(backbone, strict=False)
    if unexpected or any(not k.startswith("head.") for k in missing):
        raise InputError(f"{teacher_dir}: its backbone does not fit RTMPose-{arch}")
    return student, "teacher backbone"


def run_supervised(settings: Settings, arch: str, seed: int, teacher_dir: Path, paths: RunPaths) -> dict:
    """One thermal-only baseline of Table I (stage supervised runs every arch x seed); `teacher_dir` is the RGB
    teacher, the backbone source of `build_student`."""
    device = setup(settings, seed)
    model, init = build_student(settings, arch, teacher_dir)
    model = model.to(device)
    cfg = _fit_config(settings, seed)
    history = fit_supervised(model, _tfake(settings, paths.tfake, paired=False), cfg, desc=f"supervised-{arch}")
    config = {"kind": "supervised", "arch": arch, "seed": seed, "init": init, "modality": "thermal",
              "input_size": settings.rtmpose.input_size, "fit": asdict(cfg)}
    return _finish(paths, model, config, history)


def distill_config(settings: Settings, variant: str) -> DistillConfig:
    ktl = settings.train.ktl
    if variant not in ktl["variants"]:
        raise InputError(f"params.yaml: train.ktl.variants has no '{variant}' ({', '.join(ktl['variants'])})")
    return DistillConfig(**ktl["variants"][variant], dikd_mode=ktl["dikd_mode"], **ktl["weights"])


def run_ktl(settings: Settings, variant: str, seed: int, teacher_dir: Path, paths: RunPaths) -> dict:
    """One Knowledge Transfer Level run (Tables III-V), frozen RGB teacher -> thermal student (stage ktl runs every
    variant x seed)."""
    distill = distill_config(settings, variant)
    device = setup(settings, seed)
    size = settings.rtmpose.input_size
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student, init = build_student(settings, settings.rtmpose.ktl_arch, teacher_dir)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    task = DistillTask(student, teacher, distill).to(device)
    cfg = _fit_config(settings, seed)
    history = fit_ktl(student, teacher, task, _tfake(settings, paths.tfake, paired=True), cfg, desc=f"ktl-{variant}")
    config = {"kind": "ktl", "variant": variant, "arch": student.cfg.arch, "seed": seed, "init": init,
              "teacher": teacher_dir.name,
              "teacher_arch": teacher.cfg.arch, "modality": "thermal", "input_size": size,
              "distill": asdict(distill), "fit": asdict(cfg)}
    return _finish(paths, student, config, history)


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


def group_jobs(settings: Settings, group: str) -> list[tuple[str, int]]:
    """(architecture or variant, seed) of every run of group `supervised` or `ktl`, in table order.

    Every KTL variant and the supervised baseline at the KTL size train every student seed: those are the compared
    methods. A supervised baseline of another size (the -t row beside MCL's single run) trains the base seed only.
    """
    seeds = list(settings.train.seeds)
    if group == "ktl":
        return [(variant, seed) for variant in settings.train.ktl["runs"] for seed in seeds]
    if group == "supervised":
        return [(arch, seed) for arch in settings.rtmpose.supervised_archs
                for seed in (seeds if arch == settings.rtmpose.ktl_arch else seeds[:1])]
    raise ValueError(f"unknown run group '{group}'")


def group_run_names(settings: Settings, group: str) -> list[str]:
    """Run names of `group_jobs`."""
    return [run_name(group, key, seed) for key, seed in group_jobs(settings, group)]


def run_group(settings: Settings, group: str, paths: GroupPaths, teacher_dir: Path) -> None:
    """Stages supervised and ktl: every run of the group, `train.workers` processes at a time. `teacher_dir`: the RGB
    teacher (KTL's teacher; every student's backbone source, `build_student`).

    Runs are independent and seeded, so a run's result depends on its torch thread count (num_threads // workers,
    recorded in its config) but not on which process trains it or in what order. Two one-thread runs side by side
    beat one two-thread run after another on a small CPU model: intra-op threads scale poorly at this size. Under
    torchrun (WORLD_SIZE > 1) every rank trains the runs one after another, together.
    """
    jobs = group_jobs(settings, group)
    workers = 1 if int(os.environ.get("WORLD_SIZE", "1")) > 1 else max(1, min(settings.train.workers, len(jobs)))
    train = replace(settings.train, num_threads=max(1, settings.train.num_threads // workers),
                    fit=replace(settings.train.fit, progress=settings.train.fit.progress and workers == 1))
    train_one = partial(_group_run, replace(settings, train=train), group, paths, teacher_dir)
    for line in ordered_map(train_one, longest_first(settings, group, jobs), f"{group} runs", workers=workers,
                            unit="run"):
        print(line, flush=True)


def longest_first(settings: Settings, group: str, jobs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """`jobs` in decreasing expected run time, so the pool does not end on one long run beside an idle worker
    (longest-processing-time order): larger architectures first; KTL variants by their extra head passes (FI, RI),
    then their distillation terms. Stable: the seeds of one key keep their order."""
    if group == "supervised":
        return sorted(jobs, key=lambda job: ARCHS[job[0]][1], reverse=True)  # by width

    def cost(job: tuple[str, int]) -> tuple[int, int]:
        flags = settings.train.ktl["variants"][job[0]]
        return flags["fi"] + flags["ri"], flags["fd"] + flags["ld"]

    return sorted(jobs, key=cost, reverse=True)  # reverse keeps the sort stable


def _group_run(settings: Settings, group: str, paths: GroupPaths, teacher_dir: Path,
               job: tuple[str, int]) -> str:
    key, seed = job
    name = run_name(group, key, seed)
    start = time.perf_counter()
    if group == "supervised":
        summary = run_supervised(settings, key, seed, teacher_dir, paths.of(name))
    else:
        summary = run_ktl(settings, key, seed, teacher_dir, paths.of(name))
    return (f"{name}: best val NME {summary['best_val_nme']:.4f} (epoch {summary['best_epoch']}), "
            f"{time.perf_counter() - start:.0f} s at {settings.train.num_threads} thread(s)")


def run_mcl(settings: Settings, variant: str, teacher_dir: Path, backbone_dir: Path, paths: RunPaths) -> None:
    """Stage mcl@<variant>: Model Compression Level, the frozen KTL model (`teacher_dir`) -> a smaller thermal student
    (eq. 9); `backbone_dir` is the RGB teacher, the student's backbone source (`build_student`)."""
    device = setup(settings, settings.seed)
    size = settings.rtmpose.input_size
    student, init = build_student(settings, settings.rtmpose.mcl_arch, backbone_dir)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    distill = DistillConfig(fd=True, ld=True, fi=False, ri=False, **settings.train.mcl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = _fit_config(settings, settings.seed)
    history = fit_mcl(student, teacher, task, _tfake(settings, paths.tfake, paired=False), cfg, desc=f"mcl-{variant}")
    config = {"kind": "mcl", "variant": variant, "arch": student.cfg.arch, "seed": settings.seed, "init": init,
              "teacher": teacher_dir.name, "teacher_arch": teacher.cfg.arch, "modality": "thermal",
              "input_size": size, "distill": asdict(distill), "fit": asdict(cfg)}
    _finish(paths, student, config, history)


def load_run(run_dir: Path) -> RTMPose:
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: model not found (train '{Path(run_dir).name}' first)")
    return load_model(path)


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))  # rows without validation lack val_nme
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _finish(paths: RunPaths, model: RTMPose, config: dict, history: dict) -> dict:
    """Rank 0: save the model, score it on the cached test crops, write metrics, curves and predictions. Returns the
    training summary (every rank)."""
    summary = {"best_epoch": history["best_epoch"], "best_val_nme": history["best_val_nme"],
               "epochs_run": len(history["epochs"])}
    if not is_main_process():
        return summary
    model = model.cpu()
    if len(history["grad_norms"]) >= 2:
        summary["grad_norm"] = {"steps": len(history["grad_norms"]), **grad_norm_stats(history["grad_norms"])}
    config = {**config, "threads": torch.get_num_threads(), "history": summary}  # results depend on it (per CPU)
    with atomic_dir(paths.out) as tmp:
        save_model(model, tmp / "model.safetensors")
        write_text(tmp / "config.json", dumps_json(config))
    name = paths.out.name
    result, ced, pred = score_run(model, config, paths.tfake, paths.charlotte, name)
    write_json(paths.metrics, result)
    write_text(paths.curves / f"{name}_ced.csv", _csv(ced))
    write_text(paths.curves / f"{name}.csv", _csv(history["epochs"]))
    if history["grad_norms"]:
        rows = [{"step": i + 1, "grad_norm": g} for i, g in enumerate(history["grad_norms"])]
        write_text(paths.curves / f"{name}_gradnorm.csv", _csv(rows))
    buf = io.BytesIO()
    np.save(buf, pred.astype(np.float32))
    atomic_write_bytes(paths.predictions, buf.getvalue())
    return summary
