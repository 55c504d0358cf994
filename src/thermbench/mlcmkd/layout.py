"""Where an MLCM-KD run's files lie under an output root (models, metrics, curves, predictions).

Run names: `teacher`, `pretrain-<arch>`, `supervised-<arch>[-scratch]-seed<k>`, `ktl-<variant>[-scratch]-seed<k>`,
`mcl-<variant>-seed<k>` (`-scratch`: the from-scratch pair, random initial weights). The pretrained backbones,
supervised, KTL and MCL runs are trained many to a stage, and a DVC stage owns whole folders, so those runs sit one
folder down, in `<root>/<group>/` (`<root>/pretrain/pretrain-t`); the teacher lies at the root.
"""

from __future__ import annotations

from pathlib import Path

GROUPS = ("pretrain", "supervised", "ktl", "mcl")
SCRATCH = "-scratch"


def run_name(group: str, key: str, seed: int, scratch: bool = False) -> str:
    """The name of run `key` (an architecture or a variant) of a multi-run group at student seed `seed`."""
    return f"{group}-{key}{SCRATCH if scratch else ''}-seed{seed}"


def group_of(name: str) -> str | None:
    """The multi-run group a run name belongs to, or None (teacher, pretrained backbones)."""
    head = name.split("-", 1)[0]
    return head if head in GROUPS else None


def run_path(root: Path, name: str, suffix: str = "") -> Path:
    """`<root>/[<group>/]<name><suffix>`, e.g. run_path(metrics, "ktl-dikd-seed0", ".json")."""
    group = group_of(name)
    return (Path(root) / group if group else Path(root)) / f"{name}{suffix}"
