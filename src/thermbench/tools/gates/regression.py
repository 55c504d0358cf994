"""CI regression gate: run the `smoke` profile of the whole DAG in a scratch copy of the repo and compare its metrics
with a committed, calibrated baseline.

    python -m thermbench.tools.gates.regression check        # `make regression`: exit 1 with a table of what moved
    python -m thermbench.tools.gates.regression calibrate    # `make baseline`: re-measure the baseline; review, commit

Two kinds of numbers, two checks (the rules in tests/baseline/tolerances.yaml say which metric is which, and why):
- exact: numbers that follow from code and data alone (counts, parameters, FLOPs, data statistics) must be
  reproduced to 1e-9;
- band: numbers that come out of training move when another CPU runs other float kernels. `calibrate` measured
  how much: it ran the smoke DAG under several training seeds, each under several CPU kernel settings, and the
  baseline holds per metric the centre (median over the kernel settings at the base seed, the seed `check` runs)
  and the spread (the largest range over the kernel settings at any one seed; with `pool`, at least that of the
  metric's family, see `family_spreads`). `check` allows |new - centre| <= max(floor, k x spread), k and the floor
  from the tolerances file;
- outcome: discrete training outcomes (best epoch, epochs run, converged flags): an argmin over nearly tied
  validation losses flips on another CPU's rounding while the model it picks stays in its bands. A changed outcome
  is listed and never fails alone: the metrics it leads to are gated;
- skip: numbers too chaotic at smoke size to guard anything, listed with the reason.

`check` then shares the finished run as a team would (`thermbench.tools.pipeline.team_remote`): pushed to a DVC remote
folder, pulled into a fresh clone, where `dvc status` must be clean and `dvc repro` must run no stage.

`check` runs its DAG under `warm`, where given: `make test` and `make regression` pass the fork server `make repro`
uses (tools/pipeline/warm_stages.py: about 3 CPU-s of imports saved a stage), and then runs a second stage beside the
one DVC runs, as `make repro` does (tools/pipeline/dvc_cli.py, `--beside`); `calibrate` starts each stage fresh, one
after another, as `dvc repro` does, so a number a fork or a stage beside another changed would fail the gate.

The gate pins `environment` of the tolerances file (MKL's code path) in its own run and in every calibration run.

A metric is named `<path under metrics/>:<dotted key>` (list items by index): every JSON under metrics/, whether or
not dvc.yaml registers it as a DVC metric. metrics/timing/ and metrics/scale.json (machine costs, `make scale`, not
the DAG's) are never compared, nor metrics/headline/ (copies of numbers gated in the files they come from).
Policy for metrics on one side only: a metric the baseline has and the run does not produce FAILS (a number that
silently disappears is a change); a new metric is listed but passes (it has no calibration yet: `make baseline`).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from thermbench import cpuinfo_model, read_cpuinfo
from thermbench.core.io import InputError, is_number, write_text
from thermbench.core.stage import run as run_stage
from thermbench.tools.pipeline.team_remote import round_trip

BASELINE = Path("tests/baseline/smoke_baseline.json")
TOLERANCES = Path("tests/baseline/tolerances.yaml")
MEASURED_APART = ("gpu",)  # under metrics/: inputs measured outside the DAG (`make gpu-check`), kept in copies
EXCLUDED = ("timing", "scale.json", "headline", *MEASURED_APART)  # first part of a path under metrics/
EXACT_TOL = 1e-9  # "exact" for floats: |new - baseline| <= 1e-9 * max(1, |baseline|)
CHECKS = ("exact", "band", "outcome", "skip")

Scalar = float | int | bool | str | None
Warm = Callable[[dict[str, str], Path], AbstractContextManager[dict[str, str]]]  # (env, workdir) -> the DAG's env


# ------------------------------------------------------------------------------------------------------ collection
def flatten(obj: object, prefix: str = "") -> dict[str, Scalar]:
    """Nested dicts/lists -> {"key.0.sub": scalar}."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return {prefix: obj}
    out: dict[str, Scalar] = {}
    for key, value in items:
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def collect_metrics(metrics_dir: Path) -> dict[str, Scalar]:
    """Every scalar of every JSON under `metrics_dir` (recursively), except those of `EXCLUDED`."""
    out: dict[str, Scalar] = {}
    for path in sorted(metrics_dir.rglob("*.json")):
        rel = path.relative_to(metrics_dir)
        if rel.parts[0] in EXCLUDED:
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
        out.update({f"{rel.as_posix()}:{key}": value for key, value in flatten(data).items()})
    return out


# ------------------------------------------------------------------------------------------------------ tolerances
@dataclass(frozen=True)
class Rule:
    """Metrics whose name matches `pattern` (fnmatch) get `check`; `floor_*` override the file's floor (band)."""

    pattern: str
    check: str
    why: str
    floor_abs: float | None = None
    floor_rel: float | None = None


@dataclass(frozen=True)
class Calibration:
    """How `calibrate` varies the smoke run: training seeds (an offset added to each `seed_params` value, offset 0
    = the profile's own seeds) times CPU kernel settings (extra environment variables per setting)."""

    seed_params: tuple[str, ...]
    seed_offsets: tuple[int, ...]
    keep_stages: tuple[str, ...]  # stages whose outputs the other seeds reuse (the data is not re-drawn)
    kernels: dict[str, dict[str, str]]
    jobs: int = 2


@dataclass(frozen=True)
class Tolerances:
    k: float
    floor_abs: float
    floor_rel: float
    rules: tuple[Rule, ...]
    calibration: Calibration
    pool: bool = False  # band metrics also get the largest spread of their family (see family_spreads)
    environment: dict[str, str] = field(default_factory=dict)  # set in every smoke run of the gate

    def env_for(self, kernel: str | None = None) -> dict[str, str]:
        """The gate's environment, with a kernel setting's variables over it."""
        return {**self.environment, **(self.calibration.kernels[kernel] if kernel else {})}

    def rule_for(self, name: str) -> Rule:
        """The first rule whose pattern matches (the file must end with a catch-all '*')."""
        rule = next((r for r in self.rules if fnmatch.fnmatchcase(name, r.pattern)), None)
        if rule is None:
            raise InputError(f"{TOLERANCES}: no rule matches metric '{name}'; end the rules with pattern '*'")
        return rule

    def floor(self, rule: Rule, centre: float) -> float:
        floor_abs = self.floor_abs if rule.floor_abs is None else rule.floor_abs
        floor_rel = self.floor_rel if rule.floor_rel is None else rule.floor_rel
        return floor_abs + floor_rel * math.fabs(centre)


def _need(mapping: dict, key: str, kind: type | tuple, where: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputError(f"{where}: missing '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"{where}: '{key}' has the wrong type ({value!r})")
    return value


def load_tolerances(path: Path = TOLERANCES) -> Tolerances:
    if not path.is_file():
        raise InputError(f"{path}: tolerances file not found")
    data = yaml.safe_load(path.read_text()) or {}
    where = str(path)
    rules = []
    for i, raw in enumerate(_need(data, "rules", list, where)):
        here = f"{path}: rule {i}"
        extra = set(raw) - {"pattern", "check", "why", "floor_abs", "floor_rel"} if isinstance(raw, dict) else {}
        if extra:
            raise InputError(f"{here}: unknown key(s) {', '.join(sorted(extra))}")
        check = _need(raw, "check", str, here)
        if check not in CHECKS:
            raise InputError(f"{here}: check must be one of {', '.join(CHECKS)}, not '{check}'")
        floors = {key: float(_need(raw, key, (int, float), here)) for key in ("floor_abs", "floor_rel") if key in raw}
        rules.append(Rule(str(_need(raw, "pattern", str, here)), check, str(_need(raw, "why", str, here)), **floors))
    if not rules or rules[-1].pattern != "*":
        raise InputError(f"{path}: the last rule must be the catch-all pattern '*'")
    cal = _need(data, "calibration", dict, where)
    here = f"{path}: calibration"
    kernels = _need(cal, "kernels", dict, here)
    if len(kernels) < 2 or not all(isinstance(env, dict) for env in kernels.values()):
        raise InputError(f"{here}: 'kernels' must map at least two setting names to environment variables")
    offsets = tuple(int(s) for s in _need(cal, "seed_offsets", list, here))
    if len(offsets) < 2 or offsets[0] != 0 or len(set(offsets)) != len(offsets):
        raise InputError(f"{here}: 'seed_offsets' must start with 0 (the base seed) and hold distinct offsets")
    calibration = Calibration(
        seed_params=tuple(str(s) for s in _need(cal, "seed_params", list, here)), seed_offsets=offsets,
        keep_stages=tuple(str(s) for s in _need(cal, "keep_stages", list, here)),
        kernels={str(name): {str(k): str(v) for k, v in (env or {}).items()} for name, env in kernels.items()},
        jobs=int(cal.get("jobs", 2)))
    return Tolerances(k=float(_need(data, "k", (int, float), where)),
                      floor_abs=float(_need(data, "floor_abs", (int, float), where)),
                      floor_rel=float(_need(data, "floor_rel", (int, float), where)),
                      rules=tuple(rules), calibration=calibration, pool=bool(data.get("pool", False)),
                      environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()})


# -------------------------------------------------------------------------------------------------------- baseline
@dataclass(frozen=True)
class Entry:
    """One metric of the baseline: centre and spread (0 for non-numbers and for exact metrics)."""

    centre: Scalar
    spread: float = 0.0


@dataclass
class Baseline:
    entries: dict[str, Entry]
    unstable: dict[str, str] = field(default_factory=dict)  # name -> why it cannot be gated (never compared)
    info: dict = field(default_factory=dict)  # how it was calibrated

    def dumps(self) -> str:
        """JSON with one line per metric, so that the diff of a recalibration reads metric by metric."""
        lines = ["{", f'  "calibration": {json.dumps(self.info, sort_keys=True)},', '  "metrics": {']
        body = [f"    {json.dumps(name)}: {json.dumps({'centre': e.centre, 'spread': e.spread})}"
                for name, e in sorted(self.entries.items())]
        lines.append(",\n".join(body))
        lines += ["  },", '  "unstable": {']
        lines.append(",\n".join(f"    {json.dumps(n)}: {json.dumps(w)}" for n, w in sorted(self.unstable.items())))
        lines += ["  }", "}"]
        return "\n".join(line for line in lines if line) + "\n"


def read_baseline(path: Path = BASELINE) -> Baseline:
    if not path.is_file():
        raise InputError(f"{path}: no baseline yet; run `make baseline`, review it and commit it")
    try:
        data = json.loads(path.read_text())
        entries = {name: Entry(e["centre"], float(e["spread"])) for name, e in data["metrics"].items()}
        return Baseline(entries, dict(data.get("unstable", {})), dict(data.get("calibration", {})))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}: not a baseline written by `make baseline` ({err})") from None


def _round(value: float) -> float:
    return round(value, 9)  # metrics carry 6 decimals; medians of two of them need a few more, never noise


def summarise(runs: dict[tuple[str, int], dict[str, Scalar]], tol: Tolerances, base_offset: int = 0) -> Baseline:
    """Baseline from calibration runs keyed (kernel setting, seed offset).

    Exact metrics must be identical in every run (the data is shared and they follow from it). Band metrics:
    centre = median over kernel settings at the base seed; spread = the largest range over kernel settings at any
    one seed (what a CPU change does at a fixed seed; the seeds give more than one sample of it). A metric absent
    from some runs, or a non-number that differs between runs, is `unstable`: listed, never compared.
    Raises InputError listing every metric the rules call exact that differed between runs."""
    names = sorted(set().union(*runs.values()))
    kernels = sorted({kernel for kernel, _ in runs})
    offsets = sorted({offset for _, offset in runs})
    entries: dict[str, Entry] = {}
    unstable: dict[str, str] = {}
    not_exact: list[str] = []
    for name in names:
        rule = tol.rule_for(name)
        absent = [f"{kernel}/seed+{offset}" for (kernel, offset), metrics in runs.items() if name not in metrics]
        if absent:
            unstable[name] = f"absent from calibration runs {', '.join(sorted(absent))}"
            continue
        values = {key: metrics[name] for key, metrics in runs.items()}
        base = [values[(kernel, base_offset)] for kernel in kernels]
        if not all(is_number(v) for v in values.values()):
            if len({json.dumps(v) for v in values.values()}) > 1 and rule.check != "outcome":
                if rule.check == "exact":
                    not_exact.append(f"{name}: {sorted({json.dumps(v) for v in values.values()})}")
                else:
                    unstable[name] = "differs between calibration runs and is not a number throughout"
                continue
            entries[name] = Entry(base[0])
            continue
        if rule.check == "exact":
            lo, hi = min(values.values()), max(values.values())
            if not exact_equal(lo, hi):
                not_exact.append(f"{name}: from {lo} to {hi} (rule '{rule.pattern}')")
            entries[name] = Entry(base[0])
            continue
        centre = statistics.median(base)
        spread = max(max(v) - min(v) for v in ([values[(k, o)] for k in kernels] for o in offsets))
        entries[name] = Entry(_round(centre) if isinstance(centre, float) else centre, _round(spread))
    if not_exact:
        raise InputError("calibration: these metrics are ruled exact in tests/baseline/tolerances.yaml but differ "
                         "between calibration runs (training seeds or CPU kernels reach them): give them a band "
                         "rule; or, where a data stage draws from a seed param, add it to calibration.keep_stages; "
                         "or find the nondeterminism\n  " + "\n  ".join(not_exact))
    return Baseline(entries, unstable)


def exact_equal(baseline: float, new: float) -> bool:
    return math.fabs(new - baseline) <= EXACT_TOL * max(1.0, math.fabs(baseline))


# ---------------------------------------------------------------------------------------------------------- compare
@dataclass(frozen=True)
class Moved:
    name: str
    check: str
    baseline: Scalar
    new: Scalar
    allowed: str
    spread: str


@dataclass
class Comparison:
    moved: list[Moved] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the baseline, not produced now: fails
    added: list[str] = field(default_factory=list)  # produced now, not in the baseline: listed, passes
    outcomes: list[Moved] = field(default_factory=list)  # discrete outcomes that changed: listed, pass
    skipped: int = 0
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.moved or self.missing)


def family(name: str) -> str:
    """The metric's kind across the files of one top folder of metrics/: `mlcmkd/ktl/ktl-fd.json:tfake.nme` and
    `mlcmkd/teacher.json:tfake.nme` -> `mlcmkd/*:tfake.nme`. A file at the top of metrics/ has no siblings: its
    metrics are their own family."""
    path, _, key = name.partition(":")
    return f"{path.split('/', 1)[0]}/*:{key}" if "/" in path else name


def family_spreads(baseline: Baseline, tol: Tolerances) -> dict[str, float]:
    """Per family, the largest spread of its band metrics relative to their centre. A CPU change reaches the runs of
    one kind sporadically (one run's training diverges at a seed, its sibling's does not), so each run's own spread
    undersamples it. Relative, because siblings differ in scale (a teacher's and a student's grad norms)."""
    out: dict[str, float] = {}
    if not tol.pool:
        return out
    for name, entry in baseline.entries.items():
        if is_number(entry.centre) and entry.centre != 0 and tol.rule_for(name).check == "band":
            out[family(name)] = max(out.get(family(name), 0.0), entry.spread / math.fabs(entry.centre))
    return out


def pooled_spread(name: str, entry: Entry, relative: dict[str, float]) -> float:
    """The family's relative spread at this metric's centre (0 without pooling or for a non-number)."""
    return relative.get(family(name), 0.0) * math.fabs(entry.centre) if is_number(entry.centre) else 0.0


def compare(baseline: Baseline, current: dict[str, Scalar], tol: Tolerances) -> Comparison:
    result = Comparison()
    pooled = family_spreads(baseline, tol)
    for name in sorted(set(baseline.entries) | set(current)):
        if name in baseline.unstable:
            continue
        if tol.rule_for(name).check == "skip":
            result.skipped += 1
        elif name not in current:
            result.missing.append(name)
        elif name not in baseline.entries:
            result.added.append(name)
        else:
            result.checked += 1
            entry = baseline.entries[name]
            moved = judge(name, entry, current[name], tol, pooled_spread(name, entry, pooled))
            if moved is not None:
                (result.outcomes if moved.check == "outcome" else result.moved).append(moved)
    return result


def judge(name: str, entry: Entry, new: Scalar, tol: Tolerances, pooled: float = 0.0) -> Moved | None:
    """None if `new` is within what the rule allows around the baseline entry, else the row of the report.
    `pooled`: the spread of the metric's family (used where larger than its own)."""
    rule = tol.rule_for(name)
    if rule.check == "outcome":  # numbers by value (a median of epochs is a float), anything else by type and value
        numbers = is_number(entry.centre) and is_number(new)
        same = entry.centre == new if numbers else type(entry.centre) is type(new) and entry.centre == new
        return None if same else Moved(name, "outcome", entry.centre, new, "any (what it leads to is gated)", "-")
    if not (is_number(entry.centre) and is_number(new)):  # strings, booleans, nulls (NaN): equal, same type
        if type(entry.centre) is type(new) and entry.centre == new:
            return None
        return Moved(name, rule.check, entry.centre, new, "equal", "-")
    delta = math.fabs(new - entry.centre)
    if rule.check == "exact":
        return None if exact_equal(entry.centre, new) else Moved(name, "exact", entry.centre, new, "±1e-9", "-")
    floor = tol.floor(rule, entry.centre)
    spread = max(entry.spread, pooled)
    allowed = max(floor, tol.k * spread)
    if delta <= allowed * (1 + 1e-9):
        return None
    how = f"{tol.k:g} × spread" if tol.k * spread >= floor else "floor"
    source = f" (pooled over {family(name)})" if pooled > entry.spread else ""
    return Moved(name, "band", entry.centre, new, f"±{allowed:.6g} ({how})", f"{spread:.6g}{source}")


def _cell(value: Scalar) -> str:
    return "null" if value is None else str(value).replace("|", "\\|")


def format_report(result: Comparison, baseline_info: dict | None = None) -> str:
    """Markdown: a verdict line, then the table of moved metrics, the missing ones, and the new ones."""
    counts = f"{result.checked} compared, {result.skipped} skipped by rule"
    added = ["", f"New metrics, not in the baseline (not gated until `make baseline`; {len(result.added)}):"]
    added += [f"- {name}" for name in result.added]
    outcomes = ["", f"Discrete training outcomes that changed ({len(result.outcomes)}; not failing: the metrics they "
                "lead to are gated):"] + [f"- {m.name}: {_cell(m.baseline)} -> {_cell(m.new)}" for m in result.outcomes]
    notes = (outcomes if result.outcomes else []) + (added if result.added else [])
    if result.ok:
        return "\n".join([f"regression: OK, {counts}, {len(result.added)} new"] + notes) + "\n"
    lines = [f"regression: FAILED, {len(result.moved)} moved, {len(result.missing)} missing ({counts}, "
             f"{len(result.added)} new)"]
    if result.moved:
        lines += ["", "| metric | check | baseline | new | allowed | spread |", "|---|---|---:|---:|---|---:|"]
        lines += [f"| {m.name} | {m.check} | {_cell(m.baseline)} | {_cell(m.new)} | {m.allowed} | {m.spread} |"
                  for m in result.moved]
        runs = (baseline_info or {}).get("runs")
        lines += ["", "spread: the largest range of the metric over CPU kernel settings at one training seed, "
                  f"measured by `make baseline`{f' ({runs})' if runs else ''}."]
    if result.missing:
        lines += ["", f"In the baseline, not produced now ({len(result.missing)}):"]
        lines += [f"- {name}" for name in result.missing]
    lines += notes
    lines += ["", "If the change is intended: `make baseline`, review the diff of tests/baseline/, commit it."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the smoke run itself
def worktree_files(repo: Path) -> list[str]:
    """Files git would see in the working tree: tracked and untracked-but-not-ignored, with uncommitted edits.
    Ignored paths (.venv, DVC outputs, caches) stay out, so the copy starts with no data and no DVC cache."""
    run = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise InputError(f"{repo}: git ls-files failed: {run.stderr.strip()}")
    return sorted(name for name in set(run.stdout.split("\0")) if name and (repo / name).is_file())


def clear_generated_metrics(metrics: Path) -> None:
    """Remove what the DAG writes under `metrics`, keeping what is measured apart (`MEASURED_APART`)."""
    for path in metrics.glob("*") if metrics.is_dir() else ():
        if path.name not in MEASURED_APART:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def stage_env(work: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a DAG run in the project folder `work` gets: this one with `env` over it, `work`'s own `src/`
    imported (not the editable install's), no DVC analytics, and this interpreter's folder first on PATH (the stages
    call `python`)."""
    python = Path(sys.executable)
    return {**os.environ, **(env or {}), "PYTHONPATH": str(work / "src"), "DVC_NO_ANALYTICS": "1",
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def copy_worktree(repo: Path, dest: Path) -> None:
    for name in worktree_files(repo):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)


class SmokeCopy:
    """A scratch copy of the repo's working tree, switched to the smoke profile, with its own DVC cache. Its own
    `src/` is imported (PYTHONPATH), not the editable install's. Commands log to `log` (None: our stderr)."""

    def __init__(self, repo: Path, workdir: Path, env: dict[str, str] | None = None, log: Path | None = None):
        self.dir, self.log = workdir, log
        python = sys.executable
        self.python = python
        self.env = stage_env(workdir, env)
        copy_worktree(repo, workdir)
        clear_generated_metrics(workdir / "metrics")  # only numbers this run produces are compared
        # The copied lock belongs to another profile; without it the forced run starts from a short lock, which DVC
        # re-reads around every stage (at the default DAG's size, seconds a stage).
        (workdir / "dvc.lock").unlink(missing_ok=True)
        # any params.yaml edit discarded
        self._run([python, "-m", "thermbench.tools.pipeline.profiles", "smoke", "--force"])
        # The copy is no git repository: tell DVC so (init it if the repo has no .dvc/ yet).
        if (workdir / ".dvc").is_dir():
            self._run([python, "-m", "dvc", "config", "core.no_scm", "true"])
        else:
            self._run([python, "-m", "dvc", "init", "--no-scm", "-q"])
        self.base_params = yaml.safe_load((workdir / "params.yaml").read_text())

    def _run(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        env = env or self.env
        if self.log is None:
            print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
            # stdout=2: the child's stdout goes to our stderr, so our stdout carries only the verdict.
            run = subprocess.run(cmd, cwd=self.dir, env=env, stdout=2)
        else:
            with open(self.log, "a") as log:
                log.write(f"$ {' '.join(cmd)}\n")
                log.flush()
                run = subprocess.run(cmd, cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        if run.returncode != 0:
            where = "the log above" if self.log is None else self.log
            raise InputError(f"{self.dir}: `{' '.join(cmd)}` failed with exit code {run.returncode} (see {where})")

    def repro(self, force: bool = True, warm: Warm | None = None) -> dict[str, Scalar]:
        """`dvc repro` (`--force` by default: every stage runs, none is restored from a run cache). `warm(env, dir)`:
        a context that gives the environment to run the DAG in (the test harness's fork server), and then a second
        stage runs beside the one DVC runs, as `make repro` runs them (`dvc_cli --beside`); a run without `warm` (the
        baseline's) runs them one after another, so the gate compares the two ways."""
        beside = ["--beside"] if warm else []
        args = ["-m", "thermbench.tools.pipeline.dvc_cli", *beside, "repro", *(["--force"] if force else [])]
        if warm:
            with warm(self.env, self.dir) as env:  # DVC started by the warm environment's python, as its stages are
                self._run([shutil.which("python", path=env["PATH"]), *args], env)
        else:
            self._run([self.python, *args])
        return collect_metrics(self.dir / "metrics")

    def shift_seeds(self, seed_params: tuple[str, ...], offset: int, keep_stages: tuple[str, ...]) -> None:
        """Set every `seed_params` value to its smoke value + offset (each item of a list), then record the
        `keep_stages` as up to date (`dvc commit`), so the next repro re-trains but keeps their data."""
        params = yaml.safe_load((self.dir / "params.yaml").read_text())
        for dotted in seed_params:
            *parents, last = dotted.split(".")
            node, base = params, self.base_params
            for key in parents:
                node, base = node.get(key, {}), base.get(key, {})
            if not isinstance(node, dict) or last not in node:
                raise InputError(f"calibration: seed param '{dotted}' is not in the smoke profile's params")
            value = base[last]
            node[last] = [int(v) + offset for v in value] if isinstance(value, list) else int(value) + offset
        write_text(self.dir / "params.yaml", yaml.safe_dump(params, sort_keys=False))
        if keep_stages:
            self._run([self.python, "-m", "dvc", "commit", "--force", *keep_stages])


def check(repo: Path, keep: bool = False, warm: Warm | None = None) -> int:
    tol = load_tolerances(repo / TOLERANCES)  # fail on a bad tolerances file or baseline before the long run
    baseline = read_baseline(repo / BASELINE)
    workdir = Path(tempfile.mkdtemp(prefix="thermbench-smoke-"))
    try:
        copy = SmokeCopy(repo, workdir / "project", tol.env_for())
        current = copy.repro(warm=warm)  # fresh-process numbers (calibrate's) must come out: a fork changes none
        shared = round_trip(copy.dir, workdir, copy.python, copy.env)
    finally:
        _cleanup(workdir, keep)
    result = compare(baseline, current, tol)
    print(format_report(result, baseline.info), end="")
    print(shared)
    return 0 if result.ok else 1


def _cleanup(workdir: Path, keep: bool) -> None:
    if keep:
        print(f"scratch copy kept at {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------ calibration
def calibrate(repo: Path, keep: bool = False, jobs: int | None = None, kernels: list[str] | None = None) -> Baseline:
    """Run the smoke DAG once per kernel setting (in parallel, `jobs` at a time) and, in the same copy, once more per
    extra seed offset; summarise into a baseline and write it. Each run logs to a file and leaves its metrics in
    runs/<setting>-seed+<offset>.json of the scratch folder (kept with `keep`). `kernels`: a subset of the settings."""
    tol = load_tolerances(repo / TOLERANCES)
    cal = tol.calibration
    if kernels:
        unknown = sorted(set(kernels) - set(cal.kernels))
        if unknown or len(set(kernels)) < 2:
            raise InputError(f"--kernels: choose at least two of {', '.join(cal.kernels)} (got {', '.join(kernels)})")
        cal = dataclasses.replace(cal, kernels={name: cal.kernels[name] for name in kernels})
    scratch = Path(tempfile.mkdtemp(prefix="thermbench-calibrate-"))
    print(f"calibrate: {len(cal.kernels)} kernel settings x {len(cal.seed_offsets)} seeds, {jobs or cal.jobs} at "
          f"a time; logs in {scratch}/<setting>.log", file=sys.stderr, flush=True)
    start = time.monotonic()
    runs: dict[tuple[str, int], dict[str, Scalar]] = {}

    def one_setting(kernel: str) -> None:
        log = scratch / f"{kernel}.log"
        copy = SmokeCopy(repo, scratch / kernel, tol.env_for(kernel), log)
        for offset in cal.seed_offsets:
            if offset:
                copy.shift_seeds(cal.seed_params, offset, cal.keep_stages)
            runs[(kernel, offset)] = copy.repro(force=not offset)  # later seeds: only what they reach
            write_text(scratch / "runs" / f"{kernel}-seed+{offset}.json", json.dumps(runs[(kernel, offset)]))
            print(f"calibrate: {kernel} seed+{offset} done at {time.monotonic() - start:.0f} s", file=sys.stderr,
                  flush=True)

    try:
        with ThreadPoolExecutor(max_workers=jobs or cal.jobs) as pool:
            for future in [pool.submit(one_setting, kernel) for kernel in cal.kernels]:
                future.result()
    except BaseException:
        _cleanup(scratch, keep)
        raise
    try:
        baseline = write_baseline(repo, runs, tol, time.monotonic() - start)
    except InputError:
        # The runs are fine, the rules are not: keep them, so the baseline can be rebuilt without re-running.
        print(f"calibrate: runs kept; after fixing {TOLERANCES}: python -m thermbench.tools.gates.regression calibrate "
              f"--from-runs {scratch / 'runs'}", file=sys.stderr)
        raise
    _cleanup(scratch, keep)
    return baseline


def read_runs(folder: Path) -> dict[tuple[str, int], dict[str, Scalar]]:
    """The per-run metrics `calibrate` leaves in <scratch>/runs: <setting>-seed+<offset>.json."""
    runs = {}
    for path in sorted(Path(folder).glob("*-seed+*.json")):
        kernel, offset = path.stem.rsplit("-seed+", 1)
        runs[(kernel, int(offset))] = json.loads(path.read_text())
    if not runs:
        raise InputError(f"{folder}: no <setting>-seed+<offset>.json runs found")
    return runs


def write_baseline(repo: Path, runs: dict[tuple[str, int], dict[str, Scalar]], tol: Tolerances,
                   seconds: float | None) -> Baseline:
    cal = tol.calibration
    kernels = sorted({kernel for kernel, _ in runs})
    offsets = sorted({offset for _, offset in runs})
    if len(runs) != len(kernels) * len(offsets) or 0 not in offsets:
        raise InputError(f"calibration runs: need every kernel setting at every seed offset, 0 included "
                         f"(got {sorted(runs)})")
    baseline = summarise(runs, tol)
    baseline.info = {
        "runs": f"{len(kernels)} kernel settings ({', '.join(kernels)}) x seed offsets {offsets} of "
                f"{', '.join(cal.seed_params)}",
        "machine": f"{platform.machine()} {cpuinfo_model(read_cpuinfo())}, {os.cpu_count()} cores, "
                   f"torch {_torch_info()}",
        "environment": " ".join(f"{k}={v}" for k, v in sorted(tol.environment.items())) or "none",
    }
    write_text(repo / BASELINE, baseline.dumps())
    print(calibration_summary(baseline, tol, seconds), end="")
    return baseline


def wide_bands(baseline: Baseline, tol: Tolerances) -> list[str]:
    """The band metrics whose allowed band (set by their spread, not the floor) is at least half their value, each
    as a line: they guard little."""
    wide = []
    pooled = family_spreads(baseline, tol)
    for name, entry in baseline.entries.items():
        rule = tol.rule_for(name)
        if rule.check == "band" and is_number(entry.centre):
            spread = max(entry.spread, pooled_spread(name, entry, pooled))
            allowed = max(tol.floor(rule, entry.centre), tol.k * spread)
            if tol.k * spread > tol.floor(rule, entry.centre) and allowed >= 0.5 * math.fabs(entry.centre):
                wide.append(f"- {name}: centre {entry.centre}, spread {spread:.6g}, allowed ±{allowed:.6g}")
    return wide


def calibration_summary(baseline: Baseline, tol: Tolerances, seconds: float | None) -> str:
    """What the new baseline gates, and the band metrics whose band is as wide as the value (guard little)."""
    kinds = dict.fromkeys(CHECKS, 0)
    for name in baseline.entries:
        kinds[tol.rule_for(name).check] += 1
    wide = wide_bands(baseline, tol)
    lines = [f"{BASELINE}: {len(baseline.entries)} metrics ({kinds['exact']} exact, {kinds['band']} band, "
             f"{kinds['outcome']} outcome, {kinds['skip']} skipped by rule), {len(baseline.unstable)} unstable, "
             + ("rebuilt from kept runs" if seconds is None else f"calibrated in {seconds:.0f} s")]
    if baseline.unstable:
        lines += ["Unstable (absent or non-numeric and different in some runs; never compared):"]
        lines += [f"- {name}: {why}" for name, why in sorted(baseline.unstable.items())]
    if wide:
        lines += [f"Band metrics whose allowed band is at least half their value ({len(wide)}): they guard little;"
                  " stabilise them in profiles/smoke.yaml or give them a skip rule with the reason:"] + wide
    lines += ["Review `git diff tests/baseline/`, then commit it with the change that moved the numbers."]
    return "\n".join(lines) + "\n"


def _torch_info() -> str:
    try:
        import torch
    except ImportError:
        return "absent"
    return f"{torch.__version__} ({torch.backends.cpu.get_cpu_capability()})"


def main(argv: list[str] | None = None, warm: Warm | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["check", "calibrate"])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies (their path is printed)")
    parser.add_argument("--jobs", type=int, help="calibrate: kernel settings run at once (default: tolerances file)")
    parser.add_argument("--kernels", help="calibrate: comma-separated subset of the kernel settings (default: all)")
    parser.add_argument("--from-runs", type=Path, help="calibrate: rebuild the baseline from the runs a previous "
                        "calibration kept (<scratch>/runs), without running anything")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if args.action == "calibrate" and args.from_runs:
        write_baseline(repo, read_runs(args.from_runs), load_tolerances(repo / TOLERANCES), None)
        return
    if args.action == "calibrate":
        calibrate(repo, args.keep, args.jobs, args.kernels.split(",") if args.kernels else None)
        return
    code = check(repo, args.keep, warm)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    run_stage(main)
