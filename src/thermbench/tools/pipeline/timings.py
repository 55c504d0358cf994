"""How long the two commands take and how much disk they use, measured here and written to metrics/timing/make.json:
`python -m thermbench.tools.pipeline.timings measure smoke|default|test`. `make readme` renders the file into the
README.

- smoke, default: `make repro` on that profile as a fresh clone runs it, in a scratch copy of the working tree (no
  dvc.lock, no stage timings of earlier runs, no DVC cache, no remote: every stage runs): the wall time of `dvc
  repro`, and the disk it left (the copy's `data/` and DVC cache, each file counted once however it is linked).
  `--in-place`: in this checkout itself, which must be a fresh clone (no DVC cache): its lock kept, as a user's clone
  has it (a stage whose outputs are all committed and whose inputs come out as locked is skipped), and what the
  stages made stays (for `make conclusions` to follow).
- test: `make test` here with the venv set up, with TMPDIR a fresh folder: the wall time, and the most that folder
  held (sampled every 2 s; the smoke regression's scratch copy and the tests' temporary files live there).

`python -m thermbench.tools.pipeline.timings workers --stage supervised@t --counts 1,2`: what more cores give a training
stage. In this checkout, whose DAG must be made (`make repro`), the stage is re-run (`dvc repro -s -f`, as `make repro`
runs it) at each count of `train.workers`, params.yaml restored after: its wall and CPU seconds at each, its number of
runs, and whether its outputs (their hashes in dvc.lock) came out identical at every count (no number depends on the
workers) -> metrics/timing/workers.json, which `make readme` renders with the model it gives for more cores.

Each entry names the machine (CPU model, cores, memory), the commit and the date, and the mean 1-minute load average
during the run (above the core count: other work shared the cores, and the wall time is an upper bound); it is
replaced by the next measurement of its kind; the venv's size is recorded beside it.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from thermbench import cpuinfo_model, read_cpuinfo
from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.stage import run as run_tool
from thermbench.tools.gates.regression import copy_worktree, stage_env

TIMINGS = Path("metrics/timing/make.json")
WORKERS = Path("metrics/timing/workers.json")
# each stage's, written as `make repro` runs it (tools/pipeline/dvc_cli.py)
STAGE_TIMINGS = Path("metrics/timing/stages.json")
KINDS = ("smoke", "default", "test")
UNKNOWN = "unknown"  # the commit of a folder that is no git repository
SAMPLE_S = 2.0  # how often `make test`'s temporary folder, or the load during a stage, is measured


def disk_bytes(*roots: Path) -> int:
    """The disk the files under `roots` take (allocated blocks), each inode counted once: DVC links its cache and
    workspace copies where it can. A file removed while the folders are walked counts as gone."""
    seen, total = set(), 0
    for root in roots:
        for folder, _, files in os.walk(root):
            for name in files:
                try:
                    st = os.lstat(os.path.join(folder, name))
                except FileNotFoundError:  # removed after the walk listed it (DVC's and pip's temporary files)
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpuinfo_model(read_cpuinfo()), "cores": os.cpu_count(), "memory_gb": round(memory / 1e9, 1)}


def commit(repo: Path) -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True,
                           text=True)
    if head.returncode != 0:
        return UNKNOWN
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise InputError(f"{cwd}: `{' '.join(cmd)}` failed with exit code {done.returncode} (see {log.name})")


def fresh_copy(repo: Path, work: Path) -> Path:
    """`repo`'s working tree copied to `work` for a run of every stage: without dvc.lock (a fresh clone has the lock,
    but no outputs and no cache: all run) and without the stage timings of the runs that made `repo`'s results, whose
    entries for stages the profile lacks would otherwise read as this run's."""
    copy_worktree(repo, work)
    for path in ("dvc.lock", STAGE_TIMINGS):
        (work / path).unlink(missing_ok=True)
    return work


def measure_repro(repo: Path, profile: str, scratch: Path, log, in_place: bool = False) -> dict:
    """`make repro` on `profile` as a fresh clone without a DVC remote runs it, in a copy under `scratch`, or
    (`in_place`) in `repo` itself, which must hold no DVC cache."""
    copied = commit(repo)  # the stages run this commit's code, whatever HEAD is when they end
    if in_place:
        cache = repo / ".dvc" / "cache"
        if cache.is_dir() and any(cache.iterdir()):
            raise InputError(f"--in-place: {repo} has a DVC cache ({cache}); measure a fresh clone")
        work = repo
    else:
        work = fresh_copy(repo, scratch / "project")
    python, env = sys.executable, stage_env(work)
    _run([python, "-m", "thermbench.tools.pipeline.profiles", profile, "--force"], work, env, log)
    if not in_place:  # the copy is no git repository
        _run([python, "-m", "dvc", "config", "core.no_scm", "true"], work, env, log)
    _run([python, "-m", "thermbench.tools.submissions.check_submissions"], work, env, log)
    start = time.monotonic()
    _run([python, "-m", "thermbench.tools.pipeline.dvc_cli", "--warm", "--beside", "repro"], work, env, log)  # as make
    seconds = time.monotonic() - start
    how = ("fresh clone, no DVC cache or remote: its dvc.lock kept, so a stage whose outputs are all committed and "
           "whose inputs came out as locked is skipped" if in_place else
           "fresh copy, no dvc.lock, DVC cache or remote: every stage runs")
    stages = work / STAGE_TIMINGS
    if stages.is_file():  # each stage's own timing, kept beside make.json for docs/timings.md
        held = read_json(stages)  # the copy is no git repository: its stages ran this repository's commit
        made_here = (UNKNOWN, f"{copied} with uncommitted changes")  # in place, the run's own dvc.lock and outputs
        held["stages"] = {name: {**e, "commit": copied if e["commit"] in made_here else e["commit"]}
                          for name, e in held["stages"].items()}
        write_json(repo / STAGE_TIMINGS.with_name(f"stages_{profile}.json"), {**held, "how": how})
    return {"command": f"make repro (profile {profile}; {how})",
            "seconds": round(seconds), "disk_bytes": disk_bytes(work / "data", work / ".dvc" / "cache")}


def measure_test(repo: Path, scratch: Path, log) -> dict:
    """`make test` in `repo`, its temporary files in `scratch`: the wall time and the most `scratch` held."""
    env = {**os.environ, "TMPDIR": str(scratch)}
    start = time.monotonic()
    with Sampler(lambda: disk_bytes(scratch)) as peak:
        _run(["make", "test"], repo, env, log)
    return {"command": "make test (venv set up; unit tests and the smoke regression)",
            "seconds": round(time.monotonic() - start), "disk_bytes": max(peak.values, default=0)}


def _stage_outs(lock: dict, stage: str) -> dict[str, str]:
    entry = lock.get("stages", {}).get(stage)
    if entry is None:
        raise InputError(f"dvc.lock has no stage {stage}: run `make repro` first (the stage re-runs from its inputs)")
    return {o["path"]: o.get("md5") for o in entry.get("outs", [])}


def measure_workers(repo: Path, stage: str, counts: list[int], log) -> dict:
    """`stage` re-run in `repo` at each of `counts` training workers; see the module doc."""
    import yaml

    kept = {name: (repo / name).read_text() for name in ("params.yaml", "dvc.yaml")}  # profiles rewrites both
    locked = _stage_outs(yaml.safe_load((repo / "dvc.lock").read_text()), stage)
    models = [p for p in locked if p.startswith("data/models/")]
    if not models:
        raise InputError(f"{stage}: no output under data/models/ (not a training stage)")
    runs = sum(1 for child in (repo / models[0]).iterdir() if child.is_dir())
    python, env = sys.executable, stage_env(repo)
    measured, identical, first = [], True, None
    try:
        for count in counts:
            _run([python, "-m", "thermbench.tools.pipeline.profiles", "default", "--force", "--set",
                  f"train.workers={count}"], repo, env, log)
            with Sampler(lambda: os.getloadavg()[0]) as load:
                start = time.monotonic()
                _run([python, "-m", "thermbench.tools.pipeline.dvc_cli", "--warm", "repro", "-s", "-f", stage],
                     repo, env, log)
                wall = time.monotonic() - start
            timed = read_json(repo / STAGE_TIMINGS)["stages"][stage]
            outs = _stage_outs(yaml.safe_load((repo / "dvc.lock").read_text()), stage)
            first = first or outs
            identical &= outs == first  # each count's outputs against the first count's, made by the same code
            measured.append({"workers": count, "wall_s": round(wall, 1), "cpu_s": timed["cpu_s"],
                             "load_1m": round(sum(load.values) / len(load.values), 2) if load.values else None})
    finally:
        for name, text in kept.items():
            (repo / name).write_text(text)
    return {"stage": stage, "runs": runs, "measured": measured, "outputs_identical": identical}


def workers_model(runs: int, measured: list[dict]) -> dict:
    """The stage's wall time at `w` workers as `fixed + per_round * ceil(runs / w)`, fitted to the fewest and the most
    workers measured (runs of equal length, each on a core of its own): the seconds a machine with more cores would
    take, at every count up to `runs` (beyond it no run waits)."""
    low, high = min(measured, key=lambda m: m["workers"]), max(measured, key=lambda m: m["workers"])
    rounds_low, rounds_high = math.ceil(runs / low["workers"]), math.ceil(runs / high["workers"])
    if rounds_low == rounds_high:
        raise InputError("workers: the counts measured give the same number of rounds; measure 1 and more")
    per_round = (low["wall_s"] - high["wall_s"]) / (rounds_low - rounds_high)
    fixed = low["wall_s"] - per_round * rounds_low
    return {"fixed_s": round(fixed, 1), "per_round_s": round(per_round, 1),
            "predicted": {str(w): round(fixed + per_round * math.ceil(runs / w), 1) for w in range(1, runs + 1)}}


class Sampler:
    """Calls `measure` every SAMPLE_S seconds in a thread while the block runs; `.values` holds what it returned."""

    def __init__(self, measure):
        self.measure, self.values, self._stop = measure, [], threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.values.append(self.measure())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(kind: str, repo: Path, out: Path, in_place: bool = False) -> dict:
    """Measure `kind` (`in_place`: see `measure_repro`), replace its entry of `out` (the others kept) and return the
    entry."""
    measured_commit = commit(repo)  # before the run: the tree copied (or tested) is this one
    scratch = Path(tempfile.mkdtemp(prefix=f"thermbench-timings-{kind}-"))
    log_path = Path(tempfile.gettempdir()) / f"thermbench-timings-{kind}.log"
    print(f"timings: measuring {kind}; log in {log_path}", file=sys.stderr, flush=True)
    try:
        with open(log_path, "w") as log, Sampler(lambda: os.getloadavg()[0]) as load:
            entry = (measure_test(repo, scratch, log) if kind == "test" else
                     measure_repro(repo, kind, scratch, log, in_place))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The load says whether the cores were the run's own: on a shared machine the wall time is an upper bound.
    entry.update(machine=machine(), commit=measured_commit, date=datetime.date.today().isoformat(),
                 load_average=round(sum(load.values) / len(load.values), 1) if load.values else None,
                 venv_bytes=disk_bytes(repo / ".venv") if (repo / ".venv").exists() else None)
    timings = read_json(out) if out.is_file() else {}
    timings[kind] = entry
    write_json(out, {k: timings[k] for k in KINDS if k in timings})
    return entry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    one = sub.add_parser("measure", help="measure one kind and write its entry")
    one.add_argument("kind", choices=KINDS)
    one.add_argument("--repo", type=Path, default=Path("."))
    one.add_argument("--in-place", action="store_true", help="smoke, default: run in the checkout itself (a fresh "
                     "clone, no DVC cache) and keep what the stages made")
    workers = sub.add_parser("workers", help="re-run one training stage at each count of train.workers")
    workers.add_argument("--stage", default="supervised@t")
    workers.add_argument("--counts", default=None, help="comma-separated worker counts (default: 1 and this "
                         "machine's cores)")
    workers.add_argument("--repo", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if args.action == "workers":
        try:
            counts = [int(c) for c in args.counts.split(",")] if args.counts else sorted({1, os.cpu_count() or 1})
        except ValueError:
            counts = []
        if len(counts) < 2 or min(counts) < 1:
            raise InputError(f"--counts: two or more worker counts of at least 1 (got {args.counts})")
        log_path = Path(tempfile.gettempdir()) / "thermbench-timings-workers.log"
        print(f"timings: {args.stage} at {counts} workers; log in {log_path}", file=sys.stderr, flush=True)
        with open(log_path, "w") as log:
            result = measure_workers(repo, args.stage, counts, log)
        result.update(machine=machine(), commit=commit(repo), date=datetime.date.today().isoformat(),
                      model=workers_model(result["runs"], result["measured"]))
        write_json(repo / WORKERS, result)
        print(f"{args.stage}: " + ", ".join(f"{m['workers']} workers {m['wall_s']} s" for m in result["measured"])
              + f"; outputs identical: {result['outputs_identical']} -> {WORKERS}")
        return
    if args.in_place and args.kind == "test":
        raise InputError("--in-place: only for smoke and default (make test runs here anyway)")
    entry = measure(args.kind, repo, repo / TIMINGS, args.in_place)
    print(f"{args.kind}: {entry['seconds']} s, {entry['disk_bytes'] / 1e9:.2f} GB on {entry['machine']['cpu']} "
          f"({entry['machine']['cores']} cores) -> {TIMINGS}")


if __name__ == "__main__":
    run_tool(main)
