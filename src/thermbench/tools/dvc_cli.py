"""`python -m thermbench.tools.dvc_cli <dvc arguments>`: DVC's own command line, as `make repro` runs it, with three
things changed that change no number:

- dvc.lock is parsed and written by libyaml (PyYAML's C loader and dumper) in place of ruamel's pure-Python round
  trip. DVC reads and rewrites the whole lock around each stage it runs (treeverse/dvc#10629); with this project's
  lock of ~400 kB that round trip costs about 3.5 CPU-s a stage, the C one a tenth of that. The lock holds the same
  data (plain DVC reads it as up to date); only its line wrapping may differ.
- OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE, unless set): a multi-threaded stage whose threads spin
  between parallel regions burns the cores that its own other threads or the next process need. The wait policy
  changes when a thread sleeps, never how work is split, so every result is the same.
- Every stage it runs is timed: wall seconds, CPU seconds of the stage's processes and the mean 1-minute load
  average while it ran, written after each stage to metrics/timing/stages.json (timings.STAGE_TIMINGS), with the
  machine and the commit. A stage's entry is replaced the next time it runs; the entries of stages not run keep
  their own date and commit. It is a timing output, never a DVC metric; `make readme` renders it into docs/timings.md.

`--warm` (first, before DVC's arguments; `make repro` gives it): the stages are forked from one server that has
imported what the stage scripts import (tools/warm_stages.py), which saves each stage about 3 CPU-s of imports;
their CPU seconds come back through the server's clients.
"""

from __future__ import annotations

import datetime
import os
import resource
import sys
import time
from collections import OrderedDict
from pathlib import Path

import yaml

from thermbench.core.io import read_json, write_json
from thermbench.tools.timings import STAGE_TIMINGS, Sampler, commit, machine
from thermbench.tools.warm_stages import CPU_LOG, cpu_seconds, warm_stages

LOCK = "dvc.lock"


class _Dumper(yaml.CSafeDumper):
    pass


_Dumper.add_representer(OrderedDict, _Dumper.represent_dict)  # DVC builds its lock entries as OrderedDicts


def dump_lock(data, stream) -> None:
    """dvc.lock's data as this command line writes it (block style, keys in DVC's order, no line wrapping)."""
    yaml.dump(data, stream, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10**6)


def _patch_lock_io() -> None:
    import dvc.dvcfile
    import dvc.utils.strictyaml
    from dvc.utils.serialize import _common

    modify_yaml, parse_yaml = dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml

    def load(text, path):
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader) or {}
        except yaml.YAMLError:  # a broken lock: DVC's own parser raises the error plain DVC reports ("... is invalid")
            return parse_yaml(text, path)

    def quick_modify(path, fs=None):
        if Path(path).name == LOCK:
            return _common._modify_data(path, load, dump_lock, fs=fs)
        return modify_yaml(path, fs=fs)

    def quick_parse(text, path, typ="safe"):
        return load(text, path) if Path(path).name == LOCK and typ == "safe" else parse_yaml(text, path, typ)

    dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml = quick_modify, quick_parse


def record(path: Path, stage: str, entry: dict) -> None:
    """Put one stage's timing `entry` into the timings file at `path`, keeping every other stage's."""
    held = read_json(path) if path.is_file() else {}
    stages = {**held.get("stages", {}), stage: entry}
    write_json(path, {"machine": machine(), "stages": dict(sorted(stages.items()))})


def _warm_cpu_s() -> float:
    """The CPU seconds the warm server's clients reported since the log was last emptied (0 when not warm)."""
    path = os.environ.get(CPU_LOG)
    if not path or not os.path.exists(path):
        return 0.0
    with open(path, "r+") as log:
        total = sum(float(line) for line in log if line.strip())
        log.truncate(0)
    return total


def timed(cmd_run, path: Path = STAGE_TIMINGS):
    """DVC's `cmd_run` (runs one stage's commands) that records the stage's timing at `path` (relative to the
    stage's repository) once its commands succeed."""
    def run(stage, dry=False, run_env=None):
        if dry:
            return cmd_run(stage, dry=dry, run_env=run_env)
        _warm_cpu_s()
        started, cpu0 = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
        with Sampler(lambda: os.getloadavg()[0]) as load:
            cmd_run(stage, dry=dry, run_env=run_env)
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0 + _warm_cpu_s()
        loads = load.values or [os.getloadavg()[0]]  # a stage shorter than one sample: the load as it ends
        root = Path(stage.repo.root_dir)
        record(root / path, stage.addressing, {
            "wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(cpu, 1),
            "load_1m": round(sum(loads) / len(loads), 2), "date": datetime.date.today().isoformat(),
            "commit": commit(root)})
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

    dvc.stage.run.cmd_run = timed(dvc.stage.run.cmd_run)
    if argv[:1] != ["--warm"]:
        return dvc_main(argv)
    with warm_stages(dict(os.environ), Path.cwd()) as env:
        os.environ.clear()
        os.environ.update(env)  # the stages' `python` is the warm server's client
        return dvc_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
