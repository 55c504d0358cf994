"""DAG runs whose stage commands start warm: the `python` that the stages' PATH finds first forks each stage from one
server process that has already imported what the stage scripts import (torch, MediaPipe, SciPy, matplotlib with
them), in place of a fresh interpreter importing it all again: about 3 CPU-s a stage, two thirds of a smoke-size
stage. `make repro` runs its stages so (`python -m thermbench.tools.pipeline.dvc_cli --warm --beside repro`), and so do
the test DAG runs (`make test`: the smoke regression through tests/support/warm_regression.py, and the real route); the
kernel check and the baseline calibration start every stage fresh, as plain `dvc repro` does, so a number a fork
changed would fail the regression gate. A fork changes no number: the smoke DAG's metrics and data come out
byte-identical to fresh processes (timings aside).

Two more things start warm. A stage's process pool (`multiprocessing`'s spawn start, as core/parallel.py uses) asks
the same `python` for its workers, so each worker is forked from the server too, and then prepares itself as a spawned
worker does (the stage's sys.path, its script imported as `__mp_main__`). And the server learns: what a stage or
worker imported that the server had not (torch._dynamo on the first optimizer, a library imported inside a
function), the server imports after it, for the stages after it; only a module it finds at the same file.

    with warm_stages(env, workdir) as warm_env:
        subprocess.run([sys.executable, "-m", "thermbench.tools.pipeline.dvc_cli", "repro"], cwd=workdir, env=warm_env)

A forked stage gets its command's argv, working directory, environment and standard streams (the command's own file
descriptors, passed over the socket), runs the script as `__main__` with the script's folder first on sys.path, runs
the atexit handlers and exits with the script's status. What it cannot get is a fresh import: modules were imported
once, in the server, under the environment the server started with (the DAG run's), so a variable read at import
(ATEN_CPU_CAPABILITY by torch, say) must be in that environment, as it is when the DAG run sets it. The server itself
only imports, so no thread pool of a library (OpenBLAS's, say) is at work when it forks. Anything but
`python <script.py> ...` and a pool's worker (no argument, -m, other -c) runs the real interpreter.

A stopped run stops its forked stages at once. Each runs in a process group of its own, and the server watches its
client: when the client goes before the stage has ended (Ctrl-C or a kill of `make repro`, DVC stopping a stage it
ran beside), the stage's group (the stage, what it started, the clients of its pool's workers, so the workers too)
gets SIGINT, as a Ctrl-C would stop a fresh stage (its `finally` blocks and atexit handlers run; a pool's worker
gets SIGTERM), then SIGKILL after STOP_GRACE_S, and one line on the server's stderr says so. A stage never prints a
traceback for a broken pipe on its way out (an output or a client that went away): one line at most. When the block
ends, every process of the server's session goes with it.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
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
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Where a client appends the CPU seconds of the process it had forked (the variable's value, when set): the stage
# runs in the server's child, not the client's, so a timer of the client's children would not see them.
CPU_LOG = "THERMBENCH_WARM_CPU_LOG"

# The `python` on the stages' PATH: stdlib only, no site (-I -S: it starts in about 10 ms). It passes its argv,
# working directory, environment and open file descriptors (0-2 and those a process pool passes its worker) to the
# server and exits with the status the stage reports.
CLIENT = '''#!{python} -IS
import json, os, signal, socket, struct, sys
args = sys.argv[1:]
script = bool(args) and not args[0].startswith("-") and args[0].endswith(".py")
worker = args[-1:] == ["--multiprocessing-fork"] and args[-3:-2] == ["-c"]
if not (script or worker):
    os.execv({python!r}, [{python!r}, *args])
signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly; the server then stops what it runs for it
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
        kill_session(server.pid)  # what it forked (each stage in a group of its own) and what they left running
        server.stdin.close()
        server.stdout.close()
        shutil.rmtree(scratch, ignore_errors=True)


STOP_GRACE_S = 5.0  # a stage whose command went away gets SIGINT (a worker SIGTERM), this much later SIGKILL
DONE = b"\0"  # ends a child's module report: it reached its end, its exit status goes to its client next


@dataclass
class _Child:
    """A forked stage (or pool worker) while it runs, as the server watches it."""
    pid: int
    pidfd: int  # readable once it has ended
    report: int  # the read end of its module report
    conn: socket.socket | None  # the server's copy of its client's connection: readable once the client is gone
    label: str | None  # the stage script, for the line saying it was stopped (None: a pool's worker)
    done: bool = False  # its report came to DONE: it ended by itself
    kill_at: float | None = None  # when a stopped child still running gets SIGKILL


def serve(address: Path, stages: Path, client: str) -> None:
    """Import what the stage scripts import, then fork one child per connection to run its stage (or pool worker),
    until standard input ends: the pipe from `warm_stages`, closed however that process ends (killed too). After
    each child, import what it imported that the server lacks.

    Each child runs in a process group of its own, and the server keeps its copy of the child's connection: when the
    client goes away before the child has ended (Ctrl-C or a kill of the DAG run; DVC stopping a stage it ran beside),
    the child's group gets SIGINT at once, as Ctrl-C would stop a fresh stage (its `finally` blocks and atexit
    handlers run; a pool's worker, SIGTERM), SIGKILL after STOP_GRACE_S, with one line saying so, instead of
    running on for nobody. When standard input ends, every child and what it started is killed."""
    importlib.import_module("thermbench")  # first, as a stage script imports it: its settings precede numpy's load
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
    running: dict[int, _Child] = {}  # pidfd -> the child

    def take(fd: int) -> None:
        """Read what came on report `fd`; at its end, learn from it."""
        if part := os.read(fd, 65536):
            reports[fd] += part
            if DONE in part:
                for child in running.values():
                    if child.report == fd:
                        child.done = True
        else:
            os.close(fd)
            _learn(reports.pop(fd).replace(DONE, b""))

    try:
        while True:
            deadlines = [c.kill_at for c in running.values() if c.kill_at is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            conns = {c.conn.fileno(): c for c in running.values() if c.conn is not None}
            ready = select.select([listener, sys.stdin, *reports, *running, *conns], [], [], timeout)[0]
            if sys.stdin in ready:
                return
            for fd in [fd for fd in reports if fd in ready]:
                take(fd)
            for pidfd in [fd for fd in running if fd in ready]:  # ended: a client still there sees the end of file
                child = running.pop(pidfd)
                os.close(pidfd)
                if child.conn is not None:
                    child.conn.close()
            for fd, child in conns.items():
                if fd not in ready or child.pidfd not in running:
                    continue
                while child.report in reports and not child.done and select.select([child.report], [], [], 0)[0]:
                    take(child.report)  # a child that got to its end wrote DONE before its client could leave
                if _gone(child.conn) and not child.done:
                    # a stage as Ctrl-C stops a fresh one (its `finally` blocks run); a pool's worker quietly
                    _stop(child, signal.SIGINT if child.label else signal.SIGTERM)
                    child.kill_at = time.monotonic() + STOP_GRACE_S
                child.conn.close()  # nothing more to watch on it (the child has its own copy)
                child.conn = None
            for child in running.values():
                if child.kill_at is not None and time.monotonic() >= child.kill_at:
                    _stop(child, signal.SIGKILL)
                    child.kill_at = None
            if listener not in ready:
                continue
            conn, _ = listener.accept()
            head, fds, _, _ = socket.recv_fds(conn, 8, 253)  # SCM_MAX_FD
            request = _read_request(conn, head)
            if request is not None:
                report, report_w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    try:
                        listener.close()
                        for child in running.values():
                            os.close(child.pidfd)
                            if child.conn is not None:
                                child.conn.close()
                        for fd in (report, *reports):
                            os.close(fd)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.wait in the stage needs them back
                        _run_stage(conn, request, fds, report_w, client)
                    finally:
                        os._exit(1)  # never back into the server's loop
                os.close(report_w)
                reports[report] = b""
                with contextlib.suppress(OSError):  # as the child does itself, so that a stop never misses it
                    os.setpgid(pid, pid)
                try:
                    pidfd = os.pidfd_open(pid)
                except ProcessLookupError:  # it has ended already
                    pidfd = None
                if pidfd is not None:
                    label = request["argv"][0] if request["script"] else None
                    running[pidfd] = _Child(pid, pidfd, report, conn, label)
                    conn = None  # kept, to see its client go
            if conn is not None:
                conn.close()
            for fd in fds:
                os.close(fd)
    finally:
        for child in running.values():
            _stop(child, signal.SIGKILL)
        if os.getsid(0) == os.getpid():  # its own session, as `warm_stages` starts it: whatever the stages left running
            kill_session(os.getpid(), spare=os.getpid())


def _gone(conn: socket.socket) -> bool:
    """Whether the client of a connection the server watches has gone (end of file, or reset)."""
    try:
        return not conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _stop(child: _Child, sig: int) -> None:
    """Send `sig` to a running child's process group (the stage and what it started), saying so once."""
    if select.select([child.pidfd], [], [], 0)[0]:  # it has ended: its group may be gone, its number reused
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)
    if sig == signal.SIGINT and child.label:
        with contextlib.suppress(OSError):
            print(f"warm python: stopped {child.label}: its command went away (interrupted?)", file=sys.stderr,
                  flush=True)


def kill_session(sid: int, spare: int | None = None) -> None:
    """SIGKILL every process of session `sid` (but `spare`): the stage server's, which holds every process it forked
    and every process they started, each stage in a process group of its own."""
    for _ in range(5):  # a process may fork while the others are killed
        members = [pid for pid in _session(sid) if pid != spare]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _session(sid: int) -> list[int]:
    """The processes of session `sid` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry))
    return out


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
    """In the forked child: become the stage's process (or pool worker) in a process group of its own, run it, name
    on `report` the modules it imported, report the status, exit. A stage whose output or client went away on the
    way (a stopped run) ends with one line at most, never a traceback of the broken pipe."""
    os.setpgid(0, 0)  # the server stops the group: the stage and whatever it started
    signal.signal(signal.SIGINT, signal.default_int_handler)  # its stop, even where the DAG run started ignoring it
    status_fd, report = _install_fds(fds, request["fds"], [conn.detach(), report])
    conn = socket.socket(fileno=status_fd)
    before = set(sys.modules)
    what = request["argv"][0] if request["script"] else "a pool worker"
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
    except KeyboardInterrupt:  # the server stopped it (its client went away) and has said so
        status = 130
    except BrokenPipeError:  # what it wrote to (its output, most often) was closed: a stopped run
        _say(f"warm python: {what} stopped: a pipe it wrote to was closed")
        status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    _quiet_closed_streams()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    cpu = cpu_seconds(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)  # since the fork: it starts a child at zero
    imported = [f"{name} {getattr(sys.modules.get(name), '__file__', None)}" for name in set(sys.modules) - before]
    with contextlib.suppress(OSError):  # the server is gone: the run is over
        with open(report, "wb") as out:
            out.write("\n".join(sorted(imported)).encode() + DONE)
    with contextlib.suppress(OSError):  # its client is gone: nobody waits for the status
        conn.sendall(struct.pack("!id", status, cpu))
    os._exit(status)


def _say(line: str) -> None:
    """One line on the stage's stderr, if it can still be written."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _quiet_closed_streams() -> None:
    """Point a standard stream whose reader is gone (a closed pipe, a hung-up terminal) at /dev/null, so that what is
    still written on the way out (a buffered line, an atexit handler's) raises no BrokenPipeError with a traceback."""
    poll = select.poll()
    for fd in (1, 2):
        poll.register(fd, select.POLLOUT)
    closed = [fd for fd, events in poll.poll(0) if events & (select.POLLERR | select.POLLHUP)
              and not events & select.POLLNVAL]
    if closed:
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in closed:
            os.dup2(null, fd)
        os.close(null)


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
    _say(str(code))
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
