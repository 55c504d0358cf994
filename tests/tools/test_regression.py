"""Regression comparison on hand-built metrics: tolerance arithmetic, the report table, missing/new keys, file walk."""

import json
import subprocess
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools import regression
from thermbench.tools.regression import Rule

ROOT = Path(__file__).resolve().parents[2]
RULES = [Rule("speed.json:*", 0.0, 0.0), Rule("eval/*:nme*", abs=0.001, rel=0.1)]
BASELINE = {"eval/tfake.json:nme": 0.05, "speed.json:t.params": 4333538, "eval/tfake.json:name": "ours-t"}


def test_within_tolerance_passes():
    # nme allowance: 0.001 + 0.1 * 0.05 = 0.006; 0.0559 is 0.0059 away.
    result = regression.compare(BASELINE, {**BASELINE, "eval/tfake.json:nme": 0.0559}, RULES)
    assert result.ok and result.checked == 3
    assert regression.format_report(result) == "regression: OK, 3 metrics within tolerance of the baseline\n"


def test_beyond_tolerance_fails_with_table():
    current = {**BASELINE, "eval/tfake.json:nme": 0.0561, "speed.json:t.params": 4333539}
    result = regression.compare(BASELINE, current, RULES)
    assert not result.ok
    assert [m.name for m in result.moved] == ["eval/tfake.json:nme", "speed.json:t.params"]
    report = regression.format_report(result)
    assert report.startswith("regression: FAILED, 2 moved, 0 missing, 0 new (of 3 compared)")
    assert "| metric | baseline | new | tolerance |" in report
    assert "| eval/tfake.json:nme | 0.05 | 0.0561 | abs 0.001 + rel 0.1 (eval/*:nme*) |" in report
    assert "| speed.json:t.params | 4333538 | 4333539 | abs 0 + rel 0 (speed.json:*) |" in report


def test_missing_and_new_keys_are_reported():
    current = {k: v for k, v in BASELINE.items() if k != "eval/tfake.json:name"} | {"eval/charlotte.json:nme": 0.2}
    result = regression.compare(BASELINE, current, RULES)
    assert not result.ok and not result.moved
    assert result.missing == ["eval/tfake.json:name"] and result.added == ["eval/charlotte.json:nme"]
    report = regression.format_report(result)
    assert "In the baseline, not produced now:\n- eval/tfake.json:name" in report
    assert "Produced now, not in the baseline:\n- eval/charlotte.json:nme" in report


def test_unmatched_metric_must_be_exact_and_non_numbers_equal():
    assert regression.rule_for("other.json:x", RULES) is regression.EXACT
    assert not regression.compare({"other.json:x": 1.0}, {"other.json:x": 1.0000001}, RULES).ok
    assert regression.within(None, None, Rule("*", 1.0)) and not regression.within(None, 0.0, Rule("*", 1.0))
    assert not regression.within("a", "b", Rule("*", 1.0)) and not regression.within(True, 1, Rule("*", 1.0))


def test_collect_metrics_flattens_and_skips_timing(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "timing").mkdir()
    (tmp_path / "eval/a.json").write_text(json.dumps({"pck": {"5": 0.5}, "curve": [1, 2], "nme": None}))
    (tmp_path / "timing/speed.json").write_text(json.dumps({"ms": 3.0}))
    assert regression.collect_metrics(tmp_path) == {"eval/a.json:pck.5": 0.5, "eval/a.json:curve.0": 1,
                                                    "eval/a.json:curve.1": 2, "eval/a.json:nme": None}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        regression.collect_metrics(tmp_path)


def test_load_tolerances(tmp_path):
    path = tmp_path / "tol.yaml"
    path.write_text("rules:\n  - pattern: 'a*'\n    abs: 0.5\n  - pattern: '*'\n    rel: 0.1\n")
    assert regression.load_tolerances(path) == [Rule("a*", 0.5, 0.0), Rule("*", 0.0, 0.1)]
    path.write_text("rules:\n  - pattern: '*'\n    absolute: 1\n")
    with pytest.raises(InputError, match="rule 0 must have"):
        regression.load_tolerances(path)


def test_committed_tolerances_parse():
    rules = regression.load_tolerances(ROOT / regression.TOLERANCES)
    assert regression.rule_for("speed.json:mcl-t.params", rules) == Rule("speed.json:*", 0.0, 0.0)
    assert regression.rule_for("speed.json:mcl-t.onnx_max_abs_diff", rules).abs == 1e-4


def test_worktree_files_skip_ignored(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/data/\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/big.bin").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.py").write_text("")
    assert regression.worktree_files(tmp_path) == [".gitignore", "src/a.py"]
    regression.copy_worktree(tmp_path, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").rglob("*") if p.is_file()) == [".gitignore", "a.py"]


def toy_repo(root: Path) -> Path:
    """A git repo with the real profile switch's inputs and a one-stage DAG that writes a metric from params."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("/data/\n")
    (root / "profiles").mkdir()
    (root / "profiles/default.yaml").write_text("profile: default\nvalue: 1\n")
    (root / "profiles/smoke.yaml").write_text("value: 2\n")
    (root / "params.yaml").write_text("profile: default\nvalue: 1\n")
    (root / "stage.py").write_text(
        "import json, os, yaml\nos.makedirs('metrics/timing', exist_ok=True)\n"
        "json.dump({'v': yaml.safe_load(open('params.yaml'))['value']}, open('metrics/m.json', 'w'))\n"
        "json.dump({'ms': 1}, open('metrics/timing/t.json', 'w'))\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  m:\n    cmd: python stage.py\n    params: [value]\n    metrics:\n"
        "      - metrics/m.json:\n          cache: false\n      - metrics/timing/t.json:\n          cache: false\n")
    (root / "metrics/timing").mkdir(parents=True)
    (root / "metrics/m.json").write_text('{"v": 1, "stale": 0}')  # committed metrics from another run: ignored
    (root / "tests/baseline").mkdir(parents=True)
    (root / "tests/baseline/tolerances.yaml").write_text("rules:\n  - pattern: '*'\n    abs: 0.5\n")
    return root


def test_refresh_then_check_on_a_toy_repo(tmp_path, capsys):
    repo = toy_repo(tmp_path / "repo")
    regression.main(["refresh", "--repo", str(repo)])  # the smoke profile sets value 2
    assert json.loads((repo / regression.BASELINE).read_text()) == {"m.json:v": 2}
    assert (repo / "params.yaml").read_text() == "profile: default\nvalue: 1\n"  # the repo itself is untouched

    (repo / "profiles/smoke.yaml").write_text("value: 3\n")  # moves the metric by 1 > abs 0.5
    with pytest.raises(SystemExit) as exc:
        regression.main(["check", "--repo", str(repo)])
    assert exc.value.code == 1
    assert "| m.json:v | 2 | 3 | abs 0.5 + rel 0 (*) |" in capsys.readouterr().out
