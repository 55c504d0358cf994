"""Short CPU fits under params.yaml's own `train.fit`, as weight and history digests: whether a change to the training
code leaves every CPU number as it was.

    python -m thermbench.tools.gates.short_fits [--params params.yaml]

Three fits, each a few steps on random crops at 64 px (`step_audit.random_pairs`) with the params' fit settings but
for the epochs (2), the batch (4) and the per-step logs (2 gradient norms, 1 share batch): a supervised RTMPose-t,
an RTMPose-s distilled from an RTMPose-t teacher with DIKD as KTL (RGB twins) and an RTMPose-t from an RTMPose-s
teacher as MCL. For each it prints the first 16 hex digits of the sha256 of the trained weights (state dict, in key
order) and of the fit's history (its JSON). Run it before and after a change under the same kernel setting
(ATEN_CPU_CAPABILITY and the like): equal digests mean the change moved no CPU number of these code paths, which is
what carrying a kernel check over it (`conclusions/kernel_check.json`, `carried`) rests on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from thermbench.core.stage import build
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.step_audit import random_pairs
from thermbench.mlcmkd.train import FitConfig, fit_ktl, fit_mcl, fit_supervised
from thermbench.models.rtmpose import build_rtmpose

SIZE, CROPS, BATCH = 64, 8, 4
DIKD = DistillConfig(fd=True, ld=True, fi=True, ri=True)


def _model(arch: str, seed: int):
    torch.manual_seed(seed)
    return build_rtmpose(arch, input_size=(SIZE, SIZE))


def digest(model: torch.nn.Module, history: dict) -> tuple[str, str]:
    weights = hashlib.sha256()
    for name, value in model.state_dict().items():
        weights.update(name.encode() + b"\0" + value.detach().contiguous().cpu().numpy().tobytes())
    return weights.hexdigest()[:16], hashlib.sha256(json.dumps(history, sort_keys=True).encode()).hexdigest()[:16]


def short_fits(fit: FitConfig) -> dict[str, tuple[str, str]]:
    """Fit name -> (weights digest, history digest)."""
    cfg = replace(fit, epochs=2, batch_size=BATCH, grad_norm_steps=2, grad_norm_warmup=0, share_batches=1,
                  loader_workers=0, progress=False)
    data = {"train": random_pairs(CROPS, SIZE, 0), "val": random_pairs(CROPS // 2, SIZE, 1)}
    out = {}
    model = _model("t", 0)
    out["supervised-t"] = digest(model, fit_supervised(model, data, cfg))
    student, teacher = _model("s", 1), _model("t", 2)
    out["ktl-dikd-s"] = digest(student, fit_ktl(student, teacher, DistillTask(student, teacher, DIKD), data, cfg))
    student, teacher = _model("t", 3), _model("s", 4)
    out["mcl-dikd-t"] = digest(student, fit_mcl(student, teacher, DistillTask(student, teacher, DIKD), data, cfg))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    fit = build(FitConfig, {**yaml.safe_load(args.params.read_text())["train"]["fit"], "seed": 0}, "train.fit")
    torch.set_num_threads(1)
    for name, (weights, history) in short_fits(fit).items():
        print(f"{name}: weights {weights} history {history}")


if __name__ == "__main__":
    main()
