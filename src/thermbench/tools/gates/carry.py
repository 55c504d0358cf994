"""Carry the committed kernel check over a code change that moves no CPU number.

    python -m thermbench.tools.gates.carry --base REV --note "what changed and why no CPU number moves"

A kernel setting of `conclusions/kernel_check.json` holds for the code it was made on: a change to any code dep
upstream of a report's statements drops every setting for that report, and re-making one re-trains the DAG (about an
hour a setting on 2 cores). A change that leaves every CPU number as it was (a path only a GPU takes, a refusal, a
rename) would then cost hours for nothing. This command carries the settings over such a change instead, and only
where it can show that nothing moved:

1. the check must have been made on the code of `--base` (each report's code fingerprint, read from that commit's
   files, is the file's own), and the params must be the check's;
2. the short fits of `short_fits` (supervised, KTL-DIKD and MCL-DIKD under params.yaml's `train.fit`) give the same
   weight and history digests on `--base`'s code and on the working tree's, natively and under every setting's
   environment (the file's `settings`): the code paths a CPU runs compute the same bits under each kernel setting;
3. then dvc.lock records the new code's hashes (every stage's, a report's or not), and the code files dvc.yaml now
   lists that it lacks, as `dvc commit` would (no output moved, none is re-made), each
   report's code files become those it rests on now (an added import reaches more), each setting's fingerprints
   move to the new code with a `carried` note (the date, `--note` and the digests), and
   dvc.lock records the rewritten file's hash in the reports that read it (its verdicts are unchanged, so are their
   outputs).

Where the check was made on other code, or a digest differs, it says so in one line and changes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from thermbench.core.conclusions import code_fingerprint, params_fingerprint
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.stage import run as run_stage
from thermbench.tools.gates import short_fits
from thermbench.tools.gates.conclusions import KERNEL_CHECK, fingerprints, report_inputs
from thermbench.tools.pipeline.dvc_cli import LOCK, dump_lock
from thermbench.tools.pipeline.stage_deps import CODE_ROOTS


def _file_dep(root: Path, path: str) -> dict:
    data = (root / path).read_bytes()
    return {"path": path, "hash": "md5", "md5": hashlib.md5(data).hexdigest(), "size": len(data)}


def relock(text: str, root: Path, paths: set[str], added: dict[str, list[str]] | None = None) -> str:
    """dvc.lock's `text` with the md5 and size of every dep at one of `paths` (relative to `root`) as the files now
    hold them, and each stage's `added` code files (stage -> paths: deps dvc.yaml lists that the lock lacks) recorded
    in path order as DVC orders them, written as `make repro` writes the lock."""
    lock = yaml.load(text, Loader=yaml.CSafeLoader)
    for name, stage in lock.get("stages", {}).items():
        for dep in stage.get("deps", []):
            if dep["path"] in paths:
                dep.update(_file_dep(root, dep["path"]))
        if (added or {}).get(name):
            stage["deps"] = sorted(stage["deps"] + [_file_dep(root, path) for path in added[name]],
                                   key=lambda dep: dep["path"])
    out = io.StringIO()
    dump_lock(lock, out)
    return out.getvalue()


def locked_code(text: str) -> set[str]:
    """Every code path dvc.lock's `text` records as a stage's dep."""
    lock = yaml.load(text, Loader=yaml.CSafeLoader)
    return {dep["path"] for stage in lock.get("stages", {}).values() for dep in stage.get("deps", [])
            if dep["path"].startswith(CODE_ROOTS)}


def unlocked_code(repo: Path) -> dict[str, list[str]]:
    """Stage -> the code files dvc.yaml lists as its deps that dvc.lock does not record (an import added since the
    stage last ran: `stage_deps --write` listed them), for stages the lock holds."""
    from dvc.dependency.param import ParamsDependency  # DVC's API takes a second to load
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return {st.name: missing for st in dvc.index.stages if (missing := sorted(
            d.def_path for d in st.deps if not isinstance(d, ParamsDependency) and d.hash_info.value is None
            and d.def_path.startswith(CODE_ROOTS) and (repo / d.def_path).is_file()))}


def base_tree(repo: Path, base: str, into: Path) -> Path:
    """`base`'s committed files, extracted into `into`."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", base], capture_output=True)
    if archive.returncode != 0:
        raise InputError(f"--base {base}: not a commit of {repo} ({archive.stderr.decode().strip()})")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def changed_files(old: Path, new: Path, paths: set[str]) -> list[str]:
    """The files among `paths` whose content differs between the trees `old` and `new` (a folder among `paths`
    counts as changed where a file in it does; so does a path one tree lacks)."""
    return sorted(rel for rel in paths if code_fingerprint(old, [rel]) != code_fingerprint(new, [rel]))


def made_on(check: dict, base: Path, params: dict) -> list[str]:
    """The reports whose code or params the check was not made on, with `base` holding the code (empty: all fit)."""
    return sorted(r for r, p in check["params"].items()
                  if p["sha256"] != params_fingerprint(params, p["keys"])
                  or p["code"]["sha256"] != code_fingerprint(base, p["code"]["files"]))


def digests(src: Path, env: dict[str, str]) -> str:
    """What `short_fits` prints on the library under `src`, in the environment `env` adds."""
    done = subprocess.run([sys.executable, short_fits.__file__], env={**os.environ, "PYTHONPATH": str(src), **env},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"short fits on {src} failed: {done.stderr.strip().splitlines()[-1]}")
    return done.stdout


def differing(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The settings whose digests differ between `before` and `after` (setting -> printed digests)."""
    return sorted(s for s in before if before[s] != after.get(s))


def carried_note(earlier: str | None, day: str, note: str, native: str) -> str:
    digest = "; ".join(line.strip() for line in native.splitlines() if line.strip())
    text = (f"{note}: short fits (python -m thermbench.tools.gates.short_fits) give the same weight and history "
            f"digests before and after, natively and under every setting ({digest}, native)")
    return f"{earlier}; then, on {day}: {text}" if earlier else f"carried to {day}: {text}"


def carry(repo: Path, base: str, note: str) -> list[str]:
    """Carry `repo`'s kernel check from `base`'s code to the working tree's (the module's docstring); returns the
    reports whose code changed."""
    check = read_json(repo / KERNEL_CHECK)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="thermbench-carry-") as tmp:
        old = base_tree(repo, base, Path(tmp))
        wrong = made_on(check, old, params)
        if wrong:
            raise InputError(f"{KERNEL_CHECK}: the {', '.join(wrong)} settings were not made on {base}'s code and "
                             "params.yaml's values: nothing to carry")
        inputs = report_inputs(repo)
        # what each report rested on, and what it rests on now (an added import can reach a file it did not before),
        # and the code of the stages no report rests on (check_params, speed): the lock records all of it
        files = {f for p in check["params"].values() for f in p["code"]["files"]} | {
            f for r in inputs.values() for f in r["files"]} | locked_code((repo / LOCK).read_text())
        changed_code = changed_files(old, repo, files)
        if not changed_code:
            print(f"carry: the code the check rests on is {base}'s: nothing to carry", file=sys.stderr)
            return []
        folders = [f for f in changed_code if (repo / f).is_dir()]
        if folders:
            raise InputError(f"{', '.join(folders)}: a folder the check rests on changed, whose hash only DVC "
                             "computes: run `dvc repro`, then carry from a commit of that lock")
        moved = sorted(r for r, p in check["params"].items()
                       if set(p["code"]["files"]) & set(changed_code) or p["code"]["files"] != inputs[r]["files"])
        envs = {"native": {}, **check["settings"]}
        before, after = {}, {}
        for setting, env in envs.items():
            print(f"carry: short fits under {setting}", file=sys.stderr, flush=True)
            before[setting], after[setting] = digests(old / "src", env), digests(repo / "src", env)
    changed = differing(before, after)
    if changed:
        raise InputError(f"the short fits' digests differ under {', '.join(changed)}: the change moves CPU numbers, "
                         "so the kernel check is re-made (make conclusions), not carried")
    lock = relock((repo / LOCK).read_text(), repo, set(changed_code), unlocked_code(repo))
    write_text(repo / LOCK, lock)
    now = fingerprints(report_inputs(repo), params)  # the code's hashes as the lock now records them
    day = datetime.date.today().isoformat()
    for report, p in check["params"].items():
        p["code"]["files"] = inputs[report]["files"]
        p["code"]["sha256"] = code_fingerprint(repo, p["code"]["files"])
    for made in check["made"].values():
        made["for"] = now
        made["carried"] = carried_note(made.get("carried"), day, note, after["native"])
    write_json(repo / KERNEL_CHECK, check)
    lock = relock((repo / LOCK).read_text(), repo, {KERNEL_CHECK.as_posix()})
    write_text(repo / LOCK, lock)
    return moved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit whose code the committed kernel check was made on")
    parser.add_argument("--note", required=True, help="what changed, and why no CPU number moves")
    parser.add_argument("--repo", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    moved = carry(args.repo.resolve(), args.base, args.note)
    if moved:
        print(f"carry: every setting carried for {', '.join(moved)}; `make readme` (docs/ci.md gives the lock's "
              f"size), then commit dvc.lock, {KERNEL_CHECK} and the pages")


if __name__ == "__main__":
    run_stage(main)
