"""thermbench.params_schema: the sections it checks are built with the classes the stages build them with, every
profile passes, and a bad value is refused in one line naming its key."""

import ast
import typing
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.params_schema import CONFIGS, PREPARE, READERS, check
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


def test_every_prepare_section_is_checked():
    assert set(PREPARE) == {f"prepare.{name}" for name in yaml.safe_load(render("paper", ROOT))["prepare"]}


@pytest.mark.parametrize("profile", ["default", "smoke", "paper", "real-smoke"])
def test_every_profile_passes(profile):
    check(yaml.safe_load(render(profile, ROOT)))


@pytest.mark.parametrize("key, value, message", [
    ("head.lr", "abc", "params.yaml: 'head.lr' must be a number, not 'abc'"),
    ("head.lr", -1, "params.yaml: 'head.lr' must be a number above 0, not -1"),
    ("train.fit.optim.lr", 0, "params.yaml: 'train.fit.optim.lr' must be a number above 0, not 0"),
    ("seed", "x", "params.yaml: 'seed' must be a whole number of at least 0, not 'x'"),
    ("data.source.tfake", "web", "params.yaml: 'data.source.tfake' must be 'synthetic' or 'real', not 'web'"),
    ("prepare.tfake.crop_size", "abc", "params.yaml: 'prepare.tfake.crop_size' must be int, not 'abc'"),
    ("prepare.300w.box_scale", 0, "params.yaml: 'prepare.300w.box_scale' must be a number above 0, not 0"),
    ("prepare.thermeval.crop_geometry", "square",
     "params.yaml: 'prepare.thermeval.crop_geometry' must be one of blog, per_axis, not 'square'"),
    ("prepare.thermeval.n_val", -1, "params.yaml: 'prepare.thermeval.n_val' must be a number of crops of at least 0, "
                                    "not -1"),
    ("prepare.tfake.split", {"train": 0.9, "val": 0.2}, "params.yaml: 'prepare.tfake.split' must give train and val, "
     "fractions of at least 0 adding to at most 1, not {'train': 0.9, 'val': 0.2}"),
    ("prepare.tfake.conditions", [], "params.yaml: 'prepare.tfake.conditions' must list thermal set names, not []"),
    ("prepare.charlotte.width", "face", "params.yaml: 'prepare.charlotte.width' must be one of frame, face_box, not "
                                        "'face'"),
    ("prepare.charlotte.median_width", -5, "params.yaml: 'prepare.charlotte.median_width' must be data or a width in "
                                           "px above 0, not -5"),
    ("prepare.charlotte.window_c", [40, 20], "params.yaml: 'prepare.charlotte.window_c' must be [low, high] in °C "
                                             "with low < high, not [40, 20]"),
    ("prepare.cocowholebody.complete_only", 1, "params.yaml: 'prepare.cocowholebody.complete_only' must be true or "
                                               "false, not 1"),
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
