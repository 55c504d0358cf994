"""Repair a dvc.lock that an interrupt left unreadable: `make repro` and `make publish` run this first.

DVC rewrites dvc.lock in place after each stage (it opens the file for writing, which empties it, then writes the
whole lock), so an interrupt in that moment leaves it empty or cut short, and from then on every DVC command fails on
it ("'./dvc.lock' validation failed"). A lock that libyaml cannot parse, or that fails DVC's own lock-file schema, is
restored from git HEAD: the stages run since that commit are then out of date, and the next `dvc repro` runs them
again. Without a committed lock it is removed, and every stage runs again. Says what it did in one line; a readable
lock is left alone, silently.

    python -m thermbench.tools.pipeline.repair_lock
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from thermbench.core.io import write_text
from thermbench.core.stage import run as run_stage

LOCK = "dvc.lock"


def problem(text: str) -> str | None:
    """Why DVC could not read a lock file holding `text`, in a few words; None when it can."""
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from voluptuous import Invalid

    if not text.strip():
        return "empty"
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)  # libyaml: DVC's own ruamel parse takes seconds on ~400 kB
    except yaml.YAMLError:
        return "cut short (not valid YAML)"
    try:
        COMPILED_LOCKFILE_SCHEMA(data)
    except Invalid:
        return "not a DVC lock file"
    return None


def repair(root: Path = Path(".")) -> str | None:
    """Restore an unreadable `root`/dvc.lock (see the module docstring); the line saying what was done, or None."""
    lock = root / LOCK
    if not lock.is_file():
        return None
    why = problem(lock.read_text(errors="replace"))
    if why is None:
        return None
    head = subprocess.run(["git", "-C", str(root), "show", f"HEAD:./{LOCK}"], capture_output=True, text=True)
    if head.returncode != 0 or problem(head.stdout) is not None:
        lock.unlink()
        return f"{LOCK} was {why} (an interrupt while DVC wrote it) and git HEAD has no readable one: removed it; " \
               "the next `dvc repro` runs every stage"
    write_text(lock, head.stdout)
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"{LOCK} was {why} (an interrupt while DVC wrote it): restored from git HEAD ({commit.stdout.strip()}); " \
           "the stages run since that commit run again"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    done = repair()
    if done:
        print(done, file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
