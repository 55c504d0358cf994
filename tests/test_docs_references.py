"""Every file path, code name, stage, params key and link the README and the docs pages name exists on a fresh clone:
a backticked path is a file or folder of the repository or an output `dvc.lock` records; `thermbench.x.y` imports;
"`NAME` in `file.py`" is defined in that file; a `stage@item` is a stage of `dvc.lock` (or of another profile: its
item listed there); a dotted params key is a key of params.yaml or of a profile; a relative link resolves. (Commands
are `tests/test_readme_commands.py`'s.)"""

import importlib
import re
from pathlib import Path

import pytest
import yaml

from thermbench.tools.pipeline import timings
from thermbench.tools.pipeline.profiles import PROFILES, has_section, render

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "submissions/README.md", "src/thermbench/breath/README.md",
         *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")))
TOP_FOLDERS = ("data", "metrics", "plots", "docs", "src", "stages", "tests", "profiles", "submissions", "conclusions")
PATH = re.compile(r"^(?:\.\./)?[\w.-]+(?:/[\w.@-]+)+/?$")  # a bare file name (`truth.csv`) is a name, not a path
TEMPLATE = re.compile(r"[<>*{}$]|\.\.\.|^[A-Z]+/")  # <dataset>, globs, ${item}, DEST/: a pattern, not a path
USERS = "submissions/"  # the user's own files, named as examples (its README.md is checked as a link target)
NAME_IN_FILE = re.compile(r"`([A-Za-z_]\w*)` in `([\w/.-]+\.py)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))


LOCK = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
OUTPUTS = {out["path"].rstrip("/") for stage in LOCK.values() for out in stage.get("outs", [])}
OUTPUTS.add(str(timings.STAGE_TIMINGS))  # written by `make repro` itself (its DVC command line), no stage's output
STAGES = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
OTHER_PROFILES = " ".join(p.read_text() for p in (ROOT / "profiles").glob("*.yaml") if p.stem != "default")


def path_exists(token: str, page: Path) -> bool:
    """A path relative to the repository, to the page, or to src/thermbench (the docs' short form), or a DVC output
    (or a file inside one, or a folder holding some), or what `make repro` writes beside them."""
    path = token.rstrip("/")
    if any((base / path).exists() for base in (ROOT, page.parent, ROOT / "src" / "thermbench")):
        return True
    return any(path == o or path.startswith(o + "/") or o.startswith(path + "/") for o in OUTPUTS)


def path_problems(page: Path, text: str) -> list[str]:
    tokens = {t.split("::")[0].split(":")[0] for t in backticked(text)}
    paths = [t for t in tokens if PATH.match(t) and not TEMPLATE.search(t) and "." not in t.split("/")[0][:1]
             and (t.split("/")[0] in TOP_FOLDERS or "/" not in t or (page.parent / t).exists()
                  or (ROOT / "src" / "thermbench" / t.split("/")[0]).is_dir())]
    return [f"no path {t}" for t in sorted(paths) if not path_exists(t, page)
            and not (t.startswith(USERS) and t != USERS + "README.md")]


def module_problems(text: str) -> list[str]:
    problems = []
    for dotted in sorted({t for t in backticked(text) if re.fullmatch(r"thermbench(\.\w+)+", t)}):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                problems.append(f"no name {dotted}")
            break
        else:
            problems.append(f"no module {dotted}")
    return problems


def name_problems(page: Path, text: str) -> list[str]:
    problems = []
    for name, file in NAME_IN_FILE.findall(text.replace("\n", " ")):
        path = next((b / file for b in (ROOT, page.parent, ROOT / "src" / "thermbench") if (b / file).is_file()), None)
        if path is None:
            problems.append(f"no file {file} (for `{name}`)")
        elif not re.search(rf"^(?:def |class )?{name}\b", path.read_text(), re.M):
            problems.append(f"`{name}` is not defined in {file}")
    return problems


def stage_problems(text: str) -> list[str]:
    names = {w for t in backticked(text) for w in re.findall(r"(?<![\w/.])([a-z][a-z0-9_]*@[\w.-]+)", t)}
    return [f"no stage {n}" for n in sorted(names) if n not in LOCK and not (
        n.split("@")[0] in STAGES and re.search(rf"(?<![\w-]){re.escape(n.split('@')[1])}(?![\w-])", OTHER_PROFILES))]


def params_keys() -> list[dict]:
    """params.yaml and every profile's params, as `make profile` composes them."""
    return [yaml.safe_load((ROOT / "params.yaml").read_text())] + [yaml.safe_load(render(p, ROOT)) for p in PROFILES]


def params_problems(text: str, trees: list[dict]) -> list[str]:
    tops = set().union(*(t.keys() for t in trees))
    keys = {t.split(":")[0].split("=")[0] for t in backticked(text)}
    dotted = [k for k in keys if re.fullmatch(r"[a-z_]\w*(\.[\w-]+)+", k) and k.split(".")[0] in tops
              and not re.search(r"\.(py|md|yaml|json|csv)$", k)]
    return [f"no params key {k}" for k in sorted(dotted) if not any(has_section(t, k) for t in trees)]


def link_problems(page: Path, text: str) -> list[str]:
    links = [link.split("#")[0] for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]
    return [f"broken link {link}" for link in links if link and not (page.parent / link).exists()]


@pytest.fixture(scope="module")
def trees():
    return params_keys()


@pytest.mark.parametrize("name", PAGES)
def test_every_name_in_the_page_exists(name, trees):
    page = ROOT / name
    text = page.read_text()
    problems = (path_problems(page, text) + module_problems(text) + name_problems(page, text) + stage_problems(text)
                + params_problems(text, trees) + link_problems(page, text))
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_the_checks_catch_what_the_issue_met(tmp_path, trees):
    """The stale names a reader met: `ADAPTERS` in `zeroshot/bakeoff.py`, a moved section, a missing file."""
    page = ROOT / "docs" / "own-model.md"
    assert name_problems(page, "an adapter (`ADAPTERS` in `zeroshot/bakeoff.py`)") == [
        "`ADAPTERS` is not defined in zeroshot/bakeoff.py"]
    assert not name_problems(page, "an adapter (`MODELS` in `src/thermbench/zeroshot/registry.py`)")
    assert link_problems(page, "[x](../README.md#benchmark) [y](gone.md) [z](https://x.org/a.md)") == [
        "broken link gone.md"]
    assert path_problems(page, "`src/thermbench/core/nothing.py`, `data/prepared/thermeval/frames.csv`, "
                               "`data/prepared/<dataset>/samples.csv`") == ["no path src/thermbench/core/nothing.py"]
    assert module_problems("`thermbench.core.io.InputError` `thermbench.core.io.Nothing` `thermbench.nope`") == [
        "no name thermbench.core.io.Nothing", "no name thermbench.nope"]
    assert params_problems("`head.lr` `head.lr_typo` `train.fit.patience`", trees) == ["no params key head.lr_typo"]
    assert stage_problems("`breath_track@ktl-dikd` `breath_track_student@ktl-0` `rgbsets@rgbsets` (paper)") == [
        "no stage breath_track@ktl-dikd"]


# Material a clone does not hold: the design notes' fact sheets, a sibling folder, the project's issue tracker.
OUTSIDE = re.compile(r"\bfacts/|\.\./" + "shared|\\b[Ii]ssue #?\\d+|\\(#\\d+\\)")


def test_no_file_of_the_project_cites_material_outside_the_repository():
    import subprocess
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = [f for f in files if f.endswith((".py", ".md", ".yaml", ".yml", ".json", ".toml", ".txt", ".cfg"))
             or f in ("Makefile", ".ci/run")]
    found = [f"{f}:{n}: {m.group(0)}" for f in texts if (ROOT / f).is_file() and f != "dvc.lock"
             for n, line in enumerate((ROOT / f).read_text(errors="replace").splitlines(), 1)
             for m in [OUTSIDE.search(line)] if m]
    assert not found, "\n".join(found[:20])
