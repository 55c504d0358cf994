from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.tools.profiles import PROFILES, merge, render

ROOT = Path(__file__).resolve().parents[2]


def test_merge_overrides_nested_values_and_rejects_typos():
    base = {"train": {"epochs": 10, "lr": 0.1}, "seed": 0}
    assert merge(base, {"train": {"epochs": 2}}) == {"train": {"epochs": 2, "lr": 0.1}, "seed": 0}
    with pytest.raises(InputError, match="train.epoch"):
        merge(base, {"train": {"epoch": 2}})


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_renders_and_names_itself(name):
    params = yaml.safe_load(render(name, ROOT))
    assert params["profile"] == name


def test_committed_params_yaml_is_a_rendered_profile():
    """params.yaml must equal one rendered profile, so `git diff` shows real experiment changes only."""
    text = (ROOT / "params.yaml").read_text()
    profile = yaml.safe_load(text)["profile"]
    assert text == render(profile, ROOT)
