"""Seed repeats of MLCM-KD runs: retrain chosen KTL variants and supervised archs with other student seeds.

Each repeat trains exactly as its stage would with `-S seed=<s>` (stages/mlcmkd/ktl.py, stages/mlcmkd/supervised.py),
except that KTL keeps the pipeline's frozen teacher (trained with the base seed), so only the student's seed varies.
Nothing is saved: the model is scored in memory with `evaluate.evaluate_model`, as evaluate_nme scores a checkpoint.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.stage import seed_everything
from thermbench.mlcmkd import runs as mlcmkd
from thermbench.mlcmkd.evaluate import evaluate_model
from thermbench.models.rtmpose import ARCHS, RTMPose

RUN_METRICS = {"tfake_nme": ("tfake", "nme"), "charlotte_full_nme": ("charlotte", "full", "nme")}


def run_names(settings: mlcmkd.Settings) -> list[str]:
    """The runs train.repeats retrains: `ktl-<variant>` for its variants, `supervised-<arch>` for its archs."""
    rep, known = settings.train.repeats, settings.train.ktl["variants"]
    for v in rep["variants"]:
        if v not in known:
            raise InputError(f"params.yaml: train.repeats.variants: '{v}' is not in train.ktl.variants")
    for a in rep["supervised"]:
        if a not in ARCHS:
            raise InputError(f"params.yaml: train.repeats.supervised: unknown arch '{a}'")
    return [f"ktl-{v}" for v in rep["variants"]] + [f"supervised-{a}" for a in rep["supervised"]]


def repeat_seeds(settings: mlcmkd.Settings) -> list[int]:
    """train.repeats.seeds: distinct, and never the base seed (whose numbers come from the pipeline's own runs)."""
    seeds = [int(s) for s in settings.train.repeats["seeds"] or []]
    base = settings.seed
    if base in seeds or len(set(seeds)) != len(seeds):
        raise InputError(f"params.yaml: train.repeats.seeds {seeds} must be distinct and exclude the base seed {base}")
    return seeds


def train_run(settings: mlcmkd.Settings, run: str, seed: int, prepared: Path, teacher_dir: Path,
              device: torch.device) -> RTMPose:
    """Train `run` (`ktl-<variant>` or `supervised-<arch>`) with student seed `seed`; returns the trained model."""
    settings = settings.with_seed(seed)  # fit_config reads the seed from here (shuffling, augmentation)
    seed_everything(seed)  # as mlcmkd.setup does before the stage builds its model: the initial weights
    kind, name = run.split("-", 1)
    if kind == "supervised":
        return mlcmkd.train_supervised(settings, name, prepared, device)[0]
    return mlcmkd.train_ktl(settings, name, prepared, teacher_dir, device)[0]


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


NOT_RUN = "not run (train.repeats.seeds is empty); run them with `dvc exp run -S 'train.repeats.seeds=[1,2]'`"


def run_repeats(settings: mlcmkd.Settings, tfake: Path, charlotte: Path, teacher_dir: Path, base_metrics: Path,
                out: Path) -> None:
    """Stage repeats: retrain the chosen runs with each repeat seed and score them in memory; summary to `out`."""
    names, seeds = run_names(settings), repeat_seeds(settings)
    if not seeds:
        write_json(out, {"status": NOT_RUN, "seeds": []})
        print(NOT_RUN)
        return
    device = mlcmkd.setup(settings)
    base, batch = settings.seed, int(settings.train.fit["batch_size"])
    runs = {n: {base: run_numbers(read_json(base_metrics / f"{n}.json"))} for n in names}
    for seed in seeds:
        for name in names:
            start = time.perf_counter()
            model = train_run(settings, name, seed, tfake, teacher_dir, device)
            runs[name][seed] = run_numbers(evaluate_model(model, tfake, charlotte, batch)[0])
            scores = ", ".join(f"{k} {v:.4f}" for k, v in runs[name][seed].items())
            print(f"{name} seed {seed}: {scores} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    write_json(out, {"status": "ran", "base_seed": base, "seeds": seeds, "runs": runs, "summary": aggregate(runs)})
    print(f"{out}: {len(names)} runs x {len(seeds)} repeat seeds")
