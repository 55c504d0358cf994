"""Configs as the default profile sets them: the values live in profiles/default.yaml alone (a config dataclass has
no defaults of its own), and a test changes only the keys it is about."""

import copy
from pathlib import Path

from thermbench.core import stage

DEFAULT = Path(__file__).resolve().parents[1] / "profiles" / "default.yaml"


def default_section(dotted: str, changes: dict | None = None) -> dict:
    """The `dotted` section of profiles/default.yaml as params.yaml spells it, with `changes` ({"a.b": value}, keys
    relative to the section) applied."""
    section = copy.deepcopy(stage.section(stage.load_params(DEFAULT), dotted))
    for key, value in (changes or {}).items():
        *parents, last = key.split(".")
        node = section
        for parent in parents:
            node = node[parent]
        if last not in node:
            raise KeyError(f"{dotted}.{key} is not a key of profiles/default.yaml")
        node[last] = value
    return section


def default_config(dotted: str, cls, changes: dict | None = None):
    """The `dotted` section of profiles/default.yaml as the dataclass `cls`, with `changes` applied first."""
    return stage.build(cls, default_section(dotted, changes), dotted)
