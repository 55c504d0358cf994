"""Seed repeats of MLCM-KD runs: retrain chosen KTL variants and supervised archs with other student seeds.

Each repeat trains exactly as its stage would with `-S seed=<s>` (stages/ktl.py, stages/supervised.py), except that
KTL keeps the pipeline's frozen teacher (trained with the base seed), so only the student's seed varies. Nothing is
saved: the model is scored in memory with `nme_eval.evaluate_model`, as evaluate_nme scores a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import InputError
from thermbench.core.stage import section, seed_everything
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.models.rtmpose import ARCHS, RTMPose

RUN_METRICS = {"tfake_nme": ("tfake", "nme"), "charlotte_full_nme": ("charlotte", "full", "nme")}


def run_names(params: dict) -> list[str]:
    """The runs `train.repeats` asks for (`ktl-<variant>`, `supervised-<arch>`), checked against the pipeline's."""
    rep = section(params, "train.repeats")
    known = section(params, "train.ktl.variants")
    for v in rep["variants"]:
        if v not in known:
            raise InputError(f"params.yaml: train.repeats.variants: '{v}' is not in train.ktl.variants")
    for a in rep["supervised"]:
        if a not in ARCHS:
            raise InputError(f"params.yaml: train.repeats.supervised: unknown arch '{a}'")
    return [f"ktl-{v}" for v in rep["variants"]] + [f"supervised-{a}" for a in rep["supervised"]]


def repeat_seeds(params: dict) -> list[int]:
    """`train.repeats.seeds`; the base `seed` is the pipeline's own run, so repeating it is an error."""
    seeds = [int(s) for s in section(params, "train.repeats.seeds") or []]
    base = int(section(params, "seed"))
    if base in seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"params.yaml: train.repeats.seeds {seeds} must be distinct and exclude the base seed {base}")
    return seeds


def train_run(params: dict, run: str, seed: int, prepared: Path, device: torch.device) -> RTMPose:
    """Train `run` (`ktl-<variant>` or `supervised-<arch>`) with student seed `seed`; returns the trained model."""
    params = {**params, "seed": seed}  # fit_config reads the seed from here (shuffling, augmentation)
    seed_everything(seed)  # as mlcmkd.setup does before the stage builds its model: the initial weights
    kind, name = run.split("-", 1)
    if kind == "supervised":
        return mlcmkd.train_supervised(params, name, prepared, device)[0]
    return mlcmkd.train_ktl(params, name, prepared, device)[0]


def run_numbers(result: dict) -> dict[str, float]:
    """The two headline NMEs of an evaluate_nme-shaped result (metrics/mlcmkd/<run>.json)."""
    out = {}
    for key, path in RUN_METRICS.items():
        node = result
        for k in path:
            node = node[k]
        out[key] = node
    return out


def aggregate(runs: dict[str, dict[int, dict[str, float]]]) -> dict[str, dict]:
    """Per run name: the seeds and, per metric, mean and sample sd (ddof 1; None for a single seed) over them."""
    out = {}
    for name, by_seed in runs.items():
        seeds = sorted(by_seed)
        summary: dict = {"seeds": seeds}
        for key in RUN_METRICS:
            values = np.array([by_seed[s][key] for s in seeds], dtype=np.float64)
            summary[key] = {"mean": float(values.mean()),
                            "sd": float(values.std(ddof=1)) if len(values) > 1 else None}
        out[name] = summary
    return out
