"""Where an MLCM-KD run's files lie under an output root (models, metrics, curves, predictions).

Run names: `teacher`, `supervised-<arch>-seed<k>`, `ktl-<variant>-seed<k>`, `mcl-<variant>`. The supervised and KTL
runs are trained many to a stage (several at once, one per core), and a DVC stage owns whole folders, so those runs
sit one folder down, in `<root>/supervised/` and `<root>/ktl/`; the teacher and MCL runs lie at the root.
"""

from __future__ import annotations

from pathlib import Path

GROUPS = ("supervised", "ktl")


def run_name(group: str, key: str, seed: int) -> str:
    """The name of run `key` (an architecture or a KTL variant) of a multi-run group at student seed `seed`."""
    return f"{group}-{key}-seed{seed}"


def group_of(name: str) -> str | None:
    """The multi-run group a run name belongs to, or None (teacher, MCL)."""
    head = name.split("-", 1)[0]
    return head if head in GROUPS else None


def run_path(root: Path, name: str, suffix: str = "") -> Path:
    """`<root>/[<group>/]<name><suffix>`, e.g. run_path(metrics, "ktl-dikd-seed0", ".json")."""
    group = group_of(name)
    return (Path(root) / group if group else Path(root)) / f"{name}{suffix}"
