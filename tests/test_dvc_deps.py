"""dvc.yaml cannot drift from the code: every project module a stage's script(s) import (statically, transitively)
is covered by the stage's `deps:`, and every params key the script reads through `stage.config` / `stage.value` is
covered by its `params:`. Otherwise `dvc repro` would serve stale outputs after a change to an undeclared input."""

from __future__ import annotations

import ast
import itertools
import re
import runpy
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from thermbench.mlcmkd.settings import SCHEDULING
from thermbench.tools.pipeline.profiles import render
from thermbench.tools.pipeline.stage_deps import (
    PARAMS_CHECK,
    closure,
    code_deps,
    commands,
    dataset_lists,
    generate,
    is_code,
    nodes,
    project_sources,
    regenerate,
    stage_scripts,
)

ROOT = Path(__file__).resolve().parents[1]
STAGE_API = "thermbench.core.stage"
STAGE_API_FILE = "src/thermbench/core/stage.py"  # defines load_params/section, so never flagged for using them
READS, BYPASS = {"config", "value", "sources"}, {"load_params", "section"}
INTERP = re.compile(r"\$\{\s*([\w.]+)\s*\}")


# --- dvc.yaml: foreach expansion and ${...} substitution --------------------------------------------------------

def lookup(tree, dotted: str):
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            raise KeyError(f"'{dotted}' is neither a foreach variable nor a params.yaml key")
        tree = tree[part]
    return tree


def substitute(node, ctx: dict, params: dict):
    """${item}, ${key}, ${item.x} from the foreach context; any other ${a.b} from params.yaml (as DVC does)."""
    if isinstance(node, dict):
        return {substitute(k, ctx, params): substitute(v, ctx, params) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, ctx, params) for v in node]
    if not isinstance(node, str):
        return node
    return INTERP.sub(lambda m: str(lookup(ctx if m[1].split(".")[0] in ctx else params, m[1])), node)


def expand_stages(dvc: dict, params: dict) -> dict[str, dict]:
    stages = {}
    for name, spec in dvc["stages"].items():
        if "matrix" in spec:
            dims = {dim: lookup(params, INTERP.fullmatch(v.strip())[1]) if isinstance(v, str) else v
                    for dim, v in spec["matrix"].items()}
            body = {k: v for k, v in spec.items() if k != "matrix"}
            for values in itertools.product(*dims.values()):
                item = dict(zip(dims, values))
                stages[f"{name}@{'-'.join(map(str, values))}"] = substitute(body, {"item": item}, params)
            continue
        if "foreach" not in spec:
            stages[name] = substitute(spec, {}, params)
            continue
        items = spec["foreach"]
        if isinstance(items, str):
            items = lookup(params, INTERP.fullmatch(items.strip())[1])
        pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
        for key, item in pairs:
            ctx = {"key": key, "item": item} if isinstance(items, dict) else {"item": item}
            stages[f"{name}@{key}"] = substitute(spec["do"], ctx, params)
    return stages


# --- code deps: exactly the import closure (thermbench.tools.pipeline.stage_deps) ---------------------------------

def check_deps(spec: dict, sources) -> list[str]:
    """Both directions: every file the script(s) import is a dep, and every code dep is imported (or is package data
    an imported module reads)."""
    scripts = stage_scripts(spec, sources)
    problems = [f"script {s} not found" for s in scripts if s not in sources] or ([] if scripts else ["no script"])
    declared = {d for d in spec.get("deps", []) if isinstance(d, str) and is_code(d)}
    wanted = set(code_deps(spec, sources))
    return problems + [f"{f} not covered by deps" for f in sorted(wanted - declared)] + \
        [f"{f} is a dep but not imported" for f in sorted(declared - wanted)]


# --- params read through stage.config / stage.value --------------------------------------------------------------

def cmd_option(spec: dict, dest: str) -> str | None:
    """The value of `--dest` (argparse spells `args.raw_tfake` as `--raw-tfake`) in the stage's cmd."""
    opt = "--" + dest.replace("_", "-")
    for cmd in commands(spec):
        tokens = shlex.split(cmd)
        for i, tok in enumerate(tokens):
            if tok == opt and i + 1 < len(tokens):
                return tokens[i + 1]
            if tok.startswith(opt + "="):
                return tok[len(opt) + 1:]
    return None


def key_of(arg: ast.expr, spec: dict) -> tuple[str, bool] | None:
    """(key, exact) for a literal; for an f-string, formatted `args.x` parts are filled from `--x` in the cmd,
    and the literal text before the first part that cannot be filled is a prefix (exact False)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value, True
    if not isinstance(arg, ast.JoinedStr):
        return None
    text = ""
    for part in arg.values:
        if isinstance(part, ast.Constant):
            text += part.value
            continue
        v = part.value
        filled = cmd_option(spec, v.attr) if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and \
            v.value.id == "args" else None
        if filled is None:
            return text, False
        text += filled
    return text, True


def stage_api_uses(source: str) -> list[tuple[str, int, ast.AST]]:
    """Uses of thermbench.core.stage's params readers: `stage.<name>` or a name imported from the module."""
    uses = []
    for node in nodes(source):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "stage" and \
                node.attr in READS | BYPASS:
            uses.append((node.attr, node.lineno, node))
        elif isinstance(node, ast.ImportFrom) and node.module == STAGE_API:
            uses += [(a.name, node.lineno, node) for a in node.names if a.name in READS | BYPASS]
    return uses


ALL_PARAMS = ""  # `params.yaml:` with no keys, or params.yaml among the deps: the stage depends on every value


def declared_params(spec: dict) -> list[str]:
    keys = [ALL_PARAMS] if "params.yaml" in spec.get("deps", []) else []
    for p in spec.get("params", []):
        keys += [p] if isinstance(p, str) else [k for f, ks in p.items() if f == "params.yaml"
                                                for k in (ks if ks is not None else [ALL_PARAMS])]
    return keys


@lru_cache(maxsize=None)
def params_yaml() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def section_declared(key: str, declared: list[str]) -> bool:
    """A section read whole is covered where every key params.yaml holds in it is declared but the scheduling ones
    (`SCHEDULING`: no number depends on them)."""
    section = params_yaml()
    for part in key.split("."):
        section = section.get(part) if isinstance(section, dict) else None
    keys = [f"{key}.{k}" for k in section] if isinstance(section, dict) else []
    return bool(keys) and all(k in declared for k in keys if k not in SCHEDULING)


def read_problems(path: str, source: str, spec: dict) -> list[str]:
    """Each `stage.config(args, key, Cls)` / `stage.value(args, key)` key must be covered by a declared param:
    `a` covers `a.b.c`, `a.b` covers `a.b` and `a.b.c`; a prefix needs a declared param inside or above it."""
    declared, problems = declared_params(spec), []
    for call in nodes(source):
        f = getattr(call, "func", None)
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "stage"
                and f.attr in READS):
            continue
        if f.attr == "sources":  # stage.sources(args, datasets) reads data.source.<dataset>
            found = ("data.source.", False)
        else:
            found = key_of(call.args[1], spec) if len(call.args) > 1 else None
        if found is None:
            problems.append(f"{path}:{call.lineno}: stage.{f.attr} key is not a string literal")
            continue
        key, exact = found
        keys = keys_kwarg(call, path)
        if keys is not None:
            problems += [p for k in keys for p in _undeclared(path, call.lineno, f"{key}.{k}", exact, declared)
                         if f"{key}.{k}" not in SCHEDULING]
            continue
        problems += _undeclared(path, call.lineno, key, exact, declared)
    return problems


def _undeclared(path: str, line: int, key: str, exact: bool, declared: list[str]) -> list[str]:
    if not any(d == ALL_PARAMS or key == d or key.startswith(d + ".") or (not exact and d.startswith(key))
                   for d in declared) and not (exact and section_declared(key, declared)):
        return [f"{path}:{line}: params key '{key}{'' if exact else '*'}' not declared"]
    return []


def keys_kwarg(call: ast.Call, path: str) -> tuple[str, ...] | None:
    """The `keys=` of a `stage.value` call (the only keys of the section it reads): a literal, or an expression over
    the script's names (evaluated in the script's namespace)."""
    node = next((kw.value for kw in call.keywords if kw.arg == "keys"), None)
    if node is None:
        return None
    try:
        return tuple(ast.literal_eval(node))
    except ValueError:
        return tuple(eval(ast.unparse(node), script_namespace(path)))  # noqa: S307 - the project's own script


@lru_cache(maxsize=None)
def script_namespace(path: str) -> dict:
    return runpy.run_path(str(ROOT / path), run_name="not_main")


def check_params(spec: dict, sources) -> list[str]:
    """Keys the stage script(s) read must be declared; params read anywhere else (load_params/section, or a
    stage.config/value call in library code) bypass the convention and are reported."""
    if ALL_PARAMS in declared_params(spec):  # it follows every value: no read can escape its params
        return []
    scripts = [s for s in stage_scripts(spec, sources) if s in sources]
    problems = []
    for path in sorted(closure(scripts, sources) - {STAGE_API_FILE}):
        for name, line, node in stage_api_uses(sources[path]):
            if path not in scripts or name in BYPASS or isinstance(node, ast.ImportFrom):
                problems.append(f"{path}:{line}: {name} reads params around stage.config/stage.value in the script")
        problems += read_problems(path, sources[path], spec) if path in scripts else []
    return problems


# --- the real dvc.yaml -------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def sources() -> dict[str, str]:
    return project_sources(ROOT)


def with_vars(dvc: dict, params: dict) -> dict:
    """params.yaml's values with those of dvc.yaml's `vars` ("file:key" entries) beside them, as DVC reads them."""
    out = dict(params)
    for entry in dvc.get("vars", []):
        file, _, key = entry.partition(":")
        out[key] = yaml.safe_load((ROOT / file).read_text())[key]
    return out


@lru_cache(maxsize=None)
def real_stages() -> dict[str, dict]:
    """The stages of params.yaml, plus those only the paper profile has (foreach over lists empty by default: the real
    RGB sets), expanded with the paper's params."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    stages = expand_stages(dvc, with_vars(dvc, yaml.safe_load((ROOT / "params.yaml").read_text())))
    paper = expand_stages(dvc, with_vars(dvc, yaml.safe_load(render("paper", ROOT))))
    return {**{name: spec for name, spec in paper.items() if name not in stages}, **stages}


@pytest.mark.parametrize("name", sorted(real_stages()))
def test_stage_deps_cover_imports(name):
    problems = check_deps(real_stages()[name], sources())
    assert not problems, f"stage {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(real_stages()))
def test_stage_params_cover_reads(name):
    problems = check_params(real_stages()[name], sources())
    assert not problems, f"stage {name}:\n  " + "\n  ".join(problems)


def test_real_dvc_yaml_is_checked():
    stages, sources = real_stages(), project_sources(ROOT)
    assert len(stages) > 10
    for name, spec in stages.items():
        scripts = stage_scripts(spec, sources)
        assert scripts and len(closure(scripts, sources) - set(scripts)) > 0, f"stage {name}: no import checked"


# --- the checker itself, on tiny in-memory projects --------------------------------------------------------------

SOURCES = {
    "stages/s.py": "from thermbench.core import stage\nfrom thermbench.a import helper\n\ndef main(args):\n"
                   "    stage.config(args, f'synth.{args.dataset}', C)\n    stage.value(args, 'seed')\n",
    "src/thermbench/__init__.py": '"""pkg."""\n__version__ = "0"\n',
    "src/thermbench/core/__init__.py": "NAMES: tuple = ('a', 'b')\n",
    "src/thermbench/core/stage.py": "def load_params(p): ...\n",
    "src/thermbench/a/__init__.py": "from thermbench.a import registry\n",
    "src/thermbench/a/registry.py": "",
    "src/thermbench/a/helper.py": "def f():\n    from .deep import g\n",
    "src/thermbench/a/deep.py": "",
}
SPEC = {"cmd": "python stages/s.py --dataset tfake", "deps": [
    "stages/s.py", "src/thermbench/__init__.py", "src/thermbench/core/__init__.py", "src/thermbench/core/stage.py",
    "src/thermbench/a/__init__.py", "src/thermbench/a/registry.py", "src/thermbench/a/helper.py",
    "src/thermbench/a/deep.py"], "params": ["seed", "synth.tfake"]}


def test_checker_closure_follows_submodules_relative_and_function_imports():
    files = closure(["stages/s.py"], SOURCES)
    assert files == {"stages/s.py", "src/thermbench/__init__.py", "src/thermbench/core/__init__.py",
                     "src/thermbench/core/stage.py", "src/thermbench/a/__init__.py", "src/thermbench/a/registry.py",
                     "src/thermbench/a/helper.py", "src/thermbench/a/deep.py"}
    assert check_deps(SPEC, SOURCES) == []
    two = {"cmd": "python stages/s.py --x 1 && python -m thermbench.a.helper && python -m json.tool"}
    assert stage_scripts(two, SOURCES) == ["stages/s.py", "src/thermbench/a/helper.py"]
    assert check_deps({**two, "cmd": "python stages/t.py"}, SOURCES) == ["script stages/t.py not found"]


def test_checker_reports_a_missing_dep_and_a_dep_nothing_imports():
    spec = {**SPEC, "deps": ["stages/s.py", "src/thermbench/core/__init__.py", "src/thermbench/core/stage.py",
                             "src/thermbench/a/helper.py", "src/thermbench/b.py", "data/raw"]}
    assert check_deps(spec, SOURCES) == [
        *[f"src/thermbench/{m} not covered by deps" for m in ("__init__.py", "a/__init__.py", "a/deep.py",
                                                               "a/registry.py")],
        "src/thermbench/b.py is a dep but not imported"]
    assert check_deps({**SPEC, "deps": SPEC["deps"][1:]}, SOURCES) == ["stages/s.py not covered by deps"]
    folder = {**SPEC, "deps": ["stages/s.py", "src/thermbench"]}  # a folder dep is no longer a file-level dep
    assert "src/thermbench is a dep but not imported" in check_deps(folder, SOURCES)


def test_regenerate_rewrites_code_deps_only_and_keeps_the_rest():
    text = ("stages:\n  s:\n    foreach: [tfake]\n    do:\n      cmd: python stages/s.py --dataset ${item}\n"
            "      deps: [src/thermbench/a, stages/s.py, \"data/raw/${item}\"]\n      params: [seed]\n"
            "  t:\n    cmd: python -m thermbench.a.helper\n    deps: [src/thermbench/a/helper.py]\n")
    stages = yaml.safe_load(text)["stages"]
    new, changed = regenerate(text, stages, SOURCES)
    assert changed == ["s", "t"]
    # the params check's output after the code: every stage but check_params runs after it
    assert yaml.safe_load(new)["stages"]["s"]["do"]["deps"] == [*sorted(SPEC["deps"]), "data/params_checked.json",
                                                              "data/raw/${item}"]
    assert yaml.safe_load(new)["stages"]["t"]["deps"] == [  # sorted; helper imports deep, a/__init__ imports registry
        "src/thermbench/__init__.py", "src/thermbench/a/__init__.py", "src/thermbench/a/deep.py",
        "src/thermbench/a/helper.py", "src/thermbench/a/registry.py", "data/params_checked.json"]
    check = text.replace("  t:\n", "  check_params:\n")
    new, _ = regenerate(check, yaml.safe_load(check)["stages"], SOURCES)
    assert "data/params_checked.json" not in yaml.safe_load(new)["stages"]["check_params"]["deps"]
    assert "params: [seed]" in new and max(map(len, new.splitlines())) <= 120
    assert regenerate(new, yaml.safe_load(new)["stages"], SOURCES) == (new, [])


def test_dataset_lists_follow_the_names_and_keep_unmarked_lists():
    text = ("stages:\n  raw:\n    foreach: [tfake]  # datasets/registry.py\n    do:\n      cmd: x ${item}\n"
            "  stats:\n    foreach:  # datasets/registry.py: each one's data.source\n"
            "      tfake: ${data.source.tfake}\n"
            "    do:\n      cmd: y ${key}\n  other:\n    foreach: [tfake]\n    do:\n      cmd: z ${item}\n")
    new = dataset_lists(text, ["tfake", "newset"])
    stages = yaml.safe_load(new)["stages"]
    assert stages["raw"]["foreach"] == ["tfake", "newset"]
    assert stages["stats"]["foreach"] == {"tfake": "${data.source.tfake}", "newset": "${data.source.newset}"}
    assert stages["other"]["foreach"] == ["tfake"]
    assert dataset_lists(new, ["tfake", "newset"]) == new


def test_real_dvc_yaml_generated_parts_are_generated():
    new, changed = generate((ROOT / "dvc.yaml").read_text(), sources())
    assert not changed, f"run `python -m thermbench.tools.pipeline.stage_deps --write`: {', '.join(changed)} differ"


def test_checker_reports_an_undeclared_params_key():
    assert check_params(SPEC, SOURCES) == []
    assert check_params({**SPEC, "params": ["synth"]}, SOURCES) == ["stages/s.py:6: params key 'seed' not declared"]
    assert check_params({**SPEC, "params": ["seed", "synth.thermeval"]}, SOURCES) == [
        "stages/s.py:5: params key 'synth.tfake' not declared"]
    no_option = {**SPEC, "cmd": "python stages/s.py", "params": ["seed"]}
    assert check_params(no_option, SOURCES) == ["stages/s.py:5: params key 'synth.*' not declared"]


def test_checker_flags_params_read_around_the_convention():
    sources = {**SOURCES, "src/thermbench/a/deep.py": "from thermbench.core.stage import section\n"}
    assert check_params(SPEC, sources) == [
        "src/thermbench/a/deep.py:1: section reads params around stage.config/stage.value in the script"]
    script = SOURCES["stages/s.py"] + "    p = stage.load_params(args.params)\n"
    assert check_params(SPEC, {**SOURCES, "stages/s.py": script}) == [
        "stages/s.py:7: load_params reads params around stage.config/stage.value in the script"]


def test_checker_expands_foreach_from_lists_dicts_and_params():
    dvc = {"stages": {"a": {"foreach": "${train.variants}", "do": {"cmd": "x ${key} ${item.lr}"}},
                      "b": {"foreach": ["p", "q"], "do": {"deps": ["d/${item}"], "params": ["s.${item}"]}}}}
    params = {"train": {"variants": {"v1": {"lr": 0.1}}}}
    assert expand_stages(dvc, params) == {"a@v1": {"cmd": "x v1 0.1"}, "b@p": {"deps": ["d/p"], "params": ["s.p"]},
                                          "b@q": {"deps": ["d/q"], "params": ["s.q"]}}
    matrix = {"stages": {"m": {"matrix": {"arch": ["t", "s"], "seed": "${train.seeds}"},
                               "cmd": "x ${item.arch} ${item.seed}"}}}
    assert expand_stages(matrix, {"train": {"seeds": [0, 1]}}) == {
        "m@t-0": {"cmd": "x t 0"}, "m@t-1": {"cmd": "x t 1"}, "m@s-0": {"cmd": "x s 0"}, "m@s-1": {"cmd": "x s 1"}}


def test_bytecode_is_no_dependency():
    # Folder deps (src/thermbench/core, ...) must hash the same with and without __pycache__: any import writes it.
    from dvc.fs import LocalFileSystem
    from dvc.ignore import DvcIgnoreFilter

    ignore = DvcIgnoreFilter(LocalFileSystem(), str(ROOT))
    assert ignore.is_ignored_dir(str(ROOT / "src/thermbench/core/__pycache__"))
    assert ignore.is_ignored_file(str(ROOT / "src/thermbench/core/stage.cpython-311.pyc"))
    assert not ignore.is_ignored_file(str(ROOT / "src/thermbench/core/stage.py"))


def test_lock_holds_only_stages_of_dvc_yaml():
    # `dvc repro` keeps the lock entry of a stage removed from dvc.yaml (renamed, or a matrix that became one stage):
    # users would read results of stages that no longer exist, and every stage run re-parses the larger file.
    locked = set(yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"])
    stale = sorted(locked - set(real_stages()))
    assert not stale, f"dvc.lock has stages dvc.yaml lacks (delete their entries): {', '.join(stale)}"


def stages_reaching(path: str) -> set[str]:
    """The stages of the real dvc.yaml whose deps name `path`: what an edit to it re-runs."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name for name, spec in stages.items() if path in spec.get("do", spec).get("deps", [])}


def test_an_edit_reaches_only_the_stages_that_run_it():
    """check_params aside: it imports every typed config, and its output (a constant) re-runs nothing after it."""
    src = ROOT / "src/thermbench"
    reports = [*src.glob("*/report*.py"), src / "zeroshot/blog_report.py", src / "breath/ranking.py"]
    for path in reports:
        reached = stages_reaching(path.relative_to(ROOT).as_posix()) - {PARAMS_CHECK}
        assert reached and all(s.startswith("report_") for s in reached), (path.name, reached)
    data_stages = {"raw", "prepare", "stats", "raw_rgb", "prepare_rgb", "stats_rgb"}
    for path in src.glob("models/*.py"):
        assert not stages_reaching(path.relative_to(ROOT).as_posix()) & data_stages, path.name
    for path in src.glob("speed/*.py"):
        assert stages_reaching(path.relative_to(ROOT).as_posix()) - {PARAMS_CHECK} <= {"speed", "speed_submissions",
                                                                                     "detector_fit"}, \
            path.name


def test_scheduling_keys_are_no_stage_params_and_their_sections_are_otherwise_declared():
    """A change of train.workers re-runs nothing; every stage that reads `train` whole declares each of its other keys
    (read_problems checks the covering)."""
    for name, spec in real_stages().items():
        declared = declared_params(spec)
        assert not [k for k in SCHEDULING if any(k == d or k.startswith(d + ".") for d in declared)], name


# --- params: exactly what the stage reads -------------------------------------------------------------------------

KERNEL_CHECK = "conclusions/kernel_check.json"  # a stage reading it declares the keys the check fingerprints


def leaves(key: str) -> set[str]:
    """The params.yaml leaf keys under `key` (itself where it is a leaf)."""
    node = params_yaml()
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not node:
        return {key}
    return {leaf for k in node for leaf in leaves(f"{key}.{k}")}


def script_reads(spec: dict, sources) -> tuple[set[str], set[str], bool]:
    """(exact keys, key prefixes, whether stage.sources is called) the stage's script(s) read."""
    exact, prefixes, data_sources = set(), set(), False
    for path in stage_scripts(spec, sources):
        for call in nodes(sources[path]):
            f = getattr(call, "func", None)
            if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "stage"
                    and f.attr in READS):
                continue
            if f.attr == "sources":
                data_sources = True
                continue
            key, is_exact = key_of(call.args[1], spec)
            keys = keys_kwarg(call, path)
            if not is_exact:
                prefixes.add(key)
            else:
                exact |= {f"{key}.{k}" for k in keys} if keys is not None else {key}
    return exact, prefixes, data_sources


def over_declared(spec: dict, sources) -> list[str]:
    """Declared params.yaml keys the stage's code never reads (a change to them would re-run it for nothing)."""
    declared = declared_params(spec)
    if ALL_PARAMS in declared or KERNEL_CHECK in spec.get("deps", []):
        return []
    exact, prefixes, data_sources = script_reads(spec, sources)
    read = {leaf for k in exact for leaf in leaves(k)}
    extra = []
    for d in declared:
        unread = {leaf for leaf in leaves(d) - read - set(SCHEDULING)
                  if not any(leaf.startswith(p) for p in prefixes)
                  and not (data_sources and leaf.startswith("data.source."))}
        if unread:
            extra.append(f"'{d}' is declared but {', '.join(sorted(unread)[:4])} is never read")
    return extra


@pytest.mark.parametrize("name", sorted(real_stages()))
def test_stage_params_are_exactly_its_reads(name):
    problems = over_declared(real_stages()[name], sources())
    assert not problems, f"stage {name}:\n  " + "\n  ".join(problems)


def test_over_declared_names_a_key_read_by_no_script():
    spec = {"cmd": "python stages/s.py --dataset tfake", "params": ["seed", "train.ktl"], "deps": []}
    srcs = {"stages/s.py": "from thermbench.core import stage\ndef main(args):\n    stage.value(args, 'seed')\n"
                           "    stage.value(args, 'train', keys=('seeds',))\n"}
    assert over_declared(spec, srcs) == [f"'train.ktl' is declared but {', '.join(sorted(leaves('train.ktl'))[:4])} "
                                         f"is never read"]
    assert not over_declared({**spec, "params": ["seed", "train.seeds"]}, srcs)


def test_every_cached_output_is_ignored_by_git():
    # DVC adds a cached output to the .gitignore beside it when a stage first writes it; one the repository lacks
    # leaves a fresh clone's `git status` dirty after `make repro`. Outputs git tracks (cache: false) are the others.
    outs = sorted({out["path"] for stage in yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"].values()
                   for out in stage.get("outs", [])})
    tracked = set(subprocess.run(["git", "ls-files", "--", *outs], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    cached = [p for p in outs if p not in tracked and not any(t.startswith(p + "/") for t in tracked)]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=ROOT, input="\n".join(cached),
                             capture_output=True, text=True).stdout.splitlines()
    assert sorted(set(cached) - set(ignored)) == []
