"""The stage convention: params sections into typed configs, with one clear error for each kind of bad input."""

from dataclasses import dataclass

import pytest

from thermbench.core import stage
from thermbench.core.io import InputError


@dataclass(frozen=True)
class Inner:
    size: int
    scale: float


@dataclass(frozen=True)
class Outer:
    inner: Inner
    thresholds: tuple
    name: str
    note: str | None = None


GOOD = {"inner": {"size": 64, "scale": 2}, "thresholds": [3, 5], "name": "x"}


def test_nested_config_from_a_mapping():
    cfg = stage.build(Outer, GOOD, "sec")
    assert cfg == Outer(inner=Inner(size=64, scale=2), thresholds=(3, 5), name="x", note=None)
    assert type(cfg.inner.scale) is int  # 2 stays 2: a metric echoing the param keeps the YAML's spelling
    assert stage.build(Outer, {**GOOD, "note": "n"}, "sec").note == "n"


@pytest.mark.parametrize("mapping, message", [
    ({**GOOD, "extra": 1}, "unknown key(s) extra in 'sec'"),
    ({k: v for k, v in GOOD.items() if k != "name"}, "missing key 'sec.name'"),
    ({**GOOD, "inner": {"size": "64", "scale": 2.0}}, "'sec.inner.size' must be int"),
    ({**GOOD, "inner": {"size": 64, "scale": True}}, "'sec.inner.scale' must be a number"),
    ({**GOOD, "inner": [64, 2.0]}, "'sec.inner' must be a mapping"),
    ({**GOOD, "thresholds": 5}, "'sec.thresholds' must be a list, not 5"),
    ({**GOOD, "inner": {"size": True, "scale": 2}}, "'sec.inner.size' must be int, not True"),
])
def test_bad_sections_name_the_key(mapping, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        stage.build(Outer, mapping, "sec")


def test_config_and_value_read_the_params_file(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("seed: 3\nsec:\n  inner: {size: 8, scale: 0.5}\n  thresholds: [1]\n  name: y\n")
    args = stage.parser("Doc line.\n\nmore").parse_args(["--params", str(params)])
    assert stage.value(args, "seed") == 3
    assert stage.config(args, "sec", Outer).inner == Inner(8, 0.5)
    with pytest.raises(InputError, match="missing key 'sec.nope'"):
        stage.value(args, "sec.nope")
    missing = stage.parser(None).parse_args(["--params", str(tmp_path / "absent.yaml")])
    with pytest.raises(InputError, match="params file not found"):
        stage.value(missing, "seed")
