"""CI regression of the benchmark numbers: run the `smoke` profile of the whole DAG in a scratch copy of the repo
and compare its metrics with a committed baseline under committed tolerances.

    python -m thermbench.tools.regression check      # `make regression`: exit 1 with a table of what moved
    python -m thermbench.tools.regression refresh    # `make baseline`: rewrite the baseline on purpose; review, commit

Compared: every number in metrics/**/*.json except metrics/timing/ (wall-clock numbers depend on the machine).
A metric is named `<path under metrics/>:<dotted key>`, e.g. `speed.json:mcl-t.params`; list items use their index.
Metrics present on one side only also fail: a new or removed metric is a change the baseline must take on purpose.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from thermbench.core.io import InputError, write_json
from thermbench.core.stage import run as run_stage

BASELINE = Path("tests/baseline/smoke_metrics.json")
TOLERANCES = Path("tests/baseline/tolerances.yaml")
EXCLUDED_DIRS = ("timing",)

Scalar = float | int | bool | str | None


# ------------------------------------------------------------------------------------------------- collect and compare
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
    """Every scalar of every JSON under `metrics_dir` (recursively), except those under metrics/timing/."""
    out: dict[str, Scalar] = {}
    for path in sorted(metrics_dir.rglob("*.json")):
        rel = path.relative_to(metrics_dir)
        if rel.parts[0] in EXCLUDED_DIRS:
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
        out.update({f"{rel.as_posix()}:{key}": value for key, value in flatten(data).items()})
    return out


@dataclass(frozen=True)
class Rule:
    """|new - baseline| <= abs + rel * |baseline| for metrics whose name matches `pattern` (fnmatch)."""

    pattern: str
    abs: float = 0.0
    rel: float = 0.0

    def describe(self) -> str:
        return f"abs {self.abs:g} + rel {self.rel:g} ({self.pattern})"


EXACT = Rule("(no rule: exact)")


def load_tolerances(path: Path = TOLERANCES) -> list[Rule]:
    if not path.is_file():
        raise InputError(f"{path}: tolerances file not found")
    data = yaml.safe_load(path.read_text()) or {}
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise InputError(f"{path}: expected a top-level 'rules:' list")
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or "pattern" not in rule or set(rule) - {"pattern", "abs", "rel"}:
            raise InputError(f"{path}: rule {i} must have 'pattern' and only 'abs' and 'rel' besides")
        out.append(Rule(str(rule["pattern"]), float(rule.get("abs", 0.0)), float(rule.get("rel", 0.0))))
    return out


def rule_for(name: str, rules: list[Rule]) -> Rule:
    """The first rule whose pattern matches; a metric no rule covers must be reproduced exactly."""
    return next((r for r in rules if fnmatch.fnmatchcase(name, r.pattern)), EXACT)


def within(baseline: Scalar, new: Scalar, rule: Rule) -> bool:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (baseline, new))
    if not numbers:  # strings, booleans, nulls (write_json turns NaN into null): must be equal
        return type(baseline) is type(new) and baseline == new  # True == 1 in Python, but a type change moved
    return math.fabs(new - baseline) <= rule.abs + rule.rel * math.fabs(baseline)


@dataclass(frozen=True)
class Moved:
    name: str
    baseline: Scalar
    new: Scalar
    rule: Rule


@dataclass
class Comparison:
    moved: list[Moved] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the baseline, not produced now
    added: list[str] = field(default_factory=list)  # produced now, not in the baseline
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.moved or self.missing or self.added)


def compare(baseline: dict[str, Scalar], current: dict[str, Scalar], rules: list[Rule]) -> Comparison:
    result = Comparison(missing=sorted(set(baseline) - set(current)), added=sorted(set(current) - set(baseline)))
    for name in sorted(set(baseline) & set(current)):
        rule = rule_for(name, rules)
        result.checked += 1
        if not within(baseline[name], current[name], rule):
            result.moved.append(Moved(name, baseline[name], current[name], rule))
    return result


def _cell(value: Scalar) -> str:
    return "null" if value is None else str(value).replace("|", "\\|")


def format_report(result: Comparison) -> str:
    """Markdown: a verdict line, then a table of moved metrics and lists of missing/added ones."""
    if result.ok:
        return f"regression: OK, {result.checked} metrics within tolerance of the baseline\n"
    lines = [f"regression: FAILED, {len(result.moved)} moved, {len(result.missing)} missing, "
             f"{len(result.added)} new (of {result.checked} compared)"]
    if result.moved:
        lines += ["", "| metric | baseline | new | tolerance |", "|---|---:|---:|---|"]
        lines += [f"| {m.name} | {_cell(m.baseline)} | {_cell(m.new)} | {_cell(m.rule.describe())} |"
                  for m in result.moved]
    for title, names in (("In the baseline, not produced now", result.missing),
                         ("Produced now, not in the baseline", result.added)):
        if names:
            lines += ["", f"{title}:"] + [f"- {name}" for name in names]
    lines += ["", "If the change is intended: `make baseline`, review the diff of tests/baseline/, commit it."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- the smoke run itself
def worktree_files(repo: Path) -> list[str]:
    """Files git would see in the working tree: tracked and untracked-but-not-ignored, with uncommitted edits.
    Ignored paths (.venv, DVC outputs, caches) stay out, so the copy starts with no data and no DVC cache."""
    run = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise InputError(f"{repo}: git ls-files failed: {run.stderr.strip()}")
    return sorted(name for name in set(run.stdout.split("\0")) if name and (repo / name).is_file())


def copy_worktree(repo: Path, dest: Path) -> None:
    for name in worktree_files(repo):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)


def _run(cmd: list[str], cwd: Path, env: dict) -> None:
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    # stdout=2 sends the child's stdout to our file descriptor 2 (stderr): our stdout carries only the verdict.
    run = subprocess.run(cmd, cwd=cwd, env=env, stdout=2)
    if run.returncode != 0:
        raise InputError(f"{cwd}: `{' '.join(cmd)}` failed with exit code {run.returncode} (see the log above)")


def smoke_metrics(repo: Path, workdir: Path) -> dict[str, Scalar]:
    """Copy the working tree of `repo` into `workdir`, switch it to the smoke profile, `dvc repro` everything there,
    and collect its metrics. The copy's own `src/` is imported (PYTHONPATH), not the editable install's."""
    copy_worktree(repo, workdir)
    shutil.rmtree(workdir / "metrics", ignore_errors=True)  # only numbers this run produces are compared
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(workdir / "src"), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # stage cmds call `python`
    _run([python, "-m", "thermbench.tools.profiles", "smoke"], workdir, env)
    # The copy is no git repository: tell DVC so (init it if the repo has no .dvc/ yet).
    if (workdir / ".dvc").is_dir():
        _run([python, "-m", "dvc", "config", "core.no_scm", "true"], workdir, env)
    else:
        _run([python, "-m", "dvc", "init", "--no-scm", "-q"], workdir, env)
    _run([python, "-m", "dvc", "repro", "--force"], workdir, env)
    return collect_metrics(workdir / "metrics")


def read_baseline(path: Path = BASELINE) -> dict[str, Scalar]:
    if not path.is_file():
        raise InputError(f"{path}: no baseline yet; run `make baseline`, review it and commit it")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "refresh"])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    rules = load_tolerances(repo / TOLERANCES)  # fail on a bad tolerances file before the long run
    baseline = read_baseline(repo / BASELINE) if args.action == "check" else None

    workdir = Path(tempfile.mkdtemp(prefix="thermbench-smoke-"))
    try:
        current = smoke_metrics(repo, workdir)
    finally:
        if args.keep:
            print(f"scratch copy kept at {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if baseline is None:
        write_json(repo / BASELINE, current)
        print(f"{BASELINE}: {len(current)} metrics written from a fresh smoke run; review the diff, then commit")
        return
    result = compare(baseline, current, rules)
    print(format_report(result), end="")
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    run_stage(main)
