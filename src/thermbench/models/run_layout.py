"""Where an MLCM-KD run's files lie under an output root (models, metrics, curves, predictions).

Run names: `teacher`, `pretrain-<arch>`, `supervised-<arch>[-scratch]-seed<k>`, `ktl-<variant>[-scratch]-seed<k>`,
`mcl-<variant>-seed<k>` (`-scratch`: the from-scratch pair, random initial weights). A DVC stage owns whole folders:
the pretrained backbones are trained in one stage, into `<root>/pretrain/` (`<root>/pretrain/pretrain-t`); the
supervised, KTL and MCL runs in one stage per architecture or variant (its key), into `<root>/<group>/<key>/`
(`<root>/ktl/dikd/ktl-dikd-seed0`, from-scratch runs beside their key's); the teacher lies at the root.
"""

from __future__ import annotations

import re
from pathlib import Path

GROUPS = ("pretrain", "supervised", "ktl", "mcl")
SCRATCH = "-scratch"
_KEYED = re.compile(rf"^(supervised|ktl|mcl)-(.+?)(?:{SCRATCH})?-seed\d+$")


def run_name(group: str, key: str, seed: int, scratch: bool = False) -> str:
    """The name of run `key` (an architecture or a variant) of a multi-run group at student seed `seed`."""
    return f"{group}-{key}{SCRATCH if scratch else ''}-seed{seed}"


def group_of(name: str) -> str | None:
    """The multi-run group a run name belongs to, or None (teacher, pretrained backbones)."""
    head = name.split("-", 1)[0]
    return head if head in GROUPS else None


def run_folder(name: str) -> Path:
    """The folder of run `name` relative to an output root: `<group>/<key>` (supervised, KTL, MCL runs),
    `pretrain`, or the root itself."""
    keyed = _KEYED.match(name)
    if keyed:
        return Path(keyed[1]) / keyed[2]
    group = group_of(name)
    return Path(group) if group else Path()


def run_path(root: Path, name: str, suffix: str = "") -> Path:
    """`<root>/<run_folder>/<name><suffix>`, e.g. run_path(metrics, "ktl-dikd-seed0", ".json") is
    `<metrics>/ktl/dikd/ktl-dikd-seed0.json`."""
    return Path(root) / run_folder(name) / f"{name}{suffix}"
