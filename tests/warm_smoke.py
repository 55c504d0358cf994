"""A project copy that starts from a warm smoke run (its results, its lock and its DVC cache), so that a test runs
only the stages its own edit makes stale: THERMBENCH_WARM_SMOKE names a smoke-profile project after `dvc repro`, e.g.
the copy `python -m thermbench.tools.gates.regression --keep` leaves (`<scratch>/project`); `make test` sets it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thermbench.tools.gates.regression import copy_worktree, stage_env

ROOT = Path(__file__).resolve().parents[1]
WARM = Path(os.environ.get("THERMBENCH_WARM_SMOKE", "/nonexistent"))
DVC = (sys.executable, "-m", "dvc")

needs_warm_smoke = pytest.mark.skipif(
    not (WARM / "dvc.lock").is_file() or not (WARM / ".dvc" / "cache").is_dir(),
    reason="no warm smoke copy: set THERMBENCH_WARM_SMOKE to a smoke project after `dvc repro` "
           "(`python -m thermbench.tools.gates.regression --keep` leaves one)")


def runner(repo: Path, env: dict[str, str]):
    """`run(*cmd, env=env)`: the command in `repo`, its stdout, or a failed assertion with the end of its output."""
    def run(*cmd, env=env):
        done = subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"`{' '.join(cmd)}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    return run


def warm_copy(repo: Path):
    """This working tree at `repo` on the smoke profile, with the warm copy's results, lock and cache (nothing upstream
    re-runs) and committed to a git repository of its own: (the stages' environment, `runner`'s run)."""
    copy_worktree(ROOT, repo)
    env = stage_env(repo)
    run = runner(repo, env)
    run(sys.executable, "-m", "thermbench.tools.pipeline.profiles", "smoke", "--force")
    for name in ("metrics", "plots"):
        shutil.rmtree(repo / name, ignore_errors=True)
        shutil.copytree(WARM / name, repo / name)
    shutil.copy2(WARM / "dvc.lock", repo / "dvc.lock")
    run("git", "init", "-q")
    run("git", "config", "user.email", "test@example.com")
    run("git", "config", "user.name", "test")
    run(*DVC, "config", "--local", "cache.dir", str(WARM / ".dvc" / "cache"))
    run(*DVC, "checkout", "-q", "--allow-missing")  # an output the warm copy never made re-runs, not fails
    run("git", "add", "-A")
    run("git", "commit", "-qm", "warm smoke")
    return env, run
