"""docs/scale.md's torchrun example first builds, with `make repro`, every stage whose outputs the student stages
read (dvc.yaml, read as YAML): otherwise the student stage under torchrun stops on a missing teacher or backbone."""

import re
from fnmatch import fnmatch
from pathlib import Path

import yaml

from thermbench.tools.pipeline.stage_deps import PARAMS_CHECK

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ("supervised", "ktl", "mcl")  # the stages the example runs under torchrun


def _paths(entries: list) -> list[str]:
    """dvc.yaml deps/outs as paths (an out may be a {path: options} mapping), `${...}` as a wildcard."""
    return [re.sub(r"\$\{[^}]*\}", "*", entry if isinstance(entry, str) else next(iter(entry))) for entry in entries]


def _overlap(a: str, b: str) -> bool:
    return fnmatch(a, b) or fnmatch(b, a) or a.startswith(b + "/") or b.startswith(a + "/")


def upstream_of_students(dvc: dict) -> set[str]:
    """The stages, students aside, that write something a student stage reads."""
    bodies = {name: stage.get("do", stage) for name, stage in dvc["stages"].items()}
    reads = [dep for name in STUDENTS for dep in _paths(bodies[name].get("deps", []))]
    return {name for name, body in bodies.items() if name not in STUDENTS
            and any(_overlap(dep, out) for dep in reads for out in _paths(body.get("outs", [])))}


def example_targets() -> set[str]:
    block = re.search(r"```bash\n([^`]*torchrun[^`]*)```", (ROOT / "docs" / "scale.md").read_text())
    assert block, "docs/scale.md has no torchrun example"
    return set(re.search(r'make repro TARGETS="([^"]+)"', block[1])[1].split())


def test_the_torchrun_example_builds_every_stage_the_students_read():
    # check_params precedes every stage: `make repro TARGETS=...` builds it with any target
    missing = upstream_of_students(yaml.safe_load((ROOT / "dvc.yaml").read_text())) - example_targets() - {PARAMS_CHECK}
    assert not missing, f"docs/scale.md's torchrun example does not build {sorted(missing)}"


def test_the_students_read_the_crop_store_the_teacher_and_the_pretrained_backbones():
    """Hand-read from dvc.yaml. The issue's example built only the first two: the check above fails on it."""
    upstream = upstream_of_students(yaml.safe_load((ROOT / "dvc.yaml").read_text()))
    assert {"crops_mlcmkd", "teacher", "pretrain"} <= upstream
    toy = {"stages": {"a": {"outs": ["data/a"]}, "b": {"deps": ["data/a/x"], "outs": [{"data/b": {"cache": False}}]},
                      "supervised": {"deps": ["data/b"]}, "ktl": {"foreach": [1], "do": {"deps": ["data/c/${item}"]}},
                      "c": {"foreach": [1], "do": {"outs": ["data/c/${item}"]}}, "mcl": {"deps": ["data/ktl"]}}}
    assert upstream_of_students(toy) == {"b", "c"}
