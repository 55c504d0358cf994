"""The supervised, KTL and MCL runs: which runs a group has, and training one key's runs side by side.

A group's key is an architecture (supervised) or a variant (KTL, MCL); each key is one DVC stage (`supervised@t`,
`ktl@dikd`, `mcl@dikd`) training its runs: the key at every student seed, and, where the key is in `train.scratch`,
its from-scratch runs. Its files lie in `<root>/<group>/<key>/` (`layout`).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

from thermbench.core.io import InputError
from thermbench.core.parallel import available_cores, ordered_map
from thermbench.mlcmkd.backbones import Backbones, backbone_sources, check_backbone_source, student_backbones
from thermbench.mlcmkd.distributed import init_distributed
from thermbench.mlcmkd.run_outputs import GroupPaths
from thermbench.mlcmkd.runs import run_ktl, run_mcl, run_supervised
from thermbench.mlcmkd.settings import Settings, TrainParams
from thermbench.models.rtmpose import ARCHS
from thermbench.models.run_layout import run_name

Job = tuple[str, int, bool]  # (architecture or variant, seed, from scratch)

KEYS_PARAM = {"supervised": "rtmpose.supervised_archs", "ktl": "train.ktl.runs", "mcl": "train.mcl.variants"}


def group_keys(settings: Settings, group: str) -> tuple:
    """The architectures (supervised) or variants (KTL, MCL) of a group, as params list them."""
    if group == "supervised":
        return tuple(settings.rtmpose.supervised_archs)
    if group in ("ktl", "mcl"):  # a student stage reads its own group's section of `train` only
        return tuple(settings.train.ktl.runs if group == "ktl" else settings.train.mcl.variants)
    raise ValueError(f"unknown run group '{group}'")


def group_jobs(settings: Settings, group: str) -> list[Job]:
    """Every run of group `supervised`, `ktl` or `mcl`, in table order: each architecture (supervised) or variant
    (KTL, MCL) at every student seed, those are the compared methods; then the from-scratch pair (`train.scratch`)
    at its seeds (`train.scratch_seeds`). MCL run k compresses the KTL run of its variant and seed k. A from-scratch
    key with seeds to train must be one of the group's keys: its runs train in that key's stage."""
    seeds = list(settings.train.seeds)
    keys = group_keys(settings, group)
    scratch = getattr(settings.train.scratch, group, ())
    stray = [key for key in scratch if key not in keys]
    if stray and settings.train.scratch_seeds:
        raise InputError(f"params.yaml: train.scratch.{group} has {', '.join(map(str, stray))}, not in "
                         f"{KEYS_PARAM[group]} ({', '.join(map(str, keys))}): a from-scratch run trains beside its key")
    return ([(key, seed, False) for key in keys for seed in seeds]
            + [(key, seed, True) for key in scratch for seed in settings.train.scratch_seeds])


def key_jobs(settings: Settings, group: str, key: str) -> list[Job]:
    """The runs of one key of a group (`group_jobs` order): its seeds, then its from-scratch seeds."""
    if key not in group_keys(settings, group):
        raise InputError(f"params.yaml: {KEYS_PARAM[group]} has no '{key}' "
                         f"({', '.join(map(str, group_keys(settings, group)))})")
    return [job for job in group_jobs(settings, group) if job[0] == key]


def group_run_names(settings: Settings, group: str) -> list[str]:
    """Run names of `group_jobs`."""
    return [run_name(group, key, seed, scratch) for key, seed, scratch in group_jobs(settings, group)]


def student_arch(settings: Settings, group: str, key: str) -> str:
    """The size of a `group_jobs` key's student: the key itself (supervised) or the group's (KTL, MCL)."""
    return {"supervised": key, "ktl": settings.rtmpose.ktl_arch, "mcl": settings.rtmpose.mcl_arch}[group]


def student_archs(settings: Settings, group: str, jobs: list[Job] | None = None) -> list[str]:
    """The sizes of the students that start from a pretrained backbone, in `jobs` (default: the whole group)."""
    jobs = group_jobs(settings, group) if jobs is None else jobs
    return [student_arch(settings, group, key) for key, _, scratch in jobs if not scratch]


def run_key(settings: Settings, group: str, key: str, paths: GroupPaths, backbone_dirs: list[Path],
            teacher: Path | None = None) -> None:
    """Stages supervised@<arch>, ktl@<variant> and mcl@<variant>: every run of one key of the group (`key_jobs`),
    `pool_size` processes at a time, into the key's folders (`paths`). `backbone_dirs`: the RGB-pretrained models
    whose backbones students start from (`build_student`); `teacher`: KTL's RGB teacher model, or MCL's folder of
    the KTL models of its variant (run k distils ktl-<variant>-seed<k>).

    Runs are independent and seeded, so a run's result depends on its torch thread count, `train.run_threads`
    (recorded in its config), but not on which process trains it, in what order, or how many runs its key has. Two
    one-thread runs side by side beat one two-thread run after another on a small CPU model: intra-op threads scale
    poorly at this size.
    Under torchrun (WORLD_SIZE > 1) every rank trains the runs one after another, together.
    """
    check_backbone_source(settings.rtmpose.student_backbone)
    init_distributed(settings.train.device)  # a checkpoint is fetched once, by rank 0 (`backbone_checkpoint`)
    jobs = key_jobs(settings, group, key)
    backbones = student_backbones(settings, student_archs(settings, group, jobs), backbone_sources(backbone_dirs))
    workers = pool_size(settings.train, len(jobs))
    train = replace(settings.train, num_threads=settings.train.run_threads,
                    fit=replace(settings.train.fit, progress=settings.train.fit.progress and workers == 1))
    train_one = partial(_run_job, replace(settings, train=train), group, paths, backbones, teacher)
    for line in ordered_map(train_one, longest_first(settings, group, jobs), f"{group}-{key} runs", workers=workers,
                            unit="run"):
        print(line, flush=True)


def pool_size(train: TrainParams, runs: int) -> int:
    """How many of a stage's `runs` train at once: `train.workers`, or where it is None as many as the available
    cores hold at `train.run_threads` threads each; at least 1, at most `runs`; 1 under torchrun (WORLD_SIZE > 1),
    where every rank trains the runs one after another, together."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    wanted = train.workers if train.workers is not None else available_cores() // train.run_threads
    return max(1, min(wanted, runs))


def longest_first(settings: Settings, group: str, jobs: list[Job]) -> list[Job]:
    """`jobs` in decreasing expected run time, so the pool does not end on one long run beside an idle worker
    (longest-processing-time order): from-scratch runs first (they take longest to converge), then larger
    architectures; KTL variants by their extra head passes (FI, RI), then their distillation terms. Stable: the seeds
    of one key keep their order."""
    def cost(job: Job) -> tuple:
        key, _, scratch = job
        if group == "ktl":
            flags = settings.train.ktl.variants[key]
            return scratch, flags.fi + flags.ri, flags.fd + flags.ld
        return scratch, ARCHS[key][1] if group == "supervised" else 0  # by width

    return sorted(jobs, key=cost, reverse=True)  # reverse keeps the sort stable


def _run_job(settings: Settings, group: str, paths: GroupPaths, backbones: Backbones,
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
