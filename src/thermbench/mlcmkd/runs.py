"""Training + scoring one MLCM-KD run: the teacher, a pretrained backbone, a supervised, KTL or MCL student.

Run names and where their files lie: `layout`; what a run writes: `run_outputs`. Student seeds vary the student's
initial weights (its head, and its backbone in the from-scratch pair: `backbones.build_student`), shuffling and
augmentation; every KTL run distils the same frozen teacher (trained with the top-level `seed`), and the MCL run of
seed k compresses the KTL run of its variant and seed k. Every run trains until it converges on validation (early
stopping, `train.fit.patience`) or reaches its epoch cap.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from thermbench.core.io import InputError, write_json
from thermbench.core.stage import seed_everything
from thermbench.datasets.crop_store import load_splits
from thermbench.mlcmkd.backbones import Backbones, backbone_checkpoint, build_student
from thermbench.mlcmkd.crop_cache import student_splits
from thermbench.mlcmkd.distributed import init_distributed
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.run_outputs import GroupPaths, RunPaths, finish_run
from thermbench.mlcmkd.settings import Settings, fit_config, kp_weight
from thermbench.mlcmkd.train import fit_ktl, fit_mcl, fit_supervised, recorded
from thermbench.models.rtmpose import build_rtmpose, load_backbone, load_mmpose_checkpoint, load_run, read_checkpoint


def setup(settings: Settings, seed: int) -> torch.device:
    """Threads, seed and device for a stage; under torchrun (WORLD_SIZE > 1) it joins the process group."""
    torch.set_num_threads(settings.train.num_threads)
    device = init_distributed(settings.train.device)
    seed_everything(seed)
    return device


def run_teacher(settings: Settings, pretrain: Path, paths: RunPaths, arch: str | None = None) -> None:
    """Stages teacher and pretrain@<arch>: RGB RTMPose on the RGB pretraining set, all of it, until its validation NME
    converges; scored on T-FAKE RGB test crops and, zero-shot, on their thermal twins (the modality gap). The teacher
    (`arch` None: rtmpose.teacher_arch) starts from official mmpose weights (rtmpose.teacher_init), else from the
    backbone checkpoint of its size (rtmpose.backbone_checkpoints), else at random; it is also the pretrained
    backbone of its size. Another `arch` is pretrained from random weights only to give students of that size an
    offline stand-in backbone."""
    device = setup(settings, settings.seed)
    kind = "teacher" if arch is None else "pretrain"
    arch = arch or settings.rtmpose.teacher_arch
    init = settings.rtmpose.teacher_init if kind == "teacher" else None
    size = settings.rtmpose.input_size
    model = build_rtmpose(arch, input_size=(size, size))
    if init:
        load_mmpose_checkpoint(model, init)
    elif kind == "teacher":
        checkpoint = backbone_checkpoint(settings.rtmpose, arch, "the teacher starts from random weights instead; "
                                         "pretrained on the RGB face set, it is the offline stand-in of its size")
        if checkpoint is not None:
            load_backbone(model, read_checkpoint(checkpoint.path), str(checkpoint.path))
            init = checkpoint.init
    cfg = fit_config(settings, settings.seed, settings.train.teacher_epochs)
    history = fit_supervised(model.to(device), load_splits(pretrain, ("train", "val")), cfg, desc=paths.out.name)
    config = {"kind": kind, "arch": arch, "seed": settings.seed, "modality": "rgb", "input_size": size,
              "init": init or None, "fit": recorded(cfg)}
    finish_run(paths, model, config, history, settings.data)


def run_pretrain(settings: Settings, pretrain: Path, paths: GroupPaths) -> None:
    """Stage pretrain: every size of `rtmpose.pretrain_archs` pretrained as the teacher is (`run_teacher`), one after
    another on every thread, into `<models>/pretrain-<arch>/`; an index of what is there (possibly nothing)."""
    for arch in settings.rtmpose.pretrain_archs:
        run_teacher(settings, pretrain, paths.of(f"pretrain-{arch}"), arch)
    for folder in (paths.curves, paths.metrics, paths.predictions):  # the stage's outputs, also with no size to train
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (paths.curves, paths.metrics):  # in git, which keeps no empty folder: a clone would lack it
        if not any(folder.iterdir()):
            (folder / ".gitkeep").touch()
    write_json(paths.models / "index.json", {"archs": list(settings.rtmpose.pretrain_archs)})


def run_supervised(settings: Settings, arch: str, seed: int, backbones: Backbones, paths: RunPaths,
                   scratch: bool = False) -> dict:
    """One thermal-only baseline of Table I (stage supervised@<arch> runs its seeds) with the students' lambda_kp;
    `backbones`: the pretrained backbone sources of `build_student`."""
    device = setup(settings, seed)
    model, init = build_student(settings, arch, backbones, scratch)
    model = model.to(device)
    cfg = fit_config(settings, seed)
    data = student_splits(paths.tfake, settings.train.max_train_samples, paired=False)
    history = fit_supervised(model, data, cfg, desc=paths.out.name, kp_weight=kp_weight(settings.train))
    config = {"kind": "supervised", "arch": arch, "seed": seed, "init": init, "scratch": scratch,
              "modality": "thermal", "input_size": settings.rtmpose.input_size, "kp_weight": kp_weight(settings.train),
              "fit": recorded(cfg)}
    return finish_run(paths, model, config, history, settings.data)


def distill_config(settings: Settings, variant: str) -> DistillConfig:
    ktl = settings.train.ktl
    if variant not in ktl.variants:
        raise InputError(f"params.yaml: train.ktl.variants has no '{variant}' ({', '.join(ktl.variants)})")
    return DistillConfig(**asdict(ktl.variants[variant]), dikd_mode=ktl.dikd_mode,
                         kp_weight=kp_weight(settings.train), **ktl.weights)


def run_ktl(settings: Settings, variant: str, seed: int, teacher_dir: Path, backbones: Backbones,
            paths: RunPaths, scratch: bool = False) -> dict:
    """One Knowledge Transfer Level run (Tables III-V), frozen RGB teacher -> thermal student (stage ktl@<variant>
    runs its seeds)."""
    distill = distill_config(settings, variant)
    device = setup(settings, seed)
    size = settings.rtmpose.input_size
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student, init = build_student(settings, settings.rtmpose.ktl_arch, backbones, scratch)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    task = DistillTask(student, teacher, distill).to(device)
    cfg = fit_config(settings, seed)
    data = student_splits(paths.tfake, settings.train.max_train_samples, paired=True)
    history = fit_ktl(student, teacher, task, data, cfg, desc=paths.out.name)
    config = {"kind": "ktl", "variant": variant, "arch": student.cfg.arch, "seed": seed, "init": init,
              "scratch": scratch, "teacher": teacher_dir.name, "teacher_arch": teacher.cfg.arch,
              "modality": "thermal", "input_size": size, "distill": asdict(distill), "fit": recorded(cfg)}
    return finish_run(paths, student, config, history, settings.data)


def run_mcl(settings: Settings, variant: str, seed: int, teacher_dir: Path, backbones: Backbones,
            paths: RunPaths) -> dict:
    """One Model Compression Level run, the frozen KTL model (`teacher_dir`) -> a smaller thermal student (eq. 9)."""
    device = setup(settings, seed)
    size = settings.rtmpose.input_size
    student, init = build_student(settings, settings.rtmpose.mcl_arch, backbones)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    distill = DistillConfig(fd=True, ld=True, fi=False, ri=False, kp_weight=kp_weight(settings.train),
                            **settings.train.mcl.weights)
    task = DistillTask(student, teacher, distill).to(device)
    cfg = fit_config(settings, seed)
    data = student_splits(paths.tfake, settings.train.max_train_samples, paired=False)
    history = fit_mcl(student, teacher, task, data, cfg, desc=paths.out.name)
    config = {"kind": "mcl", "variant": variant, "arch": student.cfg.arch, "seed": seed, "init": init,
              "scratch": False, "teacher": teacher_dir.name, "teacher_arch": teacher.cfg.arch, "modality": "thermal",
              "input_size": size, "distill": asdict(distill), "fit": recorded(cfg)}
    return finish_run(paths, student, config, history, settings.data)
