"""The vendor shift measurement: each part's clearance shift between two runs, the margin from their quantile, and
the committed measurements."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.gates import vendor_shift as vs
from thermbench.tools.publish.readme_blocks import VENDOR_CHECKS

ROOT = Path(__file__).resolve().parents[2]


def _record(i, verdict, clearance):
    return {"id": i, "verdict": verdict, "clearance": clearance}


def test_shifts_margin_and_coverage_by_hand(tmp_path):
    here = {"a": _record("a", "x < y; x < z", {"x < y": 0.5, "x < z": 2.0}), "b": _record("b", "p < q", {"p < q": 1.0}),
            "c": _record("c", "not resolved", {})}
    there = {"a": _record("a", "x < y", {"x < y": 0.7}), "b": _record("b", "p < q", {"p < q": 0.2}),
             "c": _record("c", "not resolved", {})}
    rows = vs.shifts(here, there)
    assert [(r["statement"], r["part"], r["shift"]) for r in rows] == [("a", "x < y", 0.2), ("b", "p < q", 0.8)]
    # two shifts 0.2, 0.8: the 0.9 quantile by linear interpolation is 0.2 + 0.9 * 0.6 = 0.74
    assert vs.margin_from([0.2, 0.8], 0.9) == 0.74
    assert vs.margin_from([0.2, 0.8001], 0.9) == 0.75  # rounded up, never down
    m = vs.measurement(here, there, "h", "AMD", "Intel")
    assert (m["margin"], m["covered"], m["shift"]["median"], m["shift"]["max"]) == (0.74, 1, 0.5, 0.8)
    assert m["verdicts"] == {"statements": 3, "differ": ["a"]}
    with pytest.raises(InputError, match="nothing measured"):
        vs.margin_from([])


@pytest.mark.parametrize("path", [vs.OUT.as_posix(), *VENDOR_CHECKS])
def test_each_committed_measurement_follows_from_its_own_shifts(path):
    """A committed measurement's margin follows from its own shifts (the reports apply `VENDOR_MARGIN`, which
    docs/conclusions.md sets beside each)."""
    committed = json.loads((ROOT / path).read_text())
    assert committed["shift"]["quantile"] == vs.VENDOR_QUANTILE
    assert vs.margin_from([p["shift"] for p in committed["pairs"]]) == committed["margin"]
    assert committed["covered"] == sum(p["shift"] <= committed["margin"] for p in committed["pairs"])
    assert all(p["shift"] == round(abs(p["there"] - p["here"]), 4) for p in committed["pairs"])


def test_the_newest_measurement_is_of_the_run_it_names():
    """Its "here" side is this repository's run, as committed at the commit its `how` names ("committed at <sha>"):
    every part it names has that clearance in that commit's metrics/conclusions.json (a run re-made since, on other
    code or another CPU, is not the one measured)."""
    newest = json.loads((ROOT / VENDOR_CHECKS[-1]).read_text())
    commit = re.search(r"committed at ([0-9a-f]{7,40}) \(git show", newest["how"]).group(1)
    text = subprocess.run(["git", "show", f"{commit}:metrics/conclusions.json"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    mine = {s["id"]: s.get("clearance", {}) for s in json.loads(text)["statements"]}
    assert newest["pairs"] and all(mine[p["statement"]][p["part"]] == p["here"] for p in newest["pairs"])
