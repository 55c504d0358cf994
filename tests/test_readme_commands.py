"""The shell commands of the README and of its docs/ pages are ones that work on a fresh clone: every `make` target
and variable exists, every `make profile` renders, every module and script named exists, and nothing runs a stage
through `dvc` without the venv on PATH (stage commands call `python`; `.venv/bin/dvc repro` alone stops with
ModuleNotFoundError)."""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from thermbench.tools.pipeline.profiles import render

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "src/thermbench/breath/README.md", *sorted(p.relative_to(ROOT).as_posix()
                                                                  for p in (ROOT / "docs").glob("*.md")))
OWN_MODEL = ROOT / "docs" / "own-model.md"  # the submissions.yaml and model card examples
RUNS_STAGES = {"repro", "exp"}  # dvc subcommands that run stage commands (`python ...`)


def bash_blocks(text: str) -> list[list[str]]:
    """Each ```bash block as its commands: continuation lines joined, comments dropped, `&&` chains split."""
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", body)
        lines = [line.split("  #")[0].split(" # ")[0].strip() for line in joined.splitlines()]
        blocks.append([cmd.strip() for line in lines if line and not line.startswith("#")
                       for cmd in line.split("&&")])
    return blocks


def inline_make_commands(text: str) -> list[str]:
    """`make ...` commands quoted inline in the prose (the README also tells people what to type there), `&&` chains
    split; templates with a <placeholder> or "..." are left out."""
    quoted = [m.replace("\n", " ") for m in re.findall(r"`(make [^`]+)`", text)]
    return [cmd.strip() for m in quoted if "<" not in m and "..." not in m for cmd in m.split("&&")]


def make_targets_and_variables() -> tuple[set[str], set[str]]:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    variables = set(re.findall(r"^([A-Z_]+)\s*[?:]?=", makefile, re.M))
    return targets, variables


def commands() -> list[tuple[str, list[str]]]:
    out = []
    for name in READMES:
        text = (ROOT / name).read_text()
        out += [(name, block) for block in bash_blocks(text)]
        out += [(name, [cmd]) for cmd in inline_make_commands(text)]
    return out


def check_make(cmd: list[str]) -> list[str]:
    targets, variables = make_targets_and_variables()
    problems = []
    for word in cmd[1:]:
        key, sep, value = word.partition("=")
        if sep and key not in variables:
            problems.append(f"unknown make variable {key}")
        elif not sep and word not in targets:
            problems.append(f"unknown make target {word}")
    if "profile" in cmd[1:]:
        assignments = dict(w.split("=", 1) for w in cmd[1:] if "=" in w)
        render(assignments.get("P", "default"), ROOT, tuple(assignments.get("SET", "").split()))  # raises if wrong
    return problems


def check_command(cmd: str, activated: bool) -> list[str]:
    words = shlex.split(cmd)
    tool = words[0]
    if tool == "make":
        return check_make(words)
    if tool.endswith("dvc") and len(words) > 1 and words[1] in RUNS_STAGES and not activated:
        return ["runs stages without the venv on PATH: use `make repro` or `source .venv/bin/activate` first"]
    if tool.endswith("python") and words[1:2] == ["-m"] and importlib.util.find_spec(words[2]) is None:
        return [f"no module {words[2]}"]
    scripts = [w for w in words if w.startswith("stages/")]
    return [f"no script {s}" for s in scripts if not (ROOT / s).is_file()]


@pytest.mark.parametrize("name, block", commands(), ids=lambda v: v if isinstance(v, str) else " | ".join(v)[:60])
def test_readme_commands_work(name, block):
    activated, problems = False, []
    for cmd in block:
        activated |= cmd.startswith("source .venv/bin/activate")
        problems += [f"{name}: `{cmd}`: {p}" for p in check_command(cmd, activated)]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_the_fresh_clone_failures():
    """What the issue met: `.venv/bin/dvc repro` after `make profile` (ModuleNotFoundError), a typo'd profile key."""
    assert check_command(".venv/bin/dvc repro", activated=False)
    assert not check_command(".venv/bin/dvc repro", activated=True)
    assert not check_command("dvc metrics show --md metrics/datasets", activated=False)
    assert check_make(["make", "repro", "TARGET=report_breath"]) == ["unknown make variable TARGET"]
    with pytest.raises(Exception, match="data.source.breth"):
        check_make(["make", "profile", "P=default", "SET=data.source.breth=real"])


def test_the_submissions_example_is_valid_yaml_with_known_keys_and_tasks():
    """The submissions.yaml example as a user pastes it (a comma in an unquoted note would split the entry)."""
    import yaml

    from thermbench.core.submissions import FIELDS, TASKS

    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", OWN_MODEL.read_text(), re.S)]
    entries = [e for b in blocks if isinstance(b, dict) and "submissions" in b for e in b["submissions"].values()]
    assert len(entries) == 4
    for entry in entries:
        assert set(entry) <= FIELDS
        if "model" in entry:  # an ONNX model's card
            assert entry["model"].startswith("submissions/") and entry["model"].endswith(".yaml")
        else:
            assert entry["task"] in TASKS and entry["path"].startswith("submissions/")


def test_the_model_card_example_has_the_keys_the_reader_knows():
    import yaml

    from thermbench.models import onnx_model as om

    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", OWN_MODEL.read_text(), re.S)]
    cards = [b for b in blocks if isinstance(b, dict) and "onnx" in b]
    assert len(cards) == 1 and set(cards[0]) == om.KEYS
    for section, known in (("input", om.INPUT_KEYS), ("output", om.OUTPUT_KEYS), ("face", om.FACE_KEYS)):
        assert set(cards[0][section]) <= known


PROSE_MAKE = re.compile(r"\bmake ([a-z][\w-]*)")
ENGLISH = {"the", "of"}  # "make the ...", "make of ...": prose, not a target
SAYS_RUNS = re.compile(r"`make ([a-z][\w-]*)` \(`((?:python|\.venv/bin/python) [^`]+)`")


def recipe(target: str) -> str:
    """The commands `make target` runs, its variables expanded ($(PY) as `python`), whitespace collapsed."""
    makefile = (ROOT / "Makefile").read_text()
    values = dict(re.findall(r"^([A-Z_]+)\s*[?:]?=\s*(.*)$", makefile, re.M))
    body = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)*)", makefile, re.M)[1]
    for _ in range(4):  # variables naming variables
        body = re.sub(r"\$\((\w+)\)", lambda m: "python" if m[1] == "PY" else values.get(m[1], m[0]), body)
    return " ".join(body.split())


def test_every_make_target_the_prose_names_exists_and_says_what_it_runs():
    """Every `make X` of the pages, backticked or not, is a Makefile target; where a page says what a target runs
    ("`make regression` (`python ...`"), the Makefile runs that."""
    targets, _ = make_targets_and_variables()
    problems = []
    for name in READMES:
        text = (ROOT / name).read_text()
        problems += [f"{name}: make {word}: no such target" for word in sorted(set(PROSE_MAKE.findall(text)))
                     if word not in targets and word not in ENGLISH]
        for target, says in SAYS_RUNS.findall(" ".join(text.split())):
            if " ".join(says.split()) not in recipe(target):
                problems.append(f"{name}: `make {target}` runs `{recipe(target)}`, not `{says}`")
    assert not problems, "\n".join(problems)
    assert "python tests/support/warm_regression.py check" in recipe("regression")


def test_every_python_command_of_the_prose_exists():
    """Every `python -m <module>` and `python <script>.py` of the pages (prose too) names a module or script there."""
    problems = []
    for name in READMES:
        text = " ".join((ROOT / name).read_text().split())
        problems += [f"{name}: no module {m}" for m in sorted(set(re.findall(r"python -m ([\w.]+)", text)))
                     if importlib.util.find_spec(m) is None]
        problems += [f"{name}: no script {s}" for s in sorted(set(re.findall(r"python ([\w/.-]+\.py)\b", text)))
                     if not (ROOT / s).is_file()]
    assert not problems, "\n".join(problems)
