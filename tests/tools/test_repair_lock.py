"""Interrupts of `dvc repro`, with a real SIGINT to the process group (what Ctrl-C in a terminal sends), on a tiny DVC
project: at a stage's start one line comes from the stage, not a traceback; at its end, while DVC writes dvc.lock,
the lock is left empty (DVC truncates it, then writes), and `make repro`'s first step restores it in one line."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from thermbench.tools.gates.regression import stage_env
from thermbench.tools.pipeline.repair_lock import problem, repair

ROOT = Path(__file__).resolve().parents[2]
STAGE = """import os, pathlib, sys, time
from thermbench.core import stage

pathlib.Path("importing").write_text("")
time.sleep(float(os.environ.get("SLOW_IMPORT", "0")))  # as a real stage's seconds of torch imports before stage.run


def main():
    pathlib.Path("started").write_text("")
    time.sleep(float(os.environ.get("SLOW", "0")))
    pathlib.Path(sys.argv[2]).write_text(pathlib.Path(sys.argv[1]).read_text() + "+")


if __name__ == "__main__":
    stage.run(main)
"""
# DVC's command line, sending the terminal's SIGINT to its own process group once dvc.lock is open for writing (so
# already emptied) and before the lock is written: the moment the interrupt hit.
INTERRUPT_LOCK_WRITE = """import os, signal, sys, time
from dvc.cli import main
from dvc.utils.serialize import _common

dump = _common._dump_data


def interrupted_dump(path, data, dumper, fs=None, **kwargs):
    def write(data, stream, **kw):
        if os.path.basename(path) == "dvc.lock":
            os.killpg(0, signal.SIGINT)
            time.sleep(5)
        dumper(data, stream, **kw)
    return dump(path, data, write, fs=fs, **kwargs)


_common._dump_data = interrupted_dump
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def project(tmp_path):
    """Two stages, a -> b, run and committed."""
    (tmp_path / "stage.py").write_text(STAGE)
    (tmp_path / "in.txt").write_text("x")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "a": {"cmd": "python stage.py in.txt a.txt", "deps": ["stage.py", "in.txt"], "outs": ["a.txt"]},
        "b": {"cmd": "python stage.py a.txt b.txt", "deps": ["stage.py", "a.txt"], "outs": ["b.txt"]}}}))
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "repro", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "made"]):
        done = _run(tmp_path, cmd)
        assert done.returncode == 0, done.stderr
    return tmp_path


def _sigint_default() -> None:
    """In the child before exec: SIGINT to its default. A test run started in the background by a shell without job
    control inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(**extra) -> dict:
    return stage_env(ROOT, extra)


def _run(repo: Path, cmd: list[str], **env) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dvc", *cmd[1:]] if cmd[0] == "dvc" else cmd
    return subprocess.run(cmd, cwd=repo, env=_env(**env), capture_output=True, text=True)


def _status_clean(repo: Path) -> bool:
    done = _run(repo, ["dvc", "status", "--json"])
    return done.returncode == 0 and yaml.safe_load(done.stdout) == {}


@pytest.mark.parametrize("marker, slow", [("importing", "SLOW_IMPORT"), ("started", "SLOW")])
def test_sigint_at_a_stage_start_is_one_line_and_the_next_repro_finishes(project, marker, slow):
    """Interrupted while the stage imports (before stage.run), and once its main() has begun."""
    (project / "in.txt").write_text("y")
    (project / marker).unlink()
    repro = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=project, env=_env(**{slow: "60"}),
                             start_new_session=True, preexec_fn=_sigint_default, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (project / marker).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(repro.pid, signal.SIGINT)
    out, _ = repro.communicate(timeout=60)
    assert repro.returncode != 0
    assert "Traceback" not in out and out.count("interrupted") == 1, out
    assert out.splitlines()[2:] == ["interrupted", "ERROR: failed to reproduce 'a': failed to run: python stage.py "
                                    "in.txt a.txt, exited with -2"]
    assert problem((project / "dvc.lock").read_text()) is None and repair(project) is None
    assert _run(project, ["dvc", "repro", "-q"]).returncode == 0
    assert (project / "b.txt").read_text() == "y++" and _status_clean(project)


def test_sigint_while_dvc_writes_the_lock_is_repaired_in_one_line(project):
    committed = (project / "dvc.lock").read_text()
    (project / "in.txt").write_text("y")
    (project / "interrupt.py").write_text(INTERRUPT_LOCK_WRITE)
    repro = subprocess.run([sys.executable, str(project / "interrupt.py"), "repro"], cwd=project, env=_env(),
                           start_new_session=True, preexec_fn=_sigint_default, capture_output=True, text=True,
                           timeout=120)
    assert repro.returncode != 0 and "Traceback" not in repro.stdout + repro.stderr
    assert (project / "a.txt").read_text() == "y+"  # the stage ran; its lock entry was being written
    assert (project / "dvc.lock").read_text() == ""  # the fault the repair is for
    broken = _run(project, ["dvc", "status"])
    assert broken.returncode != 0 and "dvc.lock" in broken.stderr

    done = _run(project, [sys.executable, "-m", "thermbench.tools.pipeline.repair_lock"])  # `make repro` runs it first
    assert done.returncode == 0
    head = _run(project, ["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
    assert done.stderr == (f"dvc.lock was empty (an interrupt while DVC wrote it): restored from git HEAD ({head}); "
                           "the stages run since that commit run again\n")
    assert (project / "dvc.lock").read_text() == committed
    assert _run(project, ["dvc", "repro", "-q"]).returncode == 0
    assert (project / "b.txt").read_text() == "y++" and _status_clean(project)
    assert _run(project, [sys.executable, "-m", "thermbench.tools.pipeline.repair_lock"]).stderr == ""  # nothing to do


def test_a_lock_cut_short_or_foreign_is_told_apart_and_without_git_removed(tmp_path):
    assert problem("") == "empty" and problem("\n") == "empty"
    assert problem("schema: '2.0'\nstages:\n  a:\n    cmd: [unclosed") == "cut short (not valid YAML)"
    assert problem("stages: 3\n") == "not a DVC lock file"
    assert problem("schema: '2.0'\nstages:\n  a:\n    cmd: python a.py\n") is None
    (tmp_path / "dvc.lock").write_text("")
    assert repair(tmp_path).startswith("dvc.lock was empty (an interrupt while DVC wrote it) and git HEAD has no "
                                       "readable one: removed it")
    assert not (tmp_path / "dvc.lock").exists() and repair(tmp_path) is None
