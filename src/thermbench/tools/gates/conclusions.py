"""Conclusions: gather every report's statements into one file (stage `conclusions`), and check that they come out the
same under other CPU kernels (`make conclusions`).

    python -m thermbench.tools.gates.conclusions check [--kernels aten_default,mkl_compatible] [--scope untrained]
        [--scratch DIR]

By default the check re-makes the settings the committed file lacks for the current params and code (each setting
there records what it was made for: `fingerprints`), and rewrites the file after each one. A setting re-trains the
whole DAG, so it may span sittings: the copy of a setting that was interrupted stays (`scratch_dir`, or DIR) and the
next check for the same params and code resumes its `dvc repro` where it stopped. A setting made in full leaves its
copy's lock there (`made_lock`; the outputs it names are in this repository's cache, but for those the cache never
holds, the metrics and curves, which are kept beside it: `kept_outputs`): the next make of that setting,
for other code or params, re-makes only the stages they changed, so a report's edit costs minutes a setting, not the
DAG. Run one check at a time: two side by side on the same cores oversubscribe the stages' threads and each runs
several times slower than alone.

`check` re-makes, in a scratch copy of the working tree and once per kernel setting (the environments of
tests/baseline/tolerances.yaml, by default every one of them: `native` is this repository's own run, the DAG as `dvc
repro` left it, and each other one is re-made: `avx2` a CPU without AVX-512; `aten_default` PyTorch's portable
kernels, the ATEN_CPU_CAPABILITY=default stand-in for another CPU; `mkl_compatible` MKL's portable path, the stand-in
for the other vendor's MKL path; `default` every library's portable kernels), every stage the statements rest on
(`dvc repro conclusions`). The copy shares this repository's DVC cache; only the fixed test data (the tolerances'
`calibration.keep_stages`: the synthetic world, its split, the breath videos) is checked out. Every other lock entry
is dropped and the run cache is off, so every trained model, every untrained one run over the data (MediaPipe, dlib-68:
their float kernels change with the setting too) and everything after them is re-made under that setting (and the
run-cache entries of those runs are removed afterwards, so that `dvc repro` here never restores another kernel's
outputs). It then reads each statement there and writes the verdicts and each verdict's clearances (`clearances`:
how far each interval a part is read against lies from its line, so the reports apply the vendor margin to every
setting's interval), with this repository's own (`native`: its DAG
must be current, as `dvc repro` leaves it), the statements on untrained sources whose numbers differed between
settings (`untrained_moved`: deterministic only where their numbers came out identical; the others are checked as
trained ones) and, per report, the params.yaml keys its statements rest on (every stage upstream of its statements
file, from dvc.yaml) with their values' fingerprint, to conclusions/kernel_check.json. Commit it after `dvc repro`:
the reports then state a trained model's statement only as far as every setting agrees (of a ranking, the pairs every
setting resolved). It prints a table of what a setting did not confirm, and exits 1 where a statement
metrics/conclusions.json states as resolved lost a verdict or a pair under a setting.

`--scope untrained` re-makes, under each setting, only what the statements on untrained sources rest on: every stage
that runs no trained model and is not upstream of one (`untrained_remake`: the untrained models run over the data,
the breath rates, the reports), with the trained models and everything upstream of them kept from this repository's
run. Minutes a setting in place of hours; its verdicts cover the untrained statements alone (the file records the
setting's `scope`), a full setting replaces it, and it never replaces a full one.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from thermbench import cpuinfo_flags, read_cpuinfo
from thermbench.core.conclusions import (
    MISSING,
    NOT_RESOLVED,
    code_fingerprint,
    pair_order,
    pairs_of,
    params_fingerprint,
)
from thermbench.core.io import InputError, read_json, write_json, write_text
from thermbench.core.stage import run as run_stage
from thermbench.tools.gates.regression import TOLERANCES, copy_worktree, load_tolerances, stage_env
from thermbench.tools.pipeline.stage_deps import CODE_ROOTS, PARAMS_CHECK
from thermbench.tools.pipeline.timings import machine

CONCLUSIONS = Path("metrics/conclusions.json")
KERNEL_CHECK = Path("conclusions/kernel_check.json")
STATEMENTS = Path("metrics/conclusions")
MADE_FOR = Path("thermbench-made-for.json")  # in a copy: the fingerprints it was made for (resumable while they hold)
TRAINED_OUTS = ("data/models/", "data/heads/")  # where the DAG writes trained weights: its stages are the training ones
SCOPES = ("all", "untrained")


# ------------------------------------------------------------------------------------------------------ the check


def statements_of(metrics_dir: Path) -> dict[str, dict]:
    """statement id -> {verdict (from that run alone), numbers, trained, clearance (of each part of that verdict read
    against an interval)}, over every report's statements file under `metrics_dir`."""
    out = {}
    for path in sorted((metrics_dir / "conclusions").glob("*.json")):
        out.update({r["id"]: {"verdict": r["verdict_here"], "numbers": r["numbers"], "trained": r["trained"],
                              "clearance": r.get("clearance", {})}
                    for r in read_json(path)["statements"]})
    return out


def clearances_of(statements: dict[str, dict]) -> dict[str, dict]:
    """statement id -> the clearance of each part of its verdict in that run: kept in the check, so that the reports
    apply the vendor margin to every setting's interval, not to the publishing machine's alone."""
    return {i: r["clearance"] for i, r in sorted(statements.items()) if r.get("clearance")}


def untrained_moved(native: dict[str, dict], found: dict[str, dict[str, dict]]) -> list[str]:
    """The statements on untrained sources whose numbers differ under some setting (or are missing there): not
    deterministic after all. Identical numbers under every setting make a statement deterministic."""
    return sorted(i for i, r in native.items() if not r["trained"]
                  and any(there.get(i, {}).get("numbers") != r["numbers"] for there in found.values()))


def replicates_of(statements: dict[str, dict]) -> dict[str, list[float]]:
    """statement id -> its per-seed differences (`numbers.per_seed`, a pair compared over seeds): what each setting's
    re-training gives of the same seeds, from which the kernel settings' share of a difference's variance is measured
    (`power.variance_split_runs`)."""
    return {i: r["numbers"]["per_seed"] for i, r in sorted(statements.items()) if "per_seed" in r.get("numbers", {})}


def untrained_numbers(statements: dict[str, dict]) -> dict[str, dict]:
    """statement id -> its numbers, of the statements on untrained sources: what `untrained_moved` compared, kept in
    the check so "deterministic" can be re-read from the numbers themselves."""
    return {i: r["numbers"] for i, r in sorted(statements.items()) if not r["trained"]}


def unconfirmed(verdict: str, there: str) -> str:
    """What of `verdict` a setting's verdict `there` does not confirm: the pairs it lacks (of an order of pairs), the
    whole verdict (of any other), or "" when it confirms all of it."""
    mine, theirs = pairs_of(verdict), pairs_of(there)
    if mine is not None and theirs is not None:
        return pair_order(mine - theirs)
    return "" if there == verdict else verdict


def differences(committed: list[dict], found: dict[str, dict[str, str]], moved=(), untrained_only=()) -> list[dict]:
    """Rows where a kernel setting does not confirm what the committed file states as resolved about a trained model
    or an untrained one whose numbers moved (`moved`) (a verdict, or pairs of a ranking; missing there counts as not
    confirmed). Untrained statements whose numbers did not move are not checked, nor trained ones under a setting made
    for the untrained sources only (`untrained_only`)."""
    rows = []
    for r in committed:
        if not r["resolved"] or (not r["trained"] and r["id"] not in moved):
            continue
        for setting, verdicts in sorted(found.items()):
            if r["trained"] and setting in untrained_only:
                continue
            there = verdicts.get(r["id"], MISSING)
            if lost := unconfirmed(r["verdict"], there):
                rows.append({"id": r["id"], "setting": setting, "committed": r["verdict"], "there": there,
                             "lost": lost})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| statement | kernel setting | committed | there | not confirmed |", "|---|---|---|---|---|"]
    return "\n".join(lines + [f"| {r['id']} | {r['setting']} | {r['committed']} | {r['there']} | {r['lost']} |"
                              for r in rows]) + "\n"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, check: bool = True) -> int:
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        code = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    if check and code != 0:
        raise InputError(f"{cwd}: `{' '.join(cmd)}` failed with exit code {code} (see {log})")
    return code


def _run_key(cmd: str | list[str], outs: list[dict]) -> tuple[str, frozenset]:
    """A stage run as the lock and the run cache both record it: its command and its outputs' hashes."""
    text = " ".join(cmd) if isinstance(cmd, list) else cmd
    return " ".join(text.split()), frozenset((o["path"], o.get("md5")) for o in outs or [])


def run_cache_entries(cache: Path) -> set[Path]:
    return {p for p in (cache / "runs").glob("*/*/*") if p.is_file()}


def forget_runs(cache: Path, before: set[Path], lock: dict) -> int:
    """Remove the run-cache entries written since `before` that record a run of `lock` (the scratch copy's). The
    scratch copy shares this repository's cache, and DVC keeps every run of a stage there: a later `dvc repro` here
    may restore another kernel's models in place of this machine's. Entries this repository's own DAG wrote meanwhile
    record other outputs and stay."""
    made = {_run_key(st.get("cmd", ""), st.get("outs")) for st in lock.get("stages", {}).values()}
    gone = 0
    for path in run_cache_entries(cache) - before:
        entry = yaml.safe_load(path.read_text()) or {}
        if _run_key(entry.get("cmd", ""), entry.get("outs")) in made:
            path.unlink()
            gone += 1
    return gone


def read_lock_file(path: Path) -> dict:
    """A DVC lock file's content ({} when there is none)."""
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def read_lock(work: Path) -> dict:
    """A working copy's dvc.lock ({} when it has none)."""
    return read_lock_file(work / "dvc.lock")


def earlier_stages(saved: Path) -> dict:
    """The stage entries of a setting's saved lock (`made_lock`); {} when there is none or it cannot be read (it only
    saves time: a copy without it makes every stage), with a line saying so."""
    try:
        data = read_lock_file(saved)
    except yaml.YAMLError:
        data = None
    stages = data.get("stages", {}) if isinstance(data, dict) else None
    if isinstance(stages, dict) and all(isinstance(v, dict) for v in stages.values()):
        return stages
    print(f"conclusions: {saved}: not a DVC lock, ignored: every stage of the setting is made", file=sys.stderr)
    return {}


def made_lock(scratch: Path, name: str) -> Path:
    """Where the lock of a setting's copy (`copy_name`) is kept once its make completed: beside the copies, like them
    tied to this repository's DVC cache, which holds the outputs the lock names."""
    return scratch / "locks" / f"{name}.lock"


def kept_outputs(scratch: Path, name: str) -> Path:
    """Where the outputs of a setting's completed make that the DVC cache does not hold (`cache: false`: the metrics
    and curves committed to git) are kept beside its lock (`made_lock`): without them DVC would re-make the stages
    that wrote them, every trained model among them."""
    return scratch / "locks" / f"{name}.outputs"


def uncached_outputs(stages: dict, cache: Path) -> list[str]:
    """The output paths of lock `stages` whose content the DVC `cache` does not hold."""
    def held(md5: str) -> bool:
        digest = md5.removesuffix(".dir")
        return (cache / "files" / "md5" / digest[:2] / (digest[2:] + md5[len(digest):])).exists()

    return sorted({out["path"] for stage in stages.values() for out in stage.get("outs", [])
                   if out.get("md5") and not held(out["md5"])})


def keep_outputs(work: Path, paths: list[str], to: Path) -> None:
    """Copy `paths` (files or folders, relative to `work`) under `to`, replacing what an earlier make kept there."""
    shutil.rmtree(to, ignore_errors=True)
    for rel in paths:
        source, dest = work / rel, to / rel
        if source.is_dir():
            shutil.copytree(source, dest)
        elif source.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def report_inputs(repo: Path) -> dict[str, dict]:
    """Report -> what its statements file (metrics/conclusions/<report>.json) follows from, over every stage upstream
    of it, its own included: `keys`, the params.yaml keys those stages read, and `code`, the sha256 of their code deps'
    hashes as dvc.lock records them (a check made on other code says nothing of these statements; None where the
    lock lacks one: that part of the DAG never ran), and `files`, those code deps' paths."""
    # DVC's API takes a second to load; only the check needs it, not the `conclusions` stage
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo
    from dvc.repo.graph import collect_pipeline

    with Repo(str(repo)) as dvc:
        graph = dvc.index.graph
        out = {}
        for stage in graph:
            files = [Path(o.def_path) for o in stage.outs]
            reports = [f.stem for f in files if f.parent == STATEMENTS]
            if not reports:
                continue
            # check_params computes nothing a statement rests on (its output is a constant sentinel)
            upstream = [st for st in collect_pipeline(stage, graph) if st.name != PARAMS_CHECK]
            keys = {key for st in upstream for dep in st.deps
                    if isinstance(dep, ParamsDependency) and Path(dep.def_path).name == "params.yaml"
                    for key in dep.params}
            code = sorted({dep.def_path: dep.hash_info.value for st in upstream for dep in st.deps
                           if not isinstance(dep, ParamsDependency) and dep.def_path.startswith(CODE_ROOTS)}.items())
            broadest = sorted(k for k in keys if not any(k.startswith(f"{o}.") for o in keys))
            locked = all(value is not None for _, value in code)
            sha = hashlib.sha256(json.dumps(code).encode()).hexdigest() if locked else None
            out.update({report: {"keys": broadest, "code": sha, "files": [path for path, _ in code]}
                        for report in reports})
    return out


def scratch_dir(repo: Path) -> Path:
    """Where a repository's check keeps its copies between sittings: one folder per repository (by its path) in the
    system's temporary folder."""
    key = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"thermbench-conclusions-{key}"


def _stage_graph(work: Path) -> dict[str, dict]:
    """Stage name -> {upstream: the names of every stage it rests on, its own included; outs: its output paths}."""
    from dvc.repo import Repo  # DVC's API takes a second to load; only the check needs it
    from dvc.repo.graph import collect_pipeline

    with Repo(str(work)) as dvc:
        graph = dvc.index.graph
        # the name in dvc.yaml, as dvc.lock keys it (`addressing` is relative to the working directory)
        return {st.name: {"upstream": {s.name for s in collect_pipeline(st, graph)},
                          "outs": [str(o.def_path) for o in st.outs]} for st in graph}


def untrained_remake(graph: dict[str, dict], keep: tuple[str, ...]) -> set[str]:
    """The stages a setting of scope `untrained` re-makes: those that run no trained model and rest on none (the
    untrained models run over the data, MediaPipe's and dlib-68's; the oracle's tracks; the data's statistics), and
    every stage downstream of them (the breath rates, the reports). Kept: the fixed test data (`keep`), the training
    stages (an output under `TRAINED_OUTS`) with everything upstream of them, and what follows from trained models
    alone (the students' breath tracks)."""
    base = {name: name.split("@")[0] for name in graph}
    training = {name for name, st in graph.items() if any(o.startswith(TRAINED_OUTS) for o in st["outs"])}
    fixed = {name for name in graph if base[name] in keep} | {u for t in training for u in graph[t]["upstream"]}
    untrained = {name for name, st in graph.items() if name not in fixed and not st["upstream"] & training}
    return {name for name, st in graph.items() if name not in fixed and st["upstream"] & untrained}


def _remade(repo: Path, keep: tuple[str, ...], scope: str) -> set[str]:
    """The stages a setting re-makes, named from this repository's DAG (its copy's is the same): every one but the
    fixed test data (`keep`), or, of scope `untrained`, `untrained_remake`'s."""
    if scope == "untrained":
        return untrained_remake(_stage_graph(repo), keep)
    return {name for name in read_lock(repo).get("stages", {}) if name.split("@")[0] not in keep}


def copy_name(setting: str, scope: str) -> str:
    """The scratch copy of a setting: one per scope, so that an interrupted copy is resumed for its own scope only."""
    return setting if scope == "all" else f"{setting}-{scope}"


def rerun_under(repo: Path, setting: str, env: dict[str, str], scratch: Path, keep: tuple[str, ...],
                made_for: dict[str, dict[str, str]],
                scope: str = "all") -> tuple[dict[str, dict], dict[str, dict[str, str]]]:
    """Re-make, under one kernel setting, every stage of the current params but the fixed test data (`keep`: the
    tolerances' `calibration.keep_stages`): every trained model, and every untrained one (MediaPipe, dlib-68) run
    over the data; or, of `scope` untrained, `untrained_remake`'s stages alone. Returns the statements there
    (`statements_of`; of scope untrained, those on untrained sources), and the params and code they were made from
    (`fingerprints`, from the copy's own dvc.lock). The copy (`scratch`/`setting`, with `-untrained` for that scope)
    records what it was made for (`made_for`, this repository's fingerprints): a copy an earlier, interrupted sitting
    left for the same params and code is resumed where its `dvc repro` stopped (DVC skips the stages its lock already
    holds); any other is replaced. A replacement starts from the lock the setting's last completed make left
    (`made_lock`): its re-made stages' entries (their outputs are in the shared cache) with this repository's for
    the rest, so that DVC re-makes only the stages whose code, params or inputs changed since, and those whose
    outputs the cache no longer holds (`dvc gc` here); the outputs the cache never holds (`cache: false`) are put
    back from where that make kept them (`kept_outputs`). Without that lock, every re-made stage runs."""
    name = copy_name(setting, scope)
    work, log, saved = scratch / name, scratch / f"{name}.log", made_lock(scratch, name)
    kept = kept_outputs(scratch, name)
    remade = _remade(repo, keep, scope)
    python = sys.executable
    full_env = stage_env(work, env)
    dvc = [python, "-m", "thermbench.tools.pipeline.dvc_cli"]  # DVC as `make repro` runs it
    cache = (repo / ".dvc" / "cache").resolve()
    marker = work / MADE_FOR
    resumed = marker.is_file() and read_json(marker) == made_for
    if resumed:
        print(f"conclusions: {name}: resuming the copy an earlier sitting left ({work})", file=sys.stderr,
              flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
        copy_worktree(repo, work)
        _run(dvc + ["config", "core.no_scm", "true"], work, full_env, log)  # the copy is no git repository
        _run(dvc + ["cache", "dir", "--local", str(cache)], work, full_env, log)
        lock = read_lock(work)
        earlier = earlier_stages(saved)
        lock["stages"] = {k: earlier[k] if k in remade else v for k, v in lock.get("stages", {}).items()
                          if k not in remade or k in earlier}
        if earlier:
            print(f"conclusions: {name}: the copy starts from the lock of its last make ({saved}): DVC re-makes "
                  "only what changed since", file=sys.stderr, flush=True)
            if kept.is_dir():
                shutil.copytree(kept, work, dirs_exist_ok=True)
        write_text(work / "dvc.lock", yaml.safe_dump(lock, sort_keys=False, allow_unicode=True))
        _run(dvc + ["checkout", "--quiet"], work, full_env, log, check=False)  # what the cache lacks is re-made below
        write_json(marker, made_for)  # set up: from here on the copy can be resumed
    # an earlier sitting's runs are in the cache already: forget every run of the copy's, not only the new ones
    start, before = time.monotonic(), set() if resumed else run_cache_entries(cache)
    try:
        # what the statements rest on, two stages at a time where the DAG allows, as `make repro` runs them
        _run(dvc + ["--beside", "repro", "--no-run-cache", "conclusions"], work, full_env, log)
    finally:  # only the runs this setting made: the kept stages' entries are this repository's own runs
        forget_runs(cache, before, {"stages": {k: v for k, v in read_lock(work).get("stages", {}).items()
                                               if k in remade}})
    saved.parent.mkdir(parents=True, exist_ok=True)
    made = read_lock(work).get("stages", {})
    keep_outputs(work, uncached_outputs({k: v for k, v in made.items() if k in remade}, cache), kept)
    shutil.copyfile(work / "dvc.lock", saved)  # what the next make of this setting starts from
    print(f"conclusions: {name}: DAG re-made in {time.monotonic() - start:.0f} s (log {log})", file=sys.stderr,
          flush=True)
    made_for = fingerprints(report_inputs(work), yaml.safe_load((work / "params.yaml").read_text()))
    found = statements_of(work / "metrics")
    return (found if scope == "all" else {i: r for i, r in found.items() if not r["trained"]}), made_for


def fingerprints(inputs: dict[str, dict], params: dict) -> dict[str, dict[str, str]]:
    """Report -> {params: fingerprint of its keys' values, code: its code fingerprint}: what a setting's verdicts on
    its statements were made for."""
    return {r: {"params": params_fingerprint(params, v["keys"]), "code": v["code"]} for r, v in sorted(inputs.items())}


def kept_settings(path: Path, made_for: dict[str, dict[str, str]]) -> tuple[dict[str, dict], list[str]]:
    """The settings of an earlier check (`path`) made for exactly `made_for` (every report's params and code), to be
    kept beside this run's: {setting: {env, made, verdicts, moved}}; and a line per setting dropped, saying why."""
    if not path.is_file():
        return {}, []
    old = read_json(path)
    kept, dropped = {}, []
    for setting, env in old.get("settings", {}).items():
        made = old.get("made", {}).get(setting)
        if made is None or made.get("for") != made_for:
            why = "made for other params or code" if made else "no record of what it was made for"
            dropped.append(f"{setting} ({why})")
            continue
        kept[setting] = {"env": env, "made": made, "verdicts": old["verdicts"][setting],
                         "moved": old.get("moved", {}).get(setting, []),
                         "numbers": old.get("untrained_numbers", {}).get(setting, {}),
                         "clearances": old.get("clearances", {}).get(setting, {}),
                         "replicates": old.get("replicates", {}).get(setting, {})}
    return kept, dropped


def _commit(repo: Path) -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=repo, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")  # what tells two x86 CPUs apart


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The instruction sets of `FLAGS` this CPU has (from /proc/cpuinfo): with its name, the machine a setting of the
    check was made on (the kernels a setting reaches depend on them)."""
    have = cpuinfo_flags(read_cpuinfo() if cpuinfo is None else cpuinfo)
    return [f for f in FLAGS if f in have]


def write_check(repo: Path, inputs: dict[str, dict], params: dict, kept: dict[str, dict],
                required: list[str]) -> dict[str, dict]:
    """conclusions/kernel_check.json from the settings `kept` (earlier ones made for the same params and code, and
    this run's), this repository's own verdicts (`native`, read now) and the settings a statement needs verdicts from
    (`required`: the tolerances' settings; one not made yet confirms nothing); the verdicts by setting."""
    native = statements_of(repo / "metrics")
    for setting in kept.values():
        if "found" in setting:  # made by this run: what moved is read against the native numbers of now
            setting["moved"] = untrained_moved(native, {"here": setting["found"]})
            setting["numbers"] = untrained_numbers(setting["found"])
            setting["clearances"] = clearances_of(setting["found"])
            setting["replicates"] = replicates_of(setting["found"])
    verdicts = {s: v["verdicts"] for s, v in sorted(kept.items())}
    write_json(repo / KERNEL_CHECK, {
        "profile": params.get("profile"),
        "params": {r: {"keys": v["keys"], "sha256": params_fingerprint(params, v["keys"]),
                       "code": {"files": v["files"], "sha256": code_fingerprint(repo, v["files"])}}
                   for r, v in inputs.items()},
        "required": sorted(required),
        "verdicts": {"native": {i: r["verdict"] for i, r in native.items()}, **verdicts},
        "settings": {s: v["env"] for s, v in sorted(kept.items())},
        "made": {s: v["made"] for s, v in sorted(kept.items())},
        "moved": {s: v["moved"] for s, v in sorted(kept.items())},
        "untrained_moved": sorted({i for v in kept.values() for i in v["moved"]}),
        "untrained_numbers": {"native": untrained_numbers(native),
                              **{s: v.get("numbers", {}) for s, v in sorted(kept.items())}},
        "clearances": {"native": clearances_of(native),
                       **{s: v["clearances"] for s, v in sorted(kept.items()) if v.get("clearances")}},
        "replicates": {"native": replicates_of(native),
                       **{s: v["replicates"] for s, v in sorted(kept.items()) if v.get("replicates")}}})
    return verdicts


def check(repo: Path, kernels: list[str] | None = None, keep: bool = False, scratch: Path | None = None,
          scope: str = "all") -> int:
    """`kernels`: settings of the tolerances file to re-make; None: every one but `native` (this repository's own
    run, always compared) that the committed check lacks for the current params and code (of `scope` all: lacks in
    full). `scope` untrained: the untrained statements only (`rerun_under`); a setting the file holds in full is
    not re-made for them. The file is rewritten after each setting, so an interrupted check keeps the settings it
    finished, and the copy of the setting it was making stays in `scratch` (default `scratch_dir`), to be resumed by
    the next check."""
    if scope not in SCOPES:
        raise InputError(f"--scope: choose from {', '.join(SCOPES)} (got {scope})")
    calibration = load_tolerances(repo / TOLERANCES).calibration
    settings = calibration.kernels
    unknown = sorted(set(kernels or []) - set(settings))
    if unknown or kernels == []:
        raise InputError(f"--kernels: choose from {', '.join(settings)} (got {', '.join(kernels) or 'none'})")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    inputs = report_inputs(repo)
    unlocked = sorted(r for r, v in inputs.items() if v["code"] is None)
    if unlocked:
        raise InputError(f"dvc.lock lacks code hashes upstream of the {', '.join(unlocked)} statements: run `dvc "
                         "repro` before the check (the check compares against this repository's own DAG)")
    made_for = fingerprints(inputs, params)
    kept, dropped = kept_settings(repo / KERNEL_CHECK, made_for)
    if dropped:
        print(f"conclusions: earlier settings dropped: {', '.join(dropped)}", file=sys.stderr)

    def partial(setting: str) -> bool:  # made for the untrained statements only
        return kept[setting]["made"].get("scope", "all") != "all"

    def label(setting: str) -> str:
        return f"{setting} (untrained only)" if partial(setting) else setting

    if kernels is None:
        kernels = [k for k in settings if k != "native" and (k not in kept or scope == "all" and partial(k))]
    full = [k for k in kernels if scope != "all" and k in kept and not partial(k)]
    if full:
        print(f"conclusions: {', '.join(full)}: made in full already, which covers the untrained statements",
              file=sys.stderr)
        kernels = [k for k in kernels if k not in full]
    kept = {s: v for s, v in kept.items() if s not in kernels}
    print(f"conclusions: re-making under {', '.join(kernels) or 'no setting'}"
          f"{' (the untrained statements only)' if scope != 'all' else ''}; kept from the committed check: "
          f"{', '.join(map(label, kept)) or 'none'}", file=sys.stderr, flush=True)
    scratch = scratch_dir(repo) if scratch is None else scratch
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    for setting in kernels:
        name = copy_name(setting, scope)
        try:
            found, there = rerun_under(repo, setting, settings[setting], scratch, calibration.keep_stages, made_for,
                                       scope)
        except BaseException:
            print(f"conclusions: {name} stopped before its end; its copy stays in {scratch / name}, and the "
                  "next check for these params and code resumes it", file=sys.stderr)
            raise
        if there != made_for:
            raise InputError(f"{setting}: the copy ran other code or params than this repository's DAG recorded "
                             "in dvc.lock (edited since `dvc repro`?): run `dvc repro`, then the check")
        kept[setting] = {"env": settings[setting], "found": found,
                         "verdicts": {i: r["verdict"] for i, r in found.items()},
                         "made": {"commit": _commit(repo), "date": datetime.date.today().isoformat(),
                                  "cpu": machine()["cpu"], "cpu_flags": cpu_flags(),
                                  "for": made_for, **({"scope": scope} if scope != "all" else {})}}
        write_check(repo, inputs, params, kept, list(settings))
        if keep:
            print(f"conclusions: {setting}: copy kept at {scratch / name}", file=sys.stderr)
        else:
            shutil.rmtree(scratch / name, ignore_errors=True)
            (scratch / f"{name}.log").unlink(missing_ok=True)
    if not any(scratch.iterdir()):
        scratch.rmdir()
    # native read now: the repo's own DAG may run beside the check
    verdicts = write_check(repo, inputs, params, kept, list(settings))
    committed = read_json(repo / CONCLUSIONS)["statements"]
    moved = read_json(repo / KERNEL_CHECK)["untrained_moved"]
    rows = differences(committed, verdicts, moved, [k for k in kept if partial(k)])
    elapsed = time.monotonic() - start
    n_resolved = sum(r["resolved"] for r in committed)
    unresolved_there = {s: sum(v == NOT_RESOLVED for v in there.values()) for s, there in verdicts.items()}
    print(f"conclusions: {len(committed)} statements, {n_resolved} resolved as committed; checked under "
          f"{', '.join(map(label, verdicts)) or 'no setting'} (re-made now: {', '.join(kernels) or 'none'}, "
          f"{elapsed / 60:.1f} min); not resolved there: "
          + ", ".join(f"{s} {n}" for s, n in unresolved_there.items())
          + f"; untrained statements whose numbers moved (checked as trained): {', '.join(moved) or 'none'}")
    if rows:
        print(f"conclusions: FAILED, {len(rows)} resolved statement(s) differ under another kernel setting:\n")
        print(table(rows), end="")
        print(f"\n{KERNEL_CHECK} is written: re-run `dvc repro` so the reports state these as not resolved, then "
              "commit.")
        return 1
    print(f"conclusions: OK, every resolved statement holds under {', '.join(verdicts) or 'no setting'}; "
          f"{KERNEL_CHECK} written (re-run `dvc repro` to fold it into the reports, then commit).")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["check"], help="check: re-make the DAG under the kernel settings and "
                        "write conclusions/kernel_check.json")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: the current folder)")
    parser.add_argument("--kernels", help="comma-separated kernel settings of tests/baseline/tolerances.yaml "
                        "(default: every one but native)")
    parser.add_argument("--keep", action="store_true", help="keep each setting's copy once it is done (its path is "
                        "printed)")
    parser.add_argument("--scratch", type=Path, help="where the copies are made and an interrupted one resumed "
                        "(default: a folder of this repository's in the system's temporary folder)")
    parser.add_argument("--scope", choices=SCOPES, default="all", help="all: every stage re-made (default); "
                        "untrained: only what the statements on untrained sources rest on, trained models kept")
    args = parser.parse_args(argv)
    kernels = None if args.kernels is None else [k for k in args.kernels.split(",") if k]
    code = check(args.repo.resolve(), kernels, args.keep, args.scratch, args.scope)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    run_stage(main)
