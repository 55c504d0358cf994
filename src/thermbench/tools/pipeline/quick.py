"""`make quick`: the smoke profile end to end in a copy of this clone, in minutes, leaving the clone as it is.

The copy (QUICK, by default beside the clone: `<clone>-quick`) holds the clone's tracked and untracked files, shares
its `.venv/` (a link: nothing is installed again) and is a git repository of its own, so DVC's experiments work in it.
There, as a user would: `make profile P=smoke FORCE=1`, `make repro`, a commit of the run, `make publish DEST=post`.
Then `cd` there for `make exp-show`, `dvc exp run -S head.sigma=3.5` (`EXPERIMENT`) and the rest. The clone's
`git status` stays as it was: the committed default results are never touched. A QUICK folder from an earlier
`make quick` is replaced; any other folder that is not empty is refused.

    python -m thermbench.tools.pipeline.quick [--dest PATH]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from thermbench.core.io import InputError
from thermbench.tools.gates.regression import copy_worktree

MARK = ".thermbench-quick"  # in a folder `make quick` made: the next one may replace it
VENV = ".venv"

# a TinyHead training param whose change moves the smoke run's numbers: the smoke heads train 3 epochs from a zero
# last convolution, where Adam's steps scale with the lr and the heatmaps' argmax hardly moves; the target's width does
EXPERIMENT = ("head.sigma", "3.5")


def default_dest(repo: Path) -> Path:
    return repo.resolve().parent / f"{repo.resolve().name}-quick"


def prepare(repo: Path, dest: Path) -> None:
    """`dest` as a fresh copy of `repo`'s working tree with the clone's venv linked in; refuses a folder it did not
    make."""
    dest = dest.resolve()
    if dest == repo.resolve() or repo.resolve() in dest.parents:
        raise InputError(f"quick: {dest} is inside this clone; give a folder outside it (QUICK=...)")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / MARK).is_file():
            raise InputError(f"quick: {dest} exists and was not made by `make quick`; remove it or give another "
                             f"QUICK=...")
        shutil.rmtree(dest)
    if not (repo / VENV / "bin" / "python").is_file():
        raise InputError(f"quick: {repo / VENV} is not set up; run `make setup` first")
    copy_worktree(repo, dest)
    (dest / VENV).symlink_to((repo / VENV).resolve(), target_is_directory=True)
    (dest / MARK).write_text(f"made by `make quick` from {repo.resolve().name}\n")


def _run(cmd: list[str], cwd: Path) -> None:
    print(f"quick: $ {' '.join(cmd)}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, cwd=cwd)
    if done.returncode != 0:
        raise InputError(f"quick: `{' '.join(cmd)}` failed in {cwd} (exit {done.returncode}; its output is above)")


def quick(repo: Path, dest: Path) -> str:
    """Run the quick path into `dest`; returns what to read next."""
    start = time.monotonic()
    prepare(repo, dest)
    make = ["make", "-s", "-o", f"{VENV}/.installed"]
    git = ["git", "-c", "user.name=thermbench quick", "-c", "user.email=quick@localhost"]
    _run(["git", "init", "-q"], dest)
    _run([*make, "profile", "P=smoke", "FORCE=1"], dest)
    _run([*git, "add", "-A"], dest)
    _run([*git, "commit", "-q", "-m", "thermbench quick: the smoke profile"], dest)
    _run([*make, "repro"], dest)
    _run([*git, "add", "-A"], dest)
    _run([*git, "commit", "-q", "-m", "thermbench quick: the smoke run"], dest)
    _run([*make, "publish", "DEST=post"], dest)
    minutes = (time.monotonic() - start) / 60
    return (f"quick: the smoke profile ran end to end in {dest} ({minutes:.1f} min); this clone is unchanged.\n"
            f"  the post:      {dest / 'post' / '_markdown' / 'index.md'} (Quarto: {dest / 'post' / 'index.qmd'})\n"
            f"  the reports:   {dest / 'plots'} (leaderboard.md, conclusions.md, ...)\n"
            f"  experiments:   cd {dest} && source .venv/bin/activate && dvc exp run -S {'='.join(EXPERIMENT)} "
            "&& make exp-show\n"
            "  every number is from the synthetic world at smoke size: it shows the pipeline, not results.\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, help="the copy (default: beside the clone, <clone>-quick)")
    args = parser.parse_args(argv)
    repo = Path.cwd()
    print(quick(repo, args.dest or default_dest(repo)), end="")


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
