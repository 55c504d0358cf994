"""DVC as `make repro` runs it (tools/dvc_cli.py): the lock through libyaml, passive OpenMP waits, each stage timed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SRC = str(Path(__file__).resolve().parents[2] / "src")
QUICK = [sys.executable, "-m", "thermbench.tools.dvc_cli"]
PLAIN = [sys.executable, "-m", "dvc"]
# A stage that burns about BURN_S of CPU in a child process and records the OpenMP wait policy it was given.
STAGE = """import os, subprocess, sys, time
burn = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < {burn}: pass"
subprocess.run([sys.executable, "-c", burn])
open("out.txt", "w").write(os.environ.get("OMP_WAIT_POLICY", "unset"))
"""
BURN_S = 0.6


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "stage.py").write_text(STAGE.format(burn=BURN_S))
    cmd = "python stage.py " + " ".join(f"--argument-{i}" for i in range(12))  # longer than ruamel's 80 columns
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"burn": {"cmd": cmd, "deps": ["stage.py"],
                                                                           "outs": [{"out.txt": {"cache": False}}]}}}))
    subprocess.run([*PLAIN, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return {**env, "PYTHONPATH": SRC, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", **extra}


def test_a_lock_written_through_libyaml_reads_as_plain_dvcs_own(project):
    """One line a command where DVC's ruamel wraps at 80 columns; plain DVC then finds the DAG up to date, and its own
    lock holds the same data."""
    env = _env(OMP_WAIT_POLICY="PASSIVE")  # the stage's output the same under both
    subprocess.run([*QUICK, "repro", "-q"], cwd=project, env=env, check=True)
    written = (project / "dvc.lock").read_text()
    cmd = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["burn"]["cmd"]
    assert f"cmd: {cmd}\n" in written
    status = subprocess.run([*PLAIN, "status"], cwd=project, env=env, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
    (project / "dvc.lock").unlink()
    subprocess.run([*PLAIN, "repro", "--force", "-q"], cwd=project, env=env, check=True)
    own = (project / "dvc.lock").read_text()
    assert f"cmd: {cmd}\n" not in own and yaml.safe_load(own) == yaml.safe_load(written)


def test_a_broken_lock_reads_as_under_plain_dvc(project):
    (project / "dvc.lock").write_text("schema: '2.0'\nstages: [unclosed\n")
    own = subprocess.run([*PLAIN, "status"], cwd=project, env=_env(), capture_output=True, text=True)
    quick = subprocess.run([*QUICK, "status"], cwd=project, env=_env(), capture_output=True, text=True)
    assert own.returncode == quick.returncode == 1
    assert quick.stderr.splitlines()[0] == own.stderr.splitlines()[0] == "'./dvc.lock' is invalid."


def test_each_stage_run_is_timed_with_its_processes_cpu_and_openmp_waits_passively(project):
    subprocess.run([*QUICK, "repro", "-q"], cwd=project, env=_env(), check=True)
    assert (project / "out.txt").read_text() == "PASSIVE"
    timings = json.loads((project / "metrics/timing/stages.json").read_text())
    entry = timings["stages"]["burn"]
    assert entry["cpu_s"] >= BURN_S - 0.1  # the grandchild's CPU counts: it was waited for inside the stage
    assert entry["wall_s"] >= entry["cpu_s"] - 0.2 and entry["load_1m"] >= 0
    assert set(timings["machine"]) == {"cpu", "cores", "memory_gb"}
    subprocess.run([*QUICK, "repro", "-q"], cwd=project, env=_env(), check=True)  # up to date: nothing run, kept
    assert json.loads((project / "metrics/timing/stages.json").read_text()) == timings


def test_a_wait_policy_the_user_set_is_kept(project):
    subprocess.run([*QUICK, "repro", "-q"], cwd=project, env=_env(OMP_WAIT_POLICY="ACTIVE"), check=True)
    assert (project / "out.txt").read_text() == "ACTIVE"


def test_warm_stages_are_timed_with_the_cpu_of_the_process_the_server_forked(project):
    """Under --warm the stage runs in the server's child, not DVC's grandchild: its CPU comes back through the
    client."""
    subprocess.run([*QUICK, "--warm", "repro", "-q"], cwd=project, env=_env(), check=True)
    assert (project / "out.txt").read_text() == "PASSIVE"
    entry = json.loads((project / "metrics/timing/stages.json").read_text())["stages"]["burn"]
    assert entry["cpu_s"] >= BURN_S - 0.1
