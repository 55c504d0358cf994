"""thermbench.params_schema: the sections it checks are built with the classes the stages build them with, every
profile passes, and a bad value is refused in one line naming its key."""

import ast
import typing
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.params_schema import CONFIGS, READERS, check
from thermbench.tools.pipeline.profiles import render

ROOT = Path(__file__).resolve().parents[1]


def stage_config_calls() -> set[tuple[str, str]]:
    """(section, class name) of every `stage.config(args, "<section>", Class)` in the stage scripts."""
    calls = set()
    for path in ROOT.glob("stages/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            f = getattr(node, "func", None)
            if isinstance(f, ast.Attribute) and f.attr == "config" and getattr(f.value, "id", None) == "stage":
                calls.add((node.args[1].value, node.args[2].id))
    return calls


def test_every_stage_config_section_is_checked_with_its_class():
    calls = stage_config_calls()
    assert len(calls) >= 10
    nested = {(s, c) for s, c in calls if s.rpartition(".")[0] in CONFIGS
              and typing.get_type_hints(CONFIGS[s.rpartition(".")[0]])[s.rpartition(".")[2]].__name__ == c}
    assert nested == {("head.backbone", "BackboneConfig")}  # a field of HeadConfig: checked with it
    assert calls - nested == {(s, cls.__name__) for s, cls in CONFIGS.items()}
    assert not set(CONFIGS) & set(READERS)


@pytest.mark.parametrize("profile", ["default", "smoke", "paper", "real-smoke"])
def test_every_profile_passes(profile):
    check(yaml.safe_load(render(profile, ROOT)))


@pytest.mark.parametrize("key, value, message", [
    ("head.lr", "abc", "params.yaml: 'head.lr' must be a number, not 'abc'"),
    ("head.lr", -1, "params.yaml: 'head.lr' must be a number above 0, not -1"),
    ("train.fit.optim.lr", 0, "params.yaml: 'train.fit.optim.lr' must be a number above 0, not 0"),
    ("seed", "x", "params.yaml: 'seed' must be a whole number of at least 0, not 'x'"),
    ("data.source.tfake", "web", "params.yaml: 'data.source.tfake' must be 'synthetic' or 'real', not 'web'"),
])
def test_a_bad_value_is_one_line_naming_the_key(key, value, message):
    params = yaml.safe_load(render("smoke", ROOT))
    node = params
    *path, last = key.split(".")
    for part in path:
        node = node[part]
    node[last] = value
    with pytest.raises(InputError) as err:
        check(params)
    assert str(err.value) == message
