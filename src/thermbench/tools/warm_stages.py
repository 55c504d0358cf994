"""DAG runs whose stage commands start warm: the `python` that the stages' PATH finds first forks each stage from one
server process that has already imported what the stage scripts import (torch, MediaPipe, SciPy, matplotlib with
them), in place of a fresh interpreter importing it all again: about 3 CPU-s a stage, two thirds of a smoke-size
stage. The test DAG runs use it (`make test`: the smoke regression and the real route, about 60 stages each);
`make repro`, the kernel check and the baseline calibration start every stage fresh, as DVC does.

    with warm_stages(env, workdir) as warm_env:
        subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=workdir, env=warm_env)

A forked stage gets its command's argv, working directory, environment and standard streams (the command's own file
descriptors, passed over the socket), runs the script as `__main__` with the script's folder first on sys.path, runs
the atexit handlers and exits with the script's status. What it cannot get is a fresh import: modules were imported
once, in the server, under the environment the server started with (the DAG run's), so a variable read at import
(ATEN_CPU_CAPABILITY by torch, say) must be in that environment, as it is when the DAG run sets it. Anything but
`python <script.py> ...` (no argument, -m, -c) runs the real interpreter.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import importlib.util
import json
import os
import runpy
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The `python` on the stages' PATH: stdlib only, no site (-I -S: it starts in about 10 ms). It passes its argv,
# working directory, environment and fds 0-2 to the server and exits with the status the stage reports.
CLIENT = '''#!{python} -IS
import json, os, socket, struct, sys
args = sys.argv[1:]
if not args or args[0].startswith("-") or not args[0].endswith(".py"):
    os.execv({python!r}, [{python!r}, *args])
request = json.dumps({{"argv": args, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    conn.connect({socket!r})
except OSError as err:
    sys.exit(f"warm python: no stage server at {socket} ({{err}}); it stops with the DAG run that started it")
streams = []
for fd in (0, 1, 2):
    try:
        os.fstat(fd)
        streams.append(fd)
    except OSError:  # a closed standard stream reads as /dev/null, as the stage would find it
        streams.append(os.open(os.devnull, os.O_RDWR))
socket.send_fds(conn, [struct.pack("!Q", len(request))], streams)
conn.sendall(request)
status = b""
while len(status) < 4:
    part = conn.recv(4 - len(status))
    if not part:
        sys.exit("warm python: the stage process ended without an exit status (killed?)")
    status += part
sys.exit(struct.unpack("!i", status)[0])
'''


def stage_imports(stages: Path) -> dict[str, list[str]]:
    """What the stage scripts under `stages` import at their top level: module -> the names taken from it."""
    imports: dict[str, set[str]] = {}
    for script in sorted(stages.rglob("*.py")):
        for node in ast.parse(script.read_text(), str(script)).body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    imports.setdefault(alias.name, set())
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imports.setdefault(node.module, set()).update(alias.name for alias in node.names)
    return {module: sorted(names) for module, names in sorted(imports.items())}


@contextmanager
def warm_stages(env: dict[str, str], workdir: Path) -> Iterator[dict[str, str]]:
    """`env` with a PATH whose `python` forks the stage scripts of `workdir/stages` from a server started now, in
    `workdir` under `env`; the server and whatever it forked stop when the block ends."""
    scratch = Path(tempfile.mkdtemp(prefix="warm-"))  # short: a unix socket's path has at most 107 bytes
    address, bindir = scratch / "socket", scratch / "bin"
    bindir.mkdir()
    client = bindir / "python"
    client.write_text(CLIENT.format(python=sys.executable, socket=str(address)))
    client.chmod(0o755)
    server = subprocess.Popen([sys.executable, "-m", "thermbench.tools.warm_stages", str(address),
                               str(workdir / "stages")], cwd=workdir, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"warm stages: the stage server did not start (exit {server.wait()}); its error is "
                               "above")
        yield {**env, "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}"}
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        server.stdin.close()
        server.stdout.close()
        shutil.rmtree(scratch, ignore_errors=True)


def serve(address: Path, stages: Path) -> None:
    """Import what the stage scripts import, then fork one child per connection to run its stage, until standard
    input ends: the pipe from `warm_stages`, closed however that process ends (killed too)."""
    for name, taken in stage_imports(stages).items():
        if importlib.util.find_spec(name) is None:  # a module beside a script: the stage imports it itself
            continue
        module = importlib.import_module(name)
        for attribute in taken:
            if not hasattr(module, attribute):  # `from package import submodule`
                importlib.import_module(f"{name}.{attribute}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(address))
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children reap themselves; a stage may start its own
    print("ready", flush=True)
    while True:
        if sys.stdin in select.select([listener, sys.stdin], [], [])[0]:
            return
        conn, _ = listener.accept()
        head, fds, _, _ = socket.recv_fds(conn, 8, 3)
        request = _read_request(conn, head)
        if request is not None and os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.wait in the stage needs its children back
            _run_stage(conn, request, fds)
        conn.close()
        for fd in fds:
            os.close(fd)


def _read_request(conn: socket.socket, head: bytes) -> dict | None:
    """The request's JSON after its 8-byte length; None when the client went away before sending all of it."""
    message = head
    while len(message) < 8 or len(message) < 8 + struct.unpack("!Q", message[:8])[0]:
        part = conn.recv(65536)
        if not part:
            return None
        message += part
    return json.loads(message[8:])


def _run_stage(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the stage's process, run its script, report the status, exit."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        script, *_ = sys.argv = request["argv"]
        sys.path[0] = str(Path(script).resolve().parent)
        runpy.run_path(script, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(struct.pack("!i", status))
    os._exit(status)


def _exit_status(code: object) -> int:
    """The status `sys.exit(code)` gives a process: None 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
