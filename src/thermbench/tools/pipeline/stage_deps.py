"""dvc.yaml's generated parts: the code deps, from the imports each stage script really makes, and the datasets the
raw, prepare and stats stages run over, from the datasets' registry.

A stage's code deps are its script(s) plus every project file they import, statically and transitively (imports inside
functions too), with each parent package's `__init__.py` (Python runs it on every import of a submodule), plus the
data files those modules read (`DATA_FILES`). So an edit reaches exactly the stages that can run the edited file, and
no other. Every other dep (data, metrics, params files) is kept as written, after the code. A `foreach:` marked
`# datasets/registry.py` lists the registered datasets (a mapping marked so maps each to its data.source), so a new
dataset enters dvc.yaml through its registry entry.

    python -m thermbench.tools.pipeline.stage_deps --check   # exit 1, listing the stages whose generated parts differ
    python -m thermbench.tools.pipeline.stage_deps --write   # rewrite them in place (nothing else in dvc.yaml changes)
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import sys
from functools import lru_cache
from pathlib import Path

import yaml

CODE_ROOTS = ("src/", "stages/")
# The stage that checks params.yaml first, and its output: every other stage depends on it, so runs after the check.
PARAMS_CHECK, PARAMS_CHECKED = "check_params", "data/params_checked.json"
# Package data a module reads at run time: a change to it changes what the module computes.
DATA_FILES = {
    "src/thermbench/core/keypoints.py": ("src/thermbench/schemas",),
    "src/thermbench/datasets/synth/mesh.py": ("src/thermbench/datasets/synth/base_mesh.npz",),
}
WIDTH = 120
_DEPS = re.compile(r"^(?P<indent>[ \t]*)deps: \[(?P<body>[^\]]*)\]", re.MULTILINE)
_STAGE = re.compile(r"^  (?P<name>[\w-]+):\s*$", re.MULTILINE)
_MARK = "  # datasets/registry.py"
_DATASET_LIST = re.compile(rf"^(?P<indent>[ ]*)foreach: \[[^\]]*\]{_MARK}$", re.MULTILINE)
_DATASET_SOURCES = re.compile(rf"^(?P<indent>[ ]*)foreach:{_MARK}: each one's data\.source\n(?:(?P=indent)  .*\n)*",
                              re.MULTILINE)


def project_sources(root: Path) -> dict[str, str]:
    """Every Python file under src/ and stages/, by its path relative to `root`."""
    files = [*root.glob("src/**/*.py"), *root.glob("stages/**/*.py")]
    return {f.relative_to(root).as_posix(): f.read_text() for f in files}


def module_file(name: str, sources) -> str | None:
    """Project module `a.b` -> src/a/b.py or src/a/b/__init__.py; None for anything outside src/."""
    base = "src/" + name.replace(".", "/")
    return next((f for f in (base + ".py", base + "/__init__.py") if f in sources), None)


def commands(spec: dict) -> list[str]:
    return spec["cmd"] if isinstance(spec["cmd"], list) else [spec["cmd"]]


def stage_scripts(spec: dict, sources) -> list[str]:
    """`python stages/x.py` and `python -m thermbench.x` in a stage's cmd (several commands allowed)."""
    scripts = []
    for cmd in commands(spec):
        tokens = shlex.split(cmd)
        for i, tok in enumerate(tokens[:-1]):
            if Path(tok).name in ("python", "python3"):
                nxt = tokens[i + 1]
                if nxt == "-m" and i + 2 < len(tokens) and tokens[i + 2].split(".")[0] == "thermbench":
                    name = tokens[i + 2]
                    scripts.append(module_file(name + ".__main__", sources) or module_file(name, sources) or name)
                elif nxt.endswith(".py"):
                    scripts.append(nxt)
    return scripts


@lru_cache(maxsize=None)
def nodes(source: str) -> tuple[ast.AST, ...]:
    """Every node of a file, walked once (each file is read for many stages)."""
    return tuple(ast.walk(ast.parse(source)))


def package_of(path: str) -> str:
    """src/a/b/c.py and src/a/b/__init__.py are both in package a.b (what a relative import starts from)."""
    return ".".join(Path(path).parts[1:-1]) if path.startswith("src/") else ""


def imported_modules(path: str, sources) -> set[str]:
    """Every module an `import` / `from ... import` anywhere in the file names (also inside functions)."""
    names = set()
    for node in nodes(sources[path]):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from this file's package
                pkg = package_of(path).split(".")
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from a import b`: b may be a submodule or a name in a
                sub = f"{base}.{alias.name}"
                names.add(sub if module_file(sub, sources) else base)
    return names


def closure(scripts: list[str], sources) -> set[str]:
    """The scripts plus every project file they import, transitively, with every parent package's __init__.py."""
    seen, todo = set(), [s for s in scripts if s in sources]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path, sources):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:depth]), sources)
                if found:
                    todo.append(found)
    return seen


def code_deps(spec: dict, sources) -> list[str]:
    """What a stage's code deps must be: its import closure and the package data those modules read, sorted."""
    files = closure(stage_scripts(spec, sources), sources)
    return sorted(files | {data for f in files for data in DATA_FILES.get(f, ())})


def is_code(dep: str) -> bool:
    return dep.startswith(CODE_ROOTS)


def flow_list(indent: str, items: list[str]) -> str:
    """`deps: [a, b, ...]` wrapped at WIDTH, continuation lines under the first item."""
    head = f"{indent}deps: ["
    lines, line = [], head
    for i, item in enumerate(items):
        text = item + ("]" if i == len(items) - 1 else ",")
        if line != head and len(line) + 1 + len(text) > WIDTH:
            lines.append(line)
            line = " " * len(head) + text
        else:
            line += ("" if line == head else " ") + text
    return "\n".join([*lines, line])


def _items(body: str) -> list[str]:
    """The items of a flow list as written (quotes kept: `"data/raw/${item}"` must stay quoted in flow style)."""
    return [item.strip() for item in body.replace("\n", " ").split(",") if item.strip()]


def _value(item: str) -> str:
    return item.strip("'\"")


def regenerate(text: str, stages: dict, sources) -> tuple[str, list[str]]:
    """dvc.yaml's text with every stage's code deps replaced by what its imports give; the names of the stages that
    changed. `stages` is the parsed `stages:` mapping (a foreach/matrix stage's body lies under `do:` or beside it)."""
    starts = [(m.start(), m["name"]) for m in _STAGE.finditer(text)]
    changed, out, last = [], [], 0
    for match in _DEPS.finditer(text):
        name = next(n for pos, n in reversed(starts) if pos < match.start())
        spec = stages[name].get("do", stages[name])
        old = _items(match["body"])
        checked = [PARAMS_CHECKED] if name != PARAMS_CHECK else []
        new = code_deps(spec, sources) + checked + [d for d in old if not is_code(_value(d)) and
                                                    _value(d) != PARAMS_CHECKED]
        if new != old:
            changed.append(name)
        out += [text[last:match.start()], flow_list(match["indent"], new)]
        last = match.end()
    return "".join(out + [text[last:]]), changed


def dataset_lists(text: str, names: list[str]) -> str:
    """dvc.yaml's text with each marked `foreach:` over `names` (a list, or each name -> ${data.source.<name>})."""
    text = _DATASET_LIST.sub(lambda m: f"{m['indent']}foreach: [{', '.join(names)}]{_MARK}", text)
    return _DATASET_SOURCES.sub(
        lambda m: f"{m['indent']}foreach:{_MARK}: each one's data.source\n"
                  + "".join(f"{m['indent']}  {n}: ${{data.source.{n}}}\n" for n in names), text)


def generate(text: str, sources) -> tuple[str, list[str]]:
    """dvc.yaml's text with its dataset lists and every stage's code deps generated; the stages that changed."""
    from thermbench.datasets.registry import DATASETS  # loads every adapter: only the generator needs it

    listed = dataset_lists(text, list(DATASETS))
    moved = [] if listed == text else ["the dataset lists"]
    new, changed = regenerate(listed, yaml.safe_load(listed)["stages"], sources)
    return new, moved + changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 when a stage's code deps differ")
    mode.add_argument("--write", action="store_true", help="rewrite the code deps in dvc.yaml")
    parser.add_argument("--root", type=Path, default=Path("."), help="the project root (default: here)")
    args = parser.parse_args(argv)
    path = args.root / "dvc.yaml"
    text = path.read_text()
    new, changed = generate(text, project_sources(args.root))
    if args.write:
        path.write_text(new)
        print(f"{path}: {len(changed)} generated part(s) rewritten{': ' + ', '.join(changed) if changed else ''}")
    elif changed:
        sys.exit(f"{path}: generated parts differ from the code in {', '.join(changed)} "
                 "(python -m thermbench.tools.pipeline.stage_deps --write)")


if __name__ == "__main__":
    main()
