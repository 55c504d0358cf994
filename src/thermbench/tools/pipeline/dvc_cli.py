"""`python -m thermbench.tools.pipeline.dvc_cli <dvc arguments>`: DVC's own command line, as `make repro` runs it, with
three things changed that change no number:

- dvc.lock is parsed and written by libyaml (PyYAML's C loader and dumper) in place of ruamel's pure-Python round
  trip. DVC reads and rewrites the whole lock around each stage it runs (treeverse/dvc#10629); with this project's
  lock of ~400 kB that round trip costs about 3.5 CPU-s a stage, the C one a tenth of that. The lock holds the same
  data (plain DVC reads it as up to date); only its line wrapping may differ. Between two stages one entry of the
  lock changes, so the text this process last read or wrote is not parsed again (`LockText`: its data is kept) and
  an entry written before is not rendered again; the file comes out byte for byte as a whole dump would write it.
- OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE, unless set): a multi-threaded stage whose threads spin
  between parallel regions burns the cores that its own other threads or the next process need. The wait policy
  changes when a thread sleeps, never how work is split, so every result is the same.
- Every stage it runs is timed: wall seconds, CPU seconds of the stage's processes and the mean 1-minute load
  average while it ran, written after each stage to metrics/timing/stages.json (timings.STAGE_TIMINGS), with the
  machine and the commit. A stage's entry is replaced the next time it runs; the entries of stages not run keep
  their own date and commit. It is a timing output, never a DVC metric; `make readme` renders it into docs/timings.md.

`--warm` (first, before DVC's arguments; `make repro` gives it): the stages are forked from one server that has
imported what the stage scripts import (tools/pipeline/warm_stages.py), which saves each stage about 3 CPU-s of imports;
their CPU seconds come back through the server's clients.

`--beside` (`make repro` gives it, after `--warm`): a second stage runs beside the one DVC is running. DVC runs a
DAG's stages one after another, and most use less than two cores (the teacher and pretrain 1.3 of their 2 threads,
most others one). As DVC starts each stage, the stages after it in DVC's plan that are ready (every stage upstream
of them done), that DVC would run (changed, and not restorable from its cache) and that measure no time (no output
under metrics/timing/) are queued for a worker that runs them one at a time beside DVC's; when DVC reaches one the
worker ran, it records it as it records any stage (hashes, cache, dvc.lock) without running its command again, and
one still queued it runs itself. At most two stages run at once, and a stage that measures time runs alone (the
worker pauses and DVC waits for what it runs): its timings would otherwise measure the other stage's load. No number
depends on which stage ran beside which: a stage reads only what is upstream of it, finished before it starts. Each
stage's timing entry names the stages that ran beside it (`beside`); its CPU seconds stay its own. A failure stops
both.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import yaml

from thermbench.core.io import read_json, write_json
from thermbench.tools.pipeline.timings import STAGE_TIMINGS, Sampler, commit, machine
from thermbench.tools.pipeline.warm_stages import CPU_LOG, cpu_seconds, warm_stages

LOCK = "dvc.lock"


class _Dumper(yaml.CSafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # a value DVC puts in two places is written twice, never as an anchor and alias


_Dumper.add_representer(OrderedDict, _Dumper.represent_dict)  # DVC builds its lock entries as OrderedDicts


def dump_lock(data, stream) -> None:
    """dvc.lock's data as this command line writes it (block style, keys in DVC's order, no line wrapping)."""
    yaml.dump(data, stream, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10**6)


def _plain(node):
    """`node` as the YAML loader returns it: plain dicts and lists, nothing shared."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    return [_plain(v) for v in node] if isinstance(node, list) else node


class LockText:
    """dvc.lock as this process last read or wrote it: the text, and its data pickled (each read gets a fresh copy:
    DVC changes what it reads), and each stage's rendered entry by its pickled data."""

    def __init__(self):
        self.text, self.data, self.entries = None, None, {}

    def load(self, text: str, parse):
        if text != self.text:
            self.text, self.data = text, pickle.dumps(parse(text))
        return pickle.loads(self.data)

    def dump(self, data, stream) -> None:
        """What `dump_lock` writes, rendering only the stage entries not rendered before."""
        plain, parts = _plain(data), []
        for key, value in plain.items():
            if key != "stages" or not isinstance(value, dict) or not value:
                parts.append(self._render({key: value}))
                continue
            parts.append("stages:\n")
            for name, entry in value.items():
                parts.append(self._render({"stages": {name: entry}}).split("\n", 1)[1])
        text = "".join(parts)
        stream.write(text)
        self.text, self.data = text, pickle.dumps(plain)

    def _render(self, data: dict) -> str:
        key = pickle.dumps(data)
        if key not in self.entries:
            stream = io.StringIO()
            dump_lock(data, stream)
            self.entries[key] = stream.getvalue()
        return self.entries[key]


def _patch_lock_io() -> None:
    import dvc.dvcfile
    import dvc.utils.strictyaml
    from dvc.utils.serialize import _common

    modify_yaml, parse_yaml = dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml
    held = LockText()

    def load(text, path):
        try:
            return held.load(text, lambda t: yaml.load(t, Loader=yaml.CSafeLoader) or {})
        except yaml.YAMLError:  # a broken lock: DVC's own parser raises the error plain DVC reports ("... is invalid")
            return parse_yaml(text, path)

    def quick_modify(path, fs=None):
        if Path(path).name == LOCK:
            return _common._modify_data(path, load, held.dump, fs=fs)
        return modify_yaml(path, fs=fs)

    def quick_parse(text, path, typ="safe"):
        return load(text, path) if Path(path).name == LOCK and typ == "safe" else parse_yaml(text, path, typ)

    dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml = quick_modify, quick_parse


def record(path: Path, stage: str, entry: dict) -> None:
    """Put one stage's timing `entry` into the timings file at `path`, keeping every other stage's."""
    held = read_json(path) if path.is_file() else {}
    stages = {**held.get("stages", {}), stage: entry}
    write_json(path, {"machine": machine(), "stages": dict(sorted(stages.items()))})


def _warm_cpu_s(path: str | None = None) -> float:
    """The CPU seconds the warm server's clients reported to the log at `path` (default: the environment's) since it
    was last emptied (0 when not warm)."""
    path = path or os.environ.get(CPU_LOG)
    if not path or not os.path.exists(path):
        return 0.0
    with open(path, "r+") as log:
        total = sum(float(line) for line in log if line.strip())
        log.truncate(0)
    return total


def _entry(root: Path, wall: float, cpu: float, loads: list[float], beside: list[str]) -> dict:
    loads = loads or [os.getloadavg()[0]]  # a stage shorter than one sample: the load as it ends
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_1m": round(sum(loads) / len(loads), 2),
            "date": datetime.date.today().isoformat(), "commit": commit(root),
            **({"beside": sorted(set(beside))} if beside else {})}


def timed(cmd_run, path: Path = STAGE_TIMINGS, beside: Beside | None = None):
    """DVC's `cmd_run` (runs one stage's commands) that records the stage's timing at `path` (relative to the
    stage's repository) once its commands succeed; with `beside`, a stage already run beside others is recorded
    instead of run, and a stage's entry names the stages run beside it."""
    def run(stage, dry=False, run_env=None):
        root = Path(stage.repo.root_dir)
        if beside is not None and beside.finishing(stage):
            record(root / path, stage.addressing, beside.finish(stage))
            return None
        if dry:
            return cmd_run(stage, dry=dry, run_env=run_env)
        _warm_cpu_s()
        if beside is not None:
            beside.foreground(stage.addressing)
        # the stages run beside this one count among this process's children: their CPU is their own
        children = beside.children_cpu if beside is not None else lambda: cpu_seconds(resource.RUSAGE_CHILDREN)
        started, cpu0 = time.perf_counter(), children()
        try:
            with Sampler(lambda: os.getloadavg()[0]) as load:
                cmd_run(stage, dry=dry, run_env=run_env)
        finally:
            others = beside.foreground(None) if beside is not None else []
        cpu = children() - cpu0 + _warm_cpu_s()
        record(root / path, stage.addressing, _entry(root, time.perf_counter() - started, cpu, load.values, others))
    return run


TIMING_OUTS = "metrics/timing/"  # a stage with an output here measures time: it runs alone


def measures_time(stage) -> bool:
    return any(str(out.def_path).startswith(TIMING_OUTS) for out in stage.outs)


class _Run:
    """A stage's commands run beside: started, then done (`result`: wall, CPU, loads; or `error`)."""

    def __init__(self, stage, kwargs: dict, cpu_log: str | None):
        self.stage, self.kwargs, self.cpu_log = stage, kwargs, cpu_log
        self.beside: list[str] = []
        self.done = threading.Event()
        self.error: Exception | None = None
        self.result: tuple[float, float, list[float]] = (0.0, 0.0, [])


class Beside:
    """A second worker beside DVC's (the module's `--beside`), over one `dvc repro` plan at a time (`begin` ...
    `close`): DVC's thread queues the stages that are ready as each stage starts; the worker runs them one at a time
    while DVC runs its own; DVC records one the worker ran (or waits for it) when its plan reaches it, and runs one
    still queued itself."""

    def __init__(self):
        self._cond = threading.Condition()
        self.reaped_cpu = 0.0  # CPU seconds of the commands run beside, counted as each is reaped
        self._reset()

    def _reset(self) -> None:
        self.plan, self.graph, self.kwargs = [], None, {}
        self.done: set = set()
        self.asked: set = set()  # ready stages already queued or found not to run beside (their state is final)
        self.queue: list[_Run] = []
        self.runs: dict = {}  # stage -> _Run, started by the worker
        self.current: _Run | None = None
        self.process: subprocess.Popen | None = None
        self.paused = self.closed = False
        self.fg_name: str | None = None
        self.fg_beside: list[str] = []
        self._finishing = None
        self.worker: threading.Thread | None = None

    def begin(self, plan: list, graph, kwargs: dict) -> None:
        self._reset()
        self.plan, self.graph, self.kwargs = plan, graph, kwargs
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    # -- DVC's thread: its repro_fn
    def reproduce(self, reproduce_stage, stage, **kwargs):
        """Reproduce `stage` as DVC does: record it where the worker ran it, else queue what is ready and run it."""
        with self._cond:
            run = self.runs.get(stage)
            if run is None:
                self.queue = [r for r in self.queue if r.stage is not stage]  # still queued: DVC runs it
        if run is not None:
            run.done.wait()
            self._finishing = stage
            stage.remove_outs = lambda *a, **k: None  # its outputs are the ones just made
            try:
                ret = reproduce_stage(stage, **{**kwargs, "force": True})  # recorded even where they match dvc.lock
            finally:
                self._finishing = None
                del stage.remove_outs
        else:
            timing = measures_time(stage)
            self._pause(timing)  # a stage that measures time runs alone
            if not timing:
                self._queue_ready(stage)
            ret = reproduce_stage(stage, **kwargs)
        self.done.add(stage)
        return ret

    def _pause(self, paused: bool) -> None:
        with self._cond:
            self.paused = paused
            self._cond.notify_all()
            while paused and self.current is not None:
                self._cond.wait()

    def _ready(self, stage) -> bool:
        return all(up in self.done or up not in self.plan for up in self.graph.successors(stage))

    def _would_run(self, stage) -> bool:
        from dvc.stage.cache import RunCacheNotFoundError

        if stage.frozen or not stage.cmd or measures_time(stage):
            return False
        if self.kwargs.get("force"):
            return True
        if not stage.changed(self.kwargs.get("allow_missing", False), list(self.graph.successors(stage))):
            return False
        try:  # what DVC does before it runs a changed stage: restore it from its cache where it can
            stage.repo.stage_cache.restore(stage, run_cache=self.kwargs.get("run_cache", True), dry=True)
        except RunCacheNotFoundError:
            return True
        return False

    def _queue_ready(self, current) -> None:
        from dvc.stage.run import prepare_kwargs

        log = os.environ.get(CPU_LOG)
        cpu_log = f"{log}.beside" if log else None  # the worker's forked processes' CPU, apart from DVC's stage's
        for stage in self.plan[self.plan.index(current) + 1:]:
            if stage in self.asked or stage in self.done or not self._ready(stage):
                continue
            self.asked.add(stage)  # ready: whether it runs is decided for good
            try:
                would_run = self._would_run(stage)
            except Exception:  # noqa: BLE001 - DVC meets the same error when it reaches the stage, and reports it
                would_run = False
            if would_run:
                stage.remove_outs(ignore_remove=False, force=False)  # as DVC's Stage.run does before the command
                run = _Run(stage, prepare_kwargs(stage, run_env={CPU_LOG: cpu_log} if cpu_log else None), cpu_log)
                with self._cond:
                    self.queue.append(run)
                    self._cond.notify_all()

    # -- the worker's thread
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self.closed and (self.paused or not self.queue):
                    self._cond.wait()
                if self.closed:
                    return
                run = self.current = self.queue.pop(0)
                self.runs[run.stage] = run
                if self.fg_name:
                    run.beside.append(self.fg_name)
                    self.fg_beside.append(run.stage.addressing)
            try:
                self._commands(run)
            finally:
                with self._cond:
                    self.current, self.process = None, None
                    run.done.set()
                    self._cond.notify_all()

    def _commands(self, run: _Run) -> None:
        from dvc.stage.exceptions import StageCmdFailedError
        from dvc.stage.run import _enforce_cmd_list, _make_cmd, display_command, get_executable

        print(f"Running stage '{run.stage.addressing}' beside DVC's stages:", file=sys.stderr, flush=True)
        started, cpu = time.perf_counter(), 0.0
        with Sampler(lambda: os.getloadavg()[0]) as load:
            for cmd in _enforce_cmd_list(run.stage.cmd):
                display_command(cmd)
                with self._cond:
                    if self.closed:
                        run.error = StageCmdFailedError(cmd)
                        break
                    # its own process group: stopping it stops what its shell started too
                    self.process = subprocess.Popen(_make_cmd(get_executable(), cmd), **run.kwargs,
                                                    start_new_session=True)
                os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT)  # ended; reaped below, with the count
                with self._cond:  # DVC's thread reads its children's CPU and this count together (`children_cpu`)
                    _, status, usage = os.wait4(self.process.pid, 0)  # this child's own CPU
                    self.process.returncode = code = os.waitstatus_to_exitcode(status)
                    self.reaped_cpu += usage.ru_utime + usage.ru_stime
                cpu += usage.ru_utime + usage.ru_stime
                if code != 0:
                    run.error = StageCmdFailedError(cmd, code)
                    break
        run.result = (time.perf_counter() - started, cpu + (_warm_cpu_s(run.cpu_log) if run.cpu_log else 0.0),
                      load.values)

    # -- for `timed`, in DVC's thread
    def foreground(self, name: str | None) -> list[str]:
        """DVC's thread starts (`name`) or ends (None) a stage's commands; at the end, the stages run beside it."""
        with self._cond:
            others, self.fg_name, self.fg_beside = self.fg_beside, name, []
            if name and self.current is not None:
                self.current.beside.append(name)
                self.fg_beside.append(self.current.stage.addressing)
        return others

    def children_cpu(self) -> float:
        """The CPU seconds of this process's reaped children, less those of the commands run beside."""
        with self._cond:
            return cpu_seconds(resource.RUSAGE_CHILDREN) - self.reaped_cpu

    def finishing(self, stage) -> bool:
        return stage is self._finishing

    def finish(self, stage) -> dict:
        """The timing entry of `stage`, run beside, or its command's error."""
        run = self.runs.pop(stage)
        if run.error is not None:
            raise run.error
        wall, cpu, loads = run.result
        return _entry(Path(stage.repo.root_dir), wall, cpu, loads, run.beside)

    def close(self) -> None:
        """Stop the worker and a command it still runs (DVC stopped: done, a failure, an interrupt)."""
        with self._cond:
            self.closed = True
            if self.process is not None and self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # the group ended on its own meanwhile
                    os.killpg(self.process.pid, signal.SIGTERM)
            self._cond.notify_all()
        if self.worker is not None:
            self.worker.join()
        self._reset()


def with_beside(reproduce, reproduce_stage, beside: Beside):
    """DVC's `_reproduce` (runs a plan of stages), running stages beside DVC's where the plan allows (`beside`),
    through the stage runner DVC was given (`dvc exp run` brings its own) or DVC's `reproduce_stage`; DVC's own where
    the run is dry, pulls or forces downstream."""
    def run(stages, graph=None, **kwargs):
        if graph is None or any(kwargs.get(k) for k in ("dry", "pull", "force_downstream")):
            return reproduce(stages, graph=graph, **kwargs)
        one = kwargs.pop("repro_fn", None) or reproduce_stage
        beside.begin(list(stages), graph, kwargs)
        try:
            return reproduce(stages, graph=graph,
                             repro_fn=lambda stage, **kw: beside.reproduce(one, stage, **kw), **kwargs)
        finally:
            beside.close()
    return run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--help"], ["-h"]):  # this command line's own description; DVC's arguments: `dvc --help`
        print(__doc__ + "\nEvery other argument is DVC's own (`dvc --help`).")
        raise SystemExit(0)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any stage starts: its OpenMP runtime reads it once
    _patch_lock_io()
    import dvc.stage.run
    from dvc.cli import main as dvc_main

    warm = argv[:1] == ["--warm"]
    argv = argv[warm:]
    beside = Beside() if argv[:1] == ["--beside"] else None
    argv = argv[beside is not None:]
    dvc.stage.run.cmd_run = timed(dvc.stage.run.cmd_run, beside=beside)
    if beside is not None:
        import dvc.repo.reproduce as repro

        repro._reproduce = with_beside(repro._reproduce, repro._reproduce_stage, beside)
    if not warm:
        return dvc_main(argv)
    with warm_stages(dict(os.environ), Path.cwd()) as env:
        os.environ.clear()
        os.environ.update(env)  # the stages' `python` is the warm server's client
        return dvc_main(argv)


if __name__ == "__main__":
    sys.exit(main())
