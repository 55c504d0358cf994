"""Stages forked from a warm interpreter behave as stages started fresh: argv, working directory, environment,
standard streams, exit status, `__main__`, sys.path, atexit, numbers."""

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thermbench.tools.pipeline.warm_stages import STOP_GRACE_S, stage_imports, warm_stages

SRC = str(Path(__file__).resolve().parents[2] / "src")

STAGE = '''import atexit
import json
import os
import sys

import torch

from helper import twice


def main():
    atexit.register(lambda: print("atexit ran", flush=True))
    torch.manual_seed(0)
    x = torch.randn(64, 64, dtype=torch.float64)
    payload = {"argv": sys.argv, "cwd": os.getcwd(), "var": os.environ.get("STAGE_VAR"), "twice": twice(21),
               "numbers": (x @ x).sum().item(), "path0": sys.path[0]}
    print(json.dumps(payload))
    print("to stderr", file=sys.stderr)
    if len(sys.argv) > 1 and sys.argv[1] == "fail":
        sys.exit(3)
    if len(sys.argv) > 1 and sys.argv[1] == "raise":
        raise ValueError("broken stage")
    if len(sys.argv) > 1 and sys.argv[1] == "message":
        sys.exit("one line saying what is missing")


if __name__ == "__main__":
    main()
'''


@pytest.fixture()
def project(tmp_path):
    stages = tmp_path / "project" / "stages"
    stages.mkdir(parents=True)
    (stages / "stage.py").write_text(STAGE)
    (stages / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    return tmp_path / "project"


@pytest.fixture()
def light(tmp_path):
    """A project whose one stage imports nothing heavy: its server starts in a fraction of a second."""
    stages = tmp_path / "light" / "stages"
    stages.mkdir(parents=True)
    (stages / "stage.py").write_text("import sys\n\nif sys.argv[1:] == ['fail']:\n    sys.exit(3)\n")
    return tmp_path / "light"


def shell(cmd, cwd, env):
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True)


def test_stage_imports_are_the_scripts_top_level_imports(project):
    assert stage_imports(project / "stages") == {"atexit": [], "helper": ["twice"], "json": [], "os": [], "sys": [],
                                                 "torch": []}


def test_a_forked_stage_sees_what_a_fresh_one_sees(project):
    env = {**os.environ, "PYTHONPATH": SRC, "STAGE_VAR": "server"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    (project / "sub").mkdir()
    fresh = shell("python ../stages/stage.py a b", project / "sub", {**env, "STAGE_VAR": "stage"})
    with warm_stages(env, project) as warm:
        assert warm["PATH"].split(os.pathsep)[0] != env["PATH"].split(os.pathsep)[0]
        forked = shell("python ../stages/stage.py a b", project / "sub", {**warm, "STAGE_VAR": "stage"})
        failed = shell("python ../stages/stage.py fail", project / "sub", warm)
        raised = shell("python ../stages/stage.py raise", project / "sub", warm)
        message = shell("python ../stages/stage.py message", project / "sub", warm)
        real = shell("python -c 'import sys; print(sys.argv)'", project, warm)
    assert fresh.returncode == forked.returncode == 0, forked.stderr
    assert forked.stdout == fresh.stdout  # argv, cwd, the stage's own environment, sys.path[0], numbers, atexit
    assert '"var": "stage"' in forked.stdout and forked.stdout.endswith("atexit ran\n")
    assert forked.stderr == fresh.stderr == "to stderr\n"
    assert failed.returncode == 3
    assert raised.returncode == 1 and raised.stderr.rstrip().endswith("ValueError: broken stage")
    assert message.returncode == 1 and message.stderr.endswith("one line saying what is missing\n")
    assert real.returncode == 0 and real.stdout == "['-c']\n"  # not a script: the real interpreter runs it


def test_a_stage_without_its_server_is_one_line_saying_so(light):
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        (Path(warm["PATH"].split(os.pathsep)[0]).parent / "socket").unlink()  # as if the server had gone
        gone = shell("python stages/stage.py", light, warm)
    assert gone.returncode == 1 and gone.stderr.startswith("warm python: no stage server at ")
    assert len(gone.stderr.splitlines()) == 1


def test_a_stage_import_that_fails_stops_the_start_with_its_error(project, capfd):
    lib = project / "lib"
    lib.mkdir()
    (lib / "boom.py").write_text("raise ImportError('boom: a library that does not load')\n")
    (project / "stages" / "broken.py").write_text("import boom\n")
    with pytest.raises(RuntimeError, match="the stage server did not start"):
        with warm_stages({**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{lib}"}, project):
            pass
    assert "boom: a library that does not load" in capfd.readouterr().err


def test_a_client_that_goes_away_mid_request_leaves_the_server_serving(light):
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        address = Path(warm["PATH"].split(os.pathsep)[0]).parent / "socket"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:  # connects, sends nothing
            conn.connect(str(address))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:  # a length, then part of the body
            conn.connect(str(address))
            socket.send_fds(conn, [struct.pack("!Q", 1000) + b'{"argv"'], [0, 1, 2])
        done = shell("python stages/stage.py fail", light, warm)
    assert done.returncode == 3, done.stderr


def test_the_server_ends_when_the_process_that_started_it_is_killed(light, tmp_path):
    """A DAG run stopped by SIGKILL (no `finally`) leaves no stage server behind."""
    started = tmp_path / "server.pid"
    code = ("import os, subprocess, sys\n"
            "from pathlib import Path\n"
            "from thermbench.tools.pipeline.warm_stages import warm_stages\n"
            f"with warm_stages(dict(os.environ), Path({str(light)!r})) as env:\n"
            "    socket = Path(env['PATH'].split(os.pathsep)[0]).parent / 'socket'\n"
            "    server = subprocess.run(['pgrep', '-f', str(socket)], capture_output=True, text=True).stdout\n"
            "    Path(sys.argv[1]).write_text(server)\n"
            "    os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", code, str(started)],
                   env={**os.environ, "PYTHONPATH": SRC})
    pid = int(started.read_text())
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()


POOL_STAGE = '''import os

import torch

import helper
from thermbench.core.parallel import ordered_map

if __name__ == "__main__":
    rows = list(ordered_map(helper.seeded_sum, range(3), "sums", workers=2))
    print([round(total, 12) for total, _ in rows])
    print("workers:", "the stage's children" if {parent for _, parent in rows} == {os.getpid()} else "its siblings")
'''

POOL_HELPER = '''import os

import torch


def seeded_sum(seed):
    torch.manual_seed(seed)
    x = torch.randn(32, 32, dtype=torch.float64)
    return (x @ x).sum().item(), os.getppid()
'''


def test_a_stage_pool_gets_forked_workers_that_compute_what_spawned_ones_do(project):
    (project / "stages" / "pool.py").write_text(POOL_STAGE)
    (project / "stages" / "helper.py").write_text(POOL_HELPER)
    env = {**os.environ, "PYTHONPATH": SRC}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    fresh = shell("python stages/pool.py", project, env)
    with warm_stages(env, project) as warm:
        forked = shell("python stages/pool.py", project, warm)
    assert fresh.returncode == forked.returncode == 0, forked.stderr
    numbers, parents = fresh.stdout.splitlines()
    assert forked.stdout.splitlines() == [numbers, "workers: its siblings"]  # forked by the server, as the stage
    assert parents == "workers: the stage's children"  # spawned: fresh interpreters started by the stage


LAZY = "import sys\n\n\ndef main():\n    print('wave' in sys.modules)\n    import wave  # noqa: F401\n\n\nmain()\n"


def test_the_server_imports_what_a_stage_imported_for_the_stages_after_it(light):
    (light / "stages" / "lazy.py").write_text(LAZY)
    (light / "stages" / "other").mkdir()
    (light / "stages" / "other" / "beside.py").write_text(LAZY)
    (light / "stages" / "other" / "wave.py").write_text("")  # beside a script: not the library's wave
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        runs = [shell(f"python stages/{script}", light, warm).stdout
                for script in ("other/beside.py", "lazy.py", "lazy.py")]
    # the wave beside other/beside.py is not learned (it would shadow the library's); the library's wave is
    assert runs == ["False\n", "False\n", "True\n"]


def test_a_process_a_stage_leaves_behind_does_not_hold_up_the_next_stage(light):
    """The forked grandchild keeps the stage's module report open; the server must not wait for it to end."""
    (light / "stages" / "linger.py").write_text(
        "import os\nimport time\n\nif os.fork() == 0:\n    os.closerange(0, 3)\n    time.sleep(60)\n    os._exit(0)\n")
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        assert shell("python stages/linger.py", light, warm).returncode == 0
        started = time.monotonic()
        done = subprocess.run("python stages/stage.py fail", shell=True, cwd=light, env=warm, timeout=30)
    assert done.returncode == 3 and time.monotonic() - started < 10


SLEEPER = '''import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if sys.argv[2] == "stubborn":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "60"])
Path(sys.argv[1]).write_text(f"{os.getpid()} {child.pid}")
try:
    time.sleep(60)
finally:
    Path(sys.argv[1] + ".cleaned").touch()
'''

BROKEN = '''import os
import signal
import sys
import time
from pathlib import Path

signal.signal(signal.SIGINT, signal.SIG_IGN)  # it outlives its client, then writes to the output nobody reads
Path(sys.argv[1]).write_text(f"{os.getpid()} {os.getpid()}")
time.sleep(1.5)
print("still here", flush=True)
'''


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _started(pids: Path) -> list[int]:
    for _ in range(600):
        if pids.is_file() and len(pids.read_text().split()) == 2:
            return [int(p) for p in pids.read_text().split()]
        time.sleep(0.05)
    raise AssertionError("the stage did not start")


def _gone_within(pids: list[int], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not any(map(_alive, pids)):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("stop, kind, within", [
    (signal.SIGINT, "plain", 3.0),  # Ctrl-C
    (signal.SIGKILL, "plain", 3.0),  # a kill of the DAG run
    (signal.SIGTERM, "stubborn", STOP_GRACE_S + 3.0),  # a stage that ignores the server's SIGINT gets SIGKILL
])
def test_a_stage_whose_command_goes_away_stops_with_what_it_started(light, tmp_path, capfd, stop, kind, within):
    """Ctrl-C or a kill of `make repro` stops the forked stage and its children at once, as Ctrl-C stops a fresh
    stage, not a minute later with a BrokenPipeError traceback: one line says so."""
    (light / "stages" / "sleeper.py").write_text(SLEEPER)
    pids = tmp_path / "pids"
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        client = subprocess.Popen(["python", "stages/sleeper.py", str(pids), kind], cwd=light, env=warm,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = _started(pids)
        client.send_signal(stop)
        client.wait(timeout=10)
        assert _gone_within(started, within), "the stage or its child still runs"
        out, err = client.communicate(timeout=10)
        still = shell("python stages/stage.py fail", light, warm)  # the server serves on
    assert still.returncode == 3
    assert out == err == ""
    assert Path(f"{pids}.cleaned").exists() == (kind == "plain")  # stopped as Ctrl-C stops it: its `finally` ran
    server = capfd.readouterr().err
    assert "Traceback" not in server
    assert server.count("warm python: stopped stages/sleeper.py: its command went away") == 1, server


def test_a_stage_that_outlives_its_client_and_output_ends_in_one_line_not_a_traceback(light, tmp_path, capfd):
    """The stage writes to a pipe whose reader is gone, and its status to a client that is gone: one line."""
    (light / "stages" / "broken.py").write_text(BROKEN)
    pids = tmp_path / "pids"
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        read, write = os.pipe()
        client = subprocess.Popen(["python", "stages/broken.py", str(pids)], cwd=light, env=warm, stdout=write,
                                  stderr=subprocess.PIPE, text=True)
        os.close(write)
        started = _started(pids)
        os.close(read)  # nobody reads its output any more
        client.kill()
        _, err = client.communicate(timeout=20)  # its stderr ends when the stage has ended
        assert _gone_within(started, 3.0)
    assert err == "warm python: stages/broken.py stopped: a pipe it wrote to was closed\n"
    assert "Traceback" not in capfd.readouterr().err


POOL_NAP = '''import sys

import nap
from thermbench.core.parallel import ordered_map

if __name__ == "__main__":
    list(ordered_map(nap.nap, [sys.argv[1]] * 2, "naps", workers=2))
'''

NAP = '''import os
import time
from pathlib import Path


def nap(folder):
    Path(folder, str(os.getpid())).touch()
    time.sleep(60)
'''


def test_a_stopped_stage_takes_its_pools_forked_workers_with_it(light, tmp_path, capfd):
    (light / "stages" / "pool_nap.py").write_text(POOL_NAP)
    (light / "stages" / "nap.py").write_text(NAP)
    folder = tmp_path / "workers"
    folder.mkdir()
    with warm_stages({**os.environ, "PYTHONPATH": SRC}, light) as warm:
        client = subprocess.Popen(["python", "stages/pool_nap.py", str(folder)], cwd=light, env=warm,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(600):
            if len(list(folder.iterdir())) == 2:
                break
            time.sleep(0.05)
        workers = [int(p.name) for p in folder.iterdir()]
        assert len(workers) == 2 and all(map(_alive, workers))
        client.send_signal(signal.SIGINT)
        assert _gone_within(workers, 3.0), "a worker still runs"
        _, err = client.communicate(timeout=10)
    assert "Traceback" not in err, err
    server = capfd.readouterr().err
    assert "Traceback" not in server and server.count("warm python: stopped") == 1, server
