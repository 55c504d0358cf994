"""DVC as `make repro` runs it (tools/pipeline/dvc_cli.py): the lock through libyaml, passive OpenMP waits, each stage
timed."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.tools.pipeline.dvc_cli import LockText, dump_lock

SRC = str(Path(__file__).resolve().parents[2] / "src")
QUICK = [sys.executable, "-m", "thermbench.tools.pipeline.dvc_cli"]
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


def _typed(node):
    """`node` with every value's type beside it: 1, 1.0 and True compare unequal."""
    if isinstance(node, dict):
        return ("dict", [(k, _typed(v)) for k, v in node.items()])
    if isinstance(node, list):
        return ("list", [_typed(v) for v in node])
    return (type(node).__name__, node)


def _written(write, data) -> str:
    stream = io.StringIO()
    write(data, stream)
    return stream.getvalue()


def test_the_held_lock_writes_what_a_whole_dump_writes_and_reads_back_what_yaml_reads():
    entry = {"cmd": "python s.py --lr 0.01", "deps": [{"path": "a.py", "md5": "0123", "size": 7}],
             "params": {"params.yaml": {"lr": 0.01, "on": True, "seeds": [0, 1], "none": None, "date": "2026-11-28",
                                        "number_like": "1e3", "one": 1.0}}}
    text = _written(dump_lock, {"schema": "2.0", "stages": {"a": entry, "b@x": {**entry, "cmd": "python b.py"}}})
    held, parsed = LockText(), []

    def parse(t):
        parsed.append(t)
        return yaml.safe_load(t)

    data = held.load(text, parse)
    data["stages"]["a"]["cmd"] = "changed"  # DVC changes what it reads: the next read is a fresh copy
    assert _typed(held.load(text, parse)) == _typed(yaml.safe_load(text)) and parsed == [text]

    data["stages"]["c"] = {**entry, "cmd": "python c.py"}  # DVC adds one stage, as an OrderedDict may hold it
    written = _written(held.dump, data)
    assert written == _written(dump_lock, data)
    assert len(held.entries) == 4  # the schema line and three entries, each rendered once
    data["stages"]["c"]["cmd"] = "python c.py --again"
    again = _written(held.dump, data)
    assert again == _written(dump_lock, data) and len(held.entries) == 5  # only the changed entry rendered anew
    assert _typed(held.load(again, parse)) == _typed(yaml.safe_load(again)) and parsed == [text]  # not parsed again
    assert _written(held.dump, {"schema": "2.0", "stages": {}}) == "schema: '2.0'\nstages: {}\n"


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


# --beside: a stage that burns `seconds` of CPU, writes its output from its deps' and logs when it ran (log/NAME: start
# and end, written last). A name starting with "t" measures time: its output is under metrics/timing/.
BESIDE_STAGE = """import json, os, sys, time
name, seconds = sys.argv[1], float(sys.argv[2])
deps = [a for a in sys.argv[3:] if a != "--fail"]
start, t = time.time(), time.process_time()
while time.process_time() - t < seconds:
    pass
if "--fail" in sys.argv:
    sys.exit(3)
text = name + "".join(open(d).read() for d in deps)
out = f"metrics/timing/{name}.json" if name.startswith("t") else f"{name}.txt"
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write(json.dumps(text) if name.startswith("t") else text)
os.makedirs("log", exist_ok=True)
open(f"log/{name}", "w").write(f"{start} {time.time()}")
"""


def _beside_project(root: Path, seconds: dict[str, float], fail: str = "") -> Path:
    """Stages a and b (independent), c (after both) and t (independent, measures time)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stage.py").write_text(BESIDE_STAGE)

    def stage(name, deps=()):
        out = f"metrics/timing/{name}.json" if name.startswith("t") else f"{name}.txt"
        # a compound command, which every shell runs as its child (dash does so for any): stopping the shell alone
        # would leave the command running
        cmd = f"python stage.py {name} {seconds[name]}" + "".join(f" {d}" for d in deps) + (
            " --fail" if name == fail else "") + " && true"
        return {"cmd": cmd, "deps": ["stage.py", *deps], "outs": [out]}

    stages = {"a": stage("a"), "b": stage("b"), "t": stage("t"), "c": stage("c", ["a.txt", "b.txt"])}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    subprocess.run([*PLAIN, "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def _ran(root: Path, name: str) -> tuple[float, float]:
    start, end = (root / "log" / name).read_text().split()
    return float(start), float(end)


def _overlap(one: tuple[float, float], other: tuple[float, float]) -> bool:
    return one[0] < other[1] and other[0] < one[1]


def test_beside_runs_ready_stages_two_at_a_time_and_records_them_as_dvc_does(tmp_path):
    project = _beside_project(tmp_path, {"a": 0.6, "b": 0.6, "c": 0.1, "t": 0.3})
    done = subprocess.run([*QUICK, "--beside", "repro"], cwd=project, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "beside" in done.stderr
    assert (project / "c.txt").read_text() == "cab"
    assert _overlap(_ran(project, "a"), _ran(project, "b"))
    assert not any(_overlap(_ran(project, "t"), _ran(project, n)) for n in "abc")  # a timing stage runs alone
    status = subprocess.run([*PLAIN, "status"], cwd=project, env=_env(), capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
    timings = json.loads((project / "metrics/timing/stages.json").read_text())["stages"]
    assert timings["a"]["beside"] == ["b"] and timings["b"]["beside"] == ["a"] and "beside" not in timings["t"]
    for name in "ab":  # each its own CPU: about its burn, not both
        assert 0.5 <= timings[name]["cpu_s"] <= 1.0, timings[name]
    # what ran beside is in the cache as DVC puts any output there
    (project / "b.txt").unlink()
    subprocess.run([*PLAIN, "checkout", "-q", "b.txt"], cwd=project, env=_env(), check=True)
    assert (project / "b.txt").read_text() == "b"


def test_beside_records_outputs_that_match_the_lock_of_a_fresh_clone(tmp_path):
    """A fresh clone: dvc.lock holds the outputs, no cache holds them; the stage run beside makes them identical to
    the lock, and DVC still puts them in the cache."""
    project = _beside_project(tmp_path, {"a": 0.3, "b": 0.3, "c": 0.1, "t": 0.1})
    subprocess.run([*PLAIN, "repro", "-q"], cwd=project, env=_env(), check=True)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    for name in ("a.txt", "b.txt", "c.txt", ".dvc/cache", "log"):
        subprocess.run(["rm", "-rf", str(project / name)], check=True)
    subprocess.run([*QUICK, "--beside", "repro", "-q"], cwd=project, env=_env(), check=True)
    assert yaml.safe_load((project / "dvc.lock").read_text()) == lock
    for name in ("a.txt", "b.txt"):
        (project / name).unlink()
    subprocess.run([*PLAIN, "checkout", "-q"], cwd=project, env=_env(), check=True)
    assert (project / "b.txt").read_text() == "b"


def test_beside_a_failure_beside_fails_the_run_and_a_failure_stops_what_runs_beside(tmp_path):
    first = _beside_project(tmp_path / "one", {"a": 0.3, "b": 0.3, "c": 0.1, "t": 0.1}, fail="b")
    done = subprocess.run([*QUICK, "--beside", "repro"], cwd=first, env=_env(), capture_output=True, text=True)
    assert done.returncode != 0 and "failed to run: python stage.py b" in done.stderr
    assert not (first / "c.txt").exists()
    second = _beside_project(tmp_path / "two", {"a": 0.2, "b": 30, "c": 0.1, "t": 0.1}, fail="a")
    done = subprocess.run([*QUICK, "--beside", "repro"], cwd=second, env=_env(), capture_output=True, text=True,
                          timeout=25)
    assert done.returncode != 0 and not (second / "log" / "b").exists()
