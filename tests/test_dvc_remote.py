"""A team's DVC remote, as the README's "Sharing results" section runs it: one machine reproduces and pushes to a
remote (here a local folder), a fresh clone pulls, and finds every stage up to date: `dvc status` clean, `dvc repro`
runs nothing and the pulled outputs are the pushed ones byte for byte. The smoke profile's CHARLOTTE chain (raw ->
prepare -> stats) stands in for the whole DAG: two cached folders that the pull must restore, and a metrics file
committed to git that must not make the stage look changed."""

import os
import subprocess
import sys
from pathlib import Path

from thermbench.tools.regression import copy_worktree

ROOT = Path(__file__).resolve().parents[1]
TARGET = "stats@charlotte"
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@example.org"}


def run(cwd: Path, *cmd: str) -> str:
    env = {**os.environ, **GIT_ID, "PYTHONPATH": str(cwd / "src"), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def dvc(cwd: Path, *args: str) -> str:
    return run(cwd, sys.executable, "-m", "dvc", *args)


def test_push_then_a_fresh_clone_pulls_and_reproduces_nothing(tmp_path):
    trainer, laptop, remote = tmp_path / "trainer", tmp_path / "laptop", tmp_path / "remote"
    copy_worktree(ROOT, trainer)
    run(trainer, "git", "init", "-q")
    run(trainer, sys.executable, "-m", "thermbench.tools.profiles", "smoke", "--force")
    dvc(trainer, "repro", TARGET)
    dvc(trainer, "remote", "add", "-d", "team", str(remote))
    dvc(trainer, "push", TARGET, "--with-deps")
    assert any(p.is_file() for p in remote.rglob("*"))
    run(trainer, "git", "add", "-A")
    run(trainer, "git", "commit", "-q", "-m", "smoke CHARLOTTE chain")

    run(tmp_path, "git", "clone", "-q", str(trainer), str(laptop))
    assert not (laptop / "data/prepared/charlotte").exists()  # data is in the remote, not in git
    dvc(laptop, "pull", TARGET, "--with-deps")
    assert "Data and pipelines are up to date." in dvc(laptop, "status", TARGET, "--with-deps")
    repro = dvc(laptop, "repro", TARGET)
    assert "Running stage" not in repro and f"Stage '{TARGET}' didn't change" in repro
    for folder in ("data/raw/charlotte", "data/prepared/charlotte"):
        pushed = sorted(p.relative_to(trainer) for p in (trainer / folder).rglob("*") if p.is_file())
        pulled = sorted(p.relative_to(laptop) for p in (laptop / folder).rglob("*") if p.is_file())
        assert pulled == pushed and pushed
        assert all((laptop / p).read_bytes() == (trainer / p).read_bytes() for p in pushed)
