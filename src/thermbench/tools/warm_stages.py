"""DAG runs whose stage commands start warm: the `python` that the stages' PATH finds first forks each stage from one
server process that has already imported what the stage scripts import (torch, MediaPipe, SciPy, matplotlib with
them), in place of a fresh interpreter importing it all again: about 3 CPU-s a stage, two thirds of a smoke-size
stage. `make repro` runs its stages so (`python -m thermbench.tools.dvc_cli --warm --beside repro`), and so do the
test DAG runs (`make test`: the smoke regression through tests/support/warm_regression.py, and the real route); the
kernel check and the baseline calibration start every stage fresh, as plain `dvc repro` does, so a number a fork
changed would fail the regression gate. A fork changes no number: the smoke DAG's metrics and data come out
byte-identical to fresh processes (timings aside).

Two more things start warm. A stage's process pool (`multiprocessing`'s spawn start, as core/parallel.py uses) asks
the same `python` for its workers, so each worker is forked from the server too, and then prepares itself as a spawned
worker does (the stage's sys.path, its script imported as `__mp_main__`). And the server learns: what a stage or
worker imported that the server had not (torch._dynamo on the first optimizer, a library imported inside a
function), the server imports after it, for the stages after it; only a module it finds at the same file.

    with warm_stages(env, workdir) as warm_env:
        subprocess.run([sys.executable, "-m", "thermbench.tools.dvc_cli", "repro"], cwd=workdir, env=warm_env)

A forked stage gets its command's argv, working directory, environment and standard streams (the command's own file
descriptors, passed over the socket), runs the script as `__main__` with the script's folder first on sys.path, runs
the atexit handlers and exits with the script's status. What it cannot get is a fresh import: modules were imported
once, in the server, under the environment the server started with (the DAG run's), so a variable read at import
(ATEN_CPU_CAPABILITY by torch, say) must be in that environment, as it is when the DAG run sets it. The server itself
only imports, so no thread pool of a library (OpenBLAS's, say) is at work when it forks. Anything but
`python <script.py> ...` and a pool's worker (no argument, -m, other -c) runs the real interpreter.
"""

from __future__ import annotations

import ast
import atexit
import fcntl
import importlib
import importlib.util
import json
import multiprocessing
import os
import resource
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

# Where a client appends the CPU seconds of the process it had forked (the variable's value, when set): the stage
# runs in the server's child, not the client's, so a timer of the client's children would not see them.
CPU_LOG = "THERMBENCH_WARM_CPU_LOG"

# The `python` on the stages' PATH: stdlib only, no site (-I -S: it starts in about 10 ms). It passes its argv,
# working directory, environment and open file descriptors (0-2 and those a process pool passes its worker) to the
# server and exits with the status the stage reports.
CLIENT = '''#!{python} -IS
import json, os, socket, struct, sys
args = sys.argv[1:]
script = bool(args) and not args[0].startswith("-") and args[0].endswith(".py")
worker = args[-1:] == ["--multiprocessing-fork"] and args[-3:-2] == ["-c"]
if not (script or worker):
    os.execv({python!r}, [{python!r}, *args])
numbers, fds = [], []
for fd in sorted(int(name) for name in os.listdir("/dev/fd")):
    try:
        os.fstat(fd)
    except OSError:  # closed: the listing's own descriptor, or a standard stream that is not open
        continue
    numbers.append(fd)
    fds.append(fd)
for fd in (0, 1, 2):
    if fd not in numbers:  # a closed standard stream reads as /dev/null, as the stage would find it
        numbers.append(fd)
        fds.append(os.open(os.devnull, os.O_RDWR))
request = json.dumps({{"argv": args, "script": script, "cwd": os.getcwd(), "env": dict(os.environ),
                      "fds": numbers}}).encode()
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    conn.connect({socket!r})
except OSError as err:
    sys.exit(f"warm python: no stage server at {socket} ({{err}}); it stops with the DAG run that started it")
socket.send_fds(conn, [struct.pack("!Q", len(request))], fds)
conn.sendall(request)
status = b""
while len(status) < 12:
    part = conn.recv(12 - len(status))
    if not part:
        sys.exit("warm python: the stage process ended without an exit status (killed?)")
    status += part
code, cpu = struct.unpack("!id", status)
if os.environ.get({cpu_log!r}):  # the forked process is not our child: its CPU seconds reach a timer this way
    with open(os.environ[{cpu_log!r}], "a") as log:
        log.write(f"{{cpu!r}}\\n")
sys.exit(code)
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
    `workdir` under `env`, and CPU_LOG naming the file where its clients append the CPU seconds of what they ran; the
    server and whatever it forked stop when the block ends."""
    scratch = Path(tempfile.mkdtemp(prefix="warm-"))  # short: a unix socket's path has at most 107 bytes
    address, bindir = scratch / "socket", scratch / "bin"
    bindir.mkdir()
    client = bindir / "python"
    client.write_text(CLIENT.format(python=sys.executable, socket=str(address), cpu_log=CPU_LOG))
    client.chmod(0o755)
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(address),
                               str(workdir / "stages"), str(client)], cwd=workdir, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"warm stages: the stage server did not start (exit {server.wait()}); its error is "
                               "above")
        yield {**env, "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}", CPU_LOG: str(scratch / "cpu.log")}
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        server.stdin.close()
        server.stdout.close()
        shutil.rmtree(scratch, ignore_errors=True)


def serve(address: Path, stages: Path, client: str) -> None:
    """Import what the stage scripts import, then fork one child per connection to run its stage (or pool worker),
    until standard input ends: the pipe from `warm_stages`, closed however that process ends (killed too). After
    each child, import what it imported that the server lacks."""
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
    # read ends of the pipes on which children name the modules they imported, with what came so far; read as it
    # comes, never waiting for the end: a process the child forked may hold the pipe open after the child is gone
    reports: dict[int, bytes] = {}
    while True:
        ready = select.select([listener, sys.stdin, *reports], [], [])[0]
        if sys.stdin in ready:
            return
        for fd in [fd for fd in reports if fd in ready]:
            if part := os.read(fd, 65536):
                reports[fd] += part
            else:
                os.close(fd)
                _learn(reports.pop(fd))
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        head, fds, _, _ = socket.recv_fds(conn, 8, 253)  # SCM_MAX_FD
        request = _read_request(conn, head)
        if request is not None:
            report, report_w = os.pipe()
            if os.fork() == 0:
                listener.close()
                for fd in (report, *reports):
                    os.close(fd)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.wait in the stage needs its children back
                _run_stage(conn, request, fds, report_w, client)
            os.close(report_w)
            reports[report] = b""
        conn.close()
        for fd in fds:
            os.close(fd)


def _learn(report: bytes) -> None:
    """Import each module a child named (`name file` per line) that is found here at the same file, so that a
    module of the same name from elsewhere (beside a stage script) never stands in for it."""
    for line in report.decode().splitlines():
        name, _, origin = line.partition(" ")
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.origin == origin:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001 -- one that imports only in its stage's context is left to the stage
            continue


def _read_request(conn: socket.socket, head: bytes) -> dict | None:
    """The request's JSON after its 8-byte length; None when the client went away before sending all of it."""
    message = head
    while len(message) < 8 or len(message) < 8 + struct.unpack("!Q", message[:8])[0]:
        part = conn.recv(65536)
        if not part:
            return None
        message += part
    return json.loads(message[8:])


def _run_stage(conn: socket.socket, request: dict, fds: list[int], report: int, client: str) -> None:
    """In the forked child: become the stage's process (or pool worker), run it, name on `report` the modules it
    imported, report the status, exit."""
    status_fd, report = _install_fds(fds, request["fds"], [conn.detach(), report])
    conn = socket.socket(fileno=status_fd)
    before = set(sys.modules)
    try:
        os.chdir(request["cwd"])
        multiprocessing.process.ORIGINAL_DIR = os.getcwd()  # as in a process started here
        multiprocessing.set_executable(client)  # a pool's spawned workers: forked from here too
        os.environ.clear()
        os.environ.update(request["env"])
        if request["script"]:  # the client's verdict: a stage script, else a pool's worker
            script = request["argv"][0]
            sys.argv = request["argv"]
            sys.path[0] = str(Path(script).resolve().parent)
            runpy.run_path(script, run_name="__main__")
        else:  # a pool's worker: `python [flags] -c <program> --multiprocessing-fork`
            *_, program, _ = request["argv"]
            sys.argv = ["-c", "--multiprocessing-fork"]
            sys.path[0] = ""
            exec(compile(program, "<string>", "exec"), {"__name__": "__main__"})
        status = 0
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    cpu = cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # since the fork: it starts a child at zero
    imported = [f"{name} {getattr(sys.modules.get(name), '__file__', None)}" for name in set(sys.modules) - before]
    with open(report, "w") as out:
        out.write("\n".join(sorted(imported)))
    conn.sendall(struct.pack("!id", status, cpu))
    os._exit(status)


def cpu_seconds(*who: int) -> float:
    """User and system CPU seconds of `who` (resource.RUSAGE_SELF, RUSAGE_CHILDREN: the children waited for)."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, who))


def _install_fds(fds: list[int], numbers: list[int], keep: list[int]) -> list[int]:
    """Put each received descriptor at the number it had in the client; move the ones the child keeps for itself
    (`keep`) out of their way, closed on exec, and return their new numbers."""
    floor = max([*fds, *numbers, *keep]) + 1
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor) for fd in [*fds, *keep]]
    for fd in [*fds, *keep]:
        os.close(fd)
    for number, fd in zip(numbers, moved):
        os.dup2(fd, number)
        os.close(fd)
    return moved[len(fds):]


def _exit_status(code: object) -> int:
    """The status `sys.exit(code)` gives a process: None 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> None:
    """The stage server `warm_stages` starts (its own command line, not a user's)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address", type=Path, help="the unix socket to serve on")
    parser.add_argument("stages", type=Path, help="the stage scripts' folder, whose imports the server makes first")
    parser.add_argument("client", help="the client script a stage's process pool is to start its workers with")
    args = parser.parse_args(argv)
    serve(args.address, args.stages, args.client)


if __name__ == "__main__":
    main()
