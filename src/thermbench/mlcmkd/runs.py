"""The MLCM-KD stages' calls: typed settings, device set-up, the crop cache, and training + scoring one run.

Run names and where their files lie: `layout`. Student seeds vary the student's initial weights (its head, and its
backbone in the from-scratch pair: `build_student`), shuffling and augmentation; every KTL run distils the same frozen
teacher (trained with the top-level `seed`), and the MCL run of seed k compresses the DIKD run of seed k. A trained
run writes its model folder `<out>/{model.safetensors, model.safetensors.json, config.json}`, its curves
`<curves>/<name>.csv` (per epoch), `<name>_gradnorm.csv` (per step) and `<name>_ced.csv`, its scalar metrics JSON and
its T-FAKE test predictions; every root is a command-line argument of its stage. The teacher and the students of a
size start from its CSPNeXt checkpoint (`rtmpose.backbone_checkpoints`, fetched once per stage) where one is set and
can be had, else from the offline stand-in (`build_student`). The supervised and KTL stages train all their runs
(architectures or variants x seeds), `train.workers` at a time; every run trains until it converges on validation
(early stopping, `train.fit.patience`) or reaches its epoch cap.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from thermbench.core.io import InputError, atomic_dir, atomic_write_bytes, dumps_json, write_json, write_text
from thermbench.core.parallel import ordered_map
from thermbench.core.stage import build, seed_everything
from thermbench.datasets.crop_store import Split, load_split, load_splits, save_splits
from thermbench.datasets.fetch import http_download
from thermbench.mlcmkd.evaluate import score_run
from thermbench.mlcmkd.layout import run_name
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.stability import grad_norm_stats
from thermbench.mlcmkd.train import (
    FitConfig,
    fit_ktl,
    fit_mcl,
    fit_supervised,
    init_distributed,
    is_main_process,
    main_process_first,
)
from thermbench.models.rtmpose import (
    ARCHS,
    RTMPose,
    build_rtmpose,
    load_backbone,
    load_mmpose_checkpoint,
    load_model,
    read_checkpoint,
    save_model,
)


@dataclass(frozen=True)
class RTMPoseParams:
    input_size: int             # square model input, px (paper: 256); multiple of 32
    teacher_arch: str
    teacher_init: str | None    # optional official mmpose checkpoint
    student_backbone: str | None  # "pretrained": every student starts from the RGB-pretrained backbone of its size
    pretrain_archs: tuple       # sizes pretrained on the RGB set besides the teacher's (their backbones' source)
    ktl_arch: str
    mcl_arch: str
    supervised_archs: tuple
    backbone_checkpoints: dict[str, str | None]  # size -> CSPNeXt checkpoint (URL or path) teacher, students start from
    backbone_cache: str         # where downloaded checkpoints are kept, each with its sha256 pinned beside it


@dataclass(frozen=True)
class TrainParams:
    device: str                 # cpu | cuda (multi-GPU: torchrun sets WORLD_SIZE)
    num_threads: int            # torch threads of a stage
    workers: int                # runs a supervised/KTL stage trains at once, num_threads // workers threads each
    seeds: tuple                # student seeds of the supervised and KTL runs
    teacher_epochs: int
    max_train_samples: int | None  # cap on T-FAKE training crops (never on the teacher's pretraining set)
    fit: FitConfig              # every run's schedule; its `seed` is replaced by the run's
    kp_weight: float            # lambda_kp of every student (supervised, KTL, MCL)
    kp_reference_batch: int | None  # lambda_kp is scaled by this / batch: L_kp is batch-summed, distillation batch-mean
    scratch: dict               # the from-scratch pair: {group: [keys]} trained from random weights too
    scratch_seeds: tuple        # its student seeds
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


def kp_weight(train: TrainParams) -> float:
    """The students' lambda_kp as the loss uses it: scaled so that a batch-summed L_kp keeps, against the batch-mean
    distillation terms, the balance it has at the reference batch (the paper's 64)."""
    if train.kp_reference_batch is None:
        return train.kp_weight
    return train.kp_weight * train.kp_reference_batch / train.fit.batch_size


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
    test.meta = test.meta[["sample_id", "width_group", "view", "diag_annotated_px"]]
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
    cfg = _fit_config(settings, settings.seed, settings.train.teacher_epochs)
    history = fit_supervised(model.to(device), load_splits(pretrain, ("train", "val")), cfg, desc=paths.out.name)
    config = {"kind": kind, "arch": arch, "seed": settings.seed, "modality": "rgb", "input_size": size,
              "init": init or None, "fit": asdict(cfg)}
    _finish(paths, model, config, history)


def run_pretrain(settings: Settings, pretrain: Path, paths: GroupPaths) -> None:
    """Stage pretrain: every size of `rtmpose.pretrain_archs` pretrained as the teacher is (`run_teacher`), one after
    another on every thread, into `<models>/pretrain-<arch>/`; an index of what is there (possibly nothing)."""
    for arch in settings.rtmpose.pretrain_archs:
        run_teacher(settings, pretrain, paths.of(f"pretrain-{arch}"), arch)
    for folder in (paths.curves, paths.metrics, paths.predictions):  # the stage's outputs, also with no size to train
        folder.mkdir(parents=True, exist_ok=True)
    write_json(paths.models / "index.json", {"archs": list(settings.rtmpose.pretrain_archs)})


STUDENT_BACKBONES = (None, "pretrained")


def check_backbone_source(source: str | None) -> None:
    if source not in STUDENT_BACKBONES:
        raise InputError(f"params.yaml: rtmpose.student_backbone must be 'pretrained' or null, got {source!r}")


def backbone_sources(dirs: list[Path]) -> dict[str, Path]:
    """The RGB-pretrained models by architecture, from their saved configs: each of `dirs` is a model folder (the
    teacher) or a folder of them (stage pretrain's)."""
    models = []
    for d in map(Path, dirs):
        is_model = (d / "model.safetensors").is_file()
        models += [d] if is_model else sorted(p.parent for p in d.glob("*/model.safetensors"))
    return {load_run(d).cfg.arch: d for d in models}


@dataclass(frozen=True)
class Checkpoint:
    """A backbone checkpoint file and its sha256."""
    path: Path
    sha256: str

    @property
    def init(self) -> str:
        """How a run that starts from it says so in its config and metrics."""
        return f"backbone of {self.path.name} (sha256 {self.sha256}), head random"


Backbones = dict[str, Path | Checkpoint]  # per size: a backbone checkpoint, or the folder of a stand-in model


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(ref: str) -> bool:
    return urlparse(ref).scheme in ("http", "https", "file")


def fetch_checkpoint(ref: str, cache: Path) -> Path:
    """`ref` a URL (http, https or file), downloaded once into `cache` as the datasets' archives are (a temp name,
    then renamed; a complete file is reused), or a local path."""
    if _is_url(ref):
        return http_download(ref, cache)
    if not Path(ref).is_file():
        raise InputError(f"{ref}: not found")
    return Path(ref)


def pinned_sha256(path: Path) -> str:
    """The sha256 of a downloaded file, pinned in `<file>.sha256` the first time; a file that no longer matches its
    pin is refused. The hash in an OpenMMLab file name is not checked: it need not be a sha256 prefix (facts:
    pretrained sets §1b)."""
    digest, pin = _sha256(path), path.with_name(path.name + ".sha256")
    if not pin.is_file():
        write_text(pin, digest + "\n")
    elif pin.read_text().strip() != digest:
        raise InputError(f"{path}: sha256 {digest} differs from the one pinned at its download ({pin}); delete both "
                         "to download it again")
    return digest


def backbone_checkpoint(rtmpose: RTMPoseParams, arch: str, instead: str) -> Checkpoint | None:
    """The backbone checkpoint of size `arch` (rtmpose.backbone_checkpoints.<arch>), or None where it is null or
    cannot be had (no network, a failed download, a missing file): then one line on stderr says so and what the run
    starts from `instead`."""
    unknown = sorted(set(rtmpose.backbone_checkpoints) - set(ARCHS))
    if unknown:
        raise InputError(f"params.yaml: rtmpose.backbone_checkpoints has unknown size(s) {', '.join(unknown)} "
                         f"(expected {', '.join(ARCHS)})")
    ref, key = rtmpose.backbone_checkpoints.get(arch), f"rtmpose.backbone_checkpoints.{arch}"
    if ref is None:
        print(f"RTMPose-{arch}: no backbone checkpoint ({key}: null): {instead}", file=sys.stderr)
        return None
    with main_process_first():  # under torchrun rank 0 downloads, the other ranks then find the file
        # http_download turns URL and OS errors into InputError; a malformed URL (ValueError, InvalidURL) or a
        # response cut short (IncompleteRead) arrive as they are
        try:
            path = fetch_checkpoint(ref, Path(rtmpose.backbone_cache))
        except (InputError, ValueError, HTTPException) as err:
            print(f"RTMPose-{arch}: backbone checkpoint {ref} not available ({err}); set {key} to a local copy of "
                  f"it; {instead}", file=sys.stderr)
            return None
        checkpoint = Checkpoint(path, pinned_sha256(path) if _is_url(ref) else _sha256(path))
    print(f"RTMPose-{arch}: backbone from {path} (sha256 {checkpoint.sha256})", file=sys.stderr)
    return checkpoint


def student_backbones(settings: Settings, group: str, stand_ins: dict[str, Path]) -> Backbones:
    """What the students of `group` start from, per size: its backbone checkpoint where one is set and can be had,
    else its offline stand-in of `backbone_sources` (`stand_ins`); one line on stderr per size says which. Resolved
    once per stage, so a URL is downloaded once, before any run starts."""
    if settings.rtmpose.student_backbone is None:
        return stand_ins
    sources: Backbones = dict(stand_ins)
    for arch in dict.fromkeys(student_arch(settings, group, key) for key, _, scratch in group_jobs(settings, group)
                              if not scratch):
        instead = (f"its students start from the offline stand-in instead, the backbone of {stand_ins[arch]} (an "
                   f"RTMPose-{arch} pretrained on the RGB face set here)" if arch in stand_ins else
                   f"there is no offline stand-in of that size either (add '{arch}' to rtmpose.pretrain_archs)")
        checkpoint = backbone_checkpoint(settings.rtmpose, arch, instead)
        if checkpoint is not None:
            sources[arch] = checkpoint
    return sources


def build_student(settings: Settings, arch: str, backbones: Backbones,
                  scratch: bool = False) -> tuple[RTMPose, str]:
    """A student network of `arch` and how it starts: ("pretrained backbone" | `Checkpoint.init` | "random").

    RTMPose and DWPose train every model from a pretrained CSPNeXt backbone (pose-pretrained on AIC + COCO) with a
    random head. With `rtmpose.student_backbone: pretrained` the backbone of `backbones[arch]` is loaded, strict by
    key: a checkpoint (rtmpose.backbone_checkpoints) or, offline, the stand-in, an RTMPose of the same size pretrained
    on the RGB face set (the teacher for its size, `pretrain@<arch>` for the others). `scratch` (the from-scratch
    pair) and a null source start from random weights. The seeded build comes first either way, so one seed gives
    one head whatever the backbone.
    """
    source, size = settings.rtmpose.student_backbone, settings.rtmpose.input_size
    check_backbone_source(source)
    student = build_rtmpose(arch, input_size=(size, size))
    if source is None or scratch:
        return student, "random"
    if arch not in backbones:
        raise InputError(f"RTMPose-{arch}: no pretrained backbone given (have: {', '.join(sorted(backbones))}); add "
                         f"'{arch}' to rtmpose.pretrain_archs")
    backbone = backbones[arch]
    if isinstance(backbone, Checkpoint):
        load_backbone(student, read_checkpoint(backbone.path), str(backbone.path))
        return student, backbone.init
    # The stand-in is loaded as a model, which draws random numbers: after the seeded build, as always.
    load_backbone(student, load_run(backbone).state_dict(), str(backbone))
    return student, "pretrained backbone"


def run_supervised(settings: Settings, arch: str, seed: int, backbones: Backbones, paths: RunPaths,
                   scratch: bool = False) -> dict:
    """One thermal-only baseline of Table I (stage supervised runs every arch x seed) with the students' lambda_kp;
    `backbones`: the pretrained backbone sources of `build_student`."""
    device = setup(settings, seed)
    model, init = build_student(settings, arch, backbones, scratch)
    model = model.to(device)
    cfg = _fit_config(settings, seed)
    history = fit_supervised(model, _tfake(settings, paths.tfake, paired=False), cfg, desc=paths.out.name,
                             kp_weight=kp_weight(settings.train))
    config = {"kind": "supervised", "arch": arch, "seed": seed, "init": init, "scratch": scratch,
              "modality": "thermal", "input_size": settings.rtmpose.input_size, "kp_weight": kp_weight(settings.train),
              "fit": asdict(cfg)}
    return _finish(paths, model, config, history)


def distill_config(settings: Settings, variant: str) -> DistillConfig:
    ktl = settings.train.ktl
    if variant not in ktl["variants"]:
        raise InputError(f"params.yaml: train.ktl.variants has no '{variant}' ({', '.join(ktl['variants'])})")
    return DistillConfig(**ktl["variants"][variant], dikd_mode=ktl["dikd_mode"], kp_weight=kp_weight(settings.train),
                         **ktl["weights"])


def run_ktl(settings: Settings, variant: str, seed: int, teacher_dir: Path, backbones: Backbones,
            paths: RunPaths, scratch: bool = False) -> dict:
    """One Knowledge Transfer Level run (Tables III-V), frozen RGB teacher -> thermal student (stage ktl runs every
    variant x seed)."""
    distill = distill_config(settings, variant)
    device = setup(settings, seed)
    size = settings.rtmpose.input_size
    # Student first: its initial weights then equal the supervised run's of the same arch and seed.
    student, init = build_student(settings, settings.rtmpose.ktl_arch, backbones, scratch)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    task = DistillTask(student, teacher, distill).to(device)
    cfg = _fit_config(settings, seed)
    history = fit_ktl(student, teacher, task, _tfake(settings, paths.tfake, paired=True), cfg, desc=paths.out.name)
    config = {"kind": "ktl", "variant": variant, "arch": student.cfg.arch, "seed": seed, "init": init,
              "scratch": scratch, "teacher": teacher_dir.name, "teacher_arch": teacher.cfg.arch,
              "modality": "thermal", "input_size": size, "distill": asdict(distill), "fit": asdict(cfg)}
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


Job = tuple[str, int, bool]  # (architecture or variant, seed, from scratch)


def group_jobs(settings: Settings, group: str) -> list[Job]:
    """Every run of group `supervised`, `ktl` or `mcl`, in table order: each architecture (supervised) or variant
    (KTL, MCL) at every student seed, those are the compared methods; then the from-scratch pair (`train.scratch`)
    at its seeds (`train.scratch_seeds`). MCL run k compresses the KTL run of its variant and seed k."""
    seeds = list(settings.train.seeds)
    keys = {"supervised": settings.rtmpose.supervised_archs, "ktl": settings.train.ktl["runs"],
            "mcl": settings.train.mcl["variants"]}
    if group not in keys:
        raise ValueError(f"unknown run group '{group}'")
    scratch = [] if group == "mcl" else settings.train.scratch.get(group) or []
    return ([(key, seed, False) for key in keys[group] for seed in seeds]
            + [(key, seed, True) for key in scratch for seed in settings.train.scratch_seeds])


def group_run_names(settings: Settings, group: str) -> list[str]:
    """Run names of `group_jobs`."""
    return [run_name(group, key, seed, scratch) for key, seed, scratch in group_jobs(settings, group)]


def student_arch(settings: Settings, group: str, key: str) -> str:
    """The size of a `group_jobs` key's student: the key itself (supervised) or the group's (KTL, MCL)."""
    return {"supervised": key, "ktl": settings.rtmpose.ktl_arch, "mcl": settings.rtmpose.mcl_arch}[group]


def run_group(settings: Settings, group: str, paths: GroupPaths, backbone_dirs: list[Path],
              teacher: Path | None = None) -> None:
    """Stages supervised, ktl and mcl: every run of the group, `train.workers` processes at a time. `backbone_dirs`:
    the RGB-pretrained models whose backbones students start from (`build_student`); `teacher`: KTL's RGB teacher
    model, or MCL's folder of KTL models (run k distils ktl-<variant>-seed<k>).

    Runs are independent and seeded, so a run's result depends on its torch thread count (num_threads // workers,
    recorded in its config) but not on which process trains it or in what order. Two one-thread runs side by side
    beat one two-thread run after another on a small CPU model: intra-op threads scale poorly at this size. Under
    torchrun (WORLD_SIZE > 1) every rank trains the runs one after another, together.
    """
    check_backbone_source(settings.rtmpose.student_backbone)
    init_distributed(settings.train.device)  # a checkpoint is fetched once, by rank 0 (`backbone_checkpoint`)
    backbones = student_backbones(settings, group, backbone_sources(backbone_dirs))
    jobs = group_jobs(settings, group)
    workers = 1 if int(os.environ.get("WORLD_SIZE", "1")) > 1 else max(1, min(settings.train.workers, len(jobs)))
    train = replace(settings.train, num_threads=max(1, settings.train.num_threads // workers),
                    fit=replace(settings.train.fit, progress=settings.train.fit.progress and workers == 1))
    train_one = partial(_group_run, replace(settings, train=train), group, paths, backbones, teacher)
    for line in ordered_map(train_one, longest_first(settings, group, jobs), f"{group} runs", workers=workers,
                            unit="run"):
        print(line, flush=True)


def longest_first(settings: Settings, group: str, jobs: list[Job]) -> list[Job]:
    """`jobs` in decreasing expected run time, so the pool does not end on one long run beside an idle worker
    (longest-processing-time order): from-scratch runs first (they take longest to converge), then larger
    architectures; KTL variants by their extra head passes (FI, RI), then their distillation terms. Stable: the seeds
    of one key keep their order."""
    def cost(job: Job) -> tuple:
        key, _, scratch = job
        if group == "ktl":
            flags = settings.train.ktl["variants"][key]
            return scratch, flags["fi"] + flags["ri"], flags["fd"] + flags["ld"]
        return scratch, ARCHS[key][1] if group == "supervised" else 0  # by width

    return sorted(jobs, key=cost, reverse=True)  # reverse keeps the sort stable


def _group_run(settings: Settings, group: str, paths: GroupPaths, backbones: Backbones,
               teacher: Path | None, job: Job) -> str:
    key, seed, scratch = job
    name = run_name(group, key, seed, scratch)
    start = time.perf_counter()
    if group == "supervised":
        summary = run_supervised(settings, key, seed, backbones, paths.of(name), scratch)
    elif group == "ktl":
        summary = run_ktl(settings, key, seed, teacher, backbones, paths.of(name), scratch)
    else:
        summary = run_mcl(settings, key, seed, teacher / run_name("ktl", key, seed), backbones, paths.of(name))
    state = "converged" if summary["convergence"]["converged"] else "NOT converged"
    return (f"{name}: best val NME {summary['best_val_nme']:.4f} (epoch {summary['best_epoch']} of "
            f"{summary['epochs_run']}, {state}), {time.perf_counter() - start:.0f} s at "
            f"{settings.train.num_threads} thread(s)")


def run_mcl(settings: Settings, variant: str, seed: int, teacher_dir: Path, backbones: Backbones,
            paths: RunPaths) -> dict:
    """One Model Compression Level run, the frozen KTL model (`teacher_dir`) -> a smaller thermal student (eq. 9)."""
    device = setup(settings, seed)
    size = settings.rtmpose.input_size
    student, init = build_student(settings, settings.rtmpose.mcl_arch, backbones)
    student = student.to(device)
    teacher = load_run(teacher_dir).to(device)
    distill = DistillConfig(fd=True, ld=True, fi=False, ri=False, kp_weight=kp_weight(settings.train),
                            **settings.train.mcl["weights"])
    task = DistillTask(student, teacher, distill).to(device)
    cfg = _fit_config(settings, seed)
    history = fit_mcl(student, teacher, task, _tfake(settings, paths.tfake, paired=False), cfg, desc=paths.out.name)
    config = {"kind": "mcl", "variant": variant, "arch": student.cfg.arch, "seed": seed, "init": init,
              "scratch": False, "teacher": teacher_dir.name, "teacher_arch": teacher.cfg.arch, "modality": "thermal",
              "input_size": size, "distill": asdict(distill), "fit": asdict(cfg)}
    return _finish(paths, student, config, history)


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
               "epochs_run": len(history["epochs"]), "convergence": history["convergence"],
               "gradient_shares": history["gradient_shares"]}
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
