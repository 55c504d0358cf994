"""Regression gate on hand-built metrics: exact and band checks, the report table, the metric policy, calibration
summaries, the tolerances and baseline files, and one toy DAG calibrated and checked end to end."""

import json
import subprocess
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.gates import regression
from thermbench.tools.gates.regression import Baseline, Calibration, Entry, Rule, Tolerances

ROOT = Path(__file__).resolve().parents[2]
CAL = Calibration(seed_params=("seed",), seed_offsets=(0, 1), keep_stages=(), kernels={"a": {}, "b": {"X": "1"}})
TOL = Tolerances(k=2.0, floor_abs=0.001, floor_rel=0.0, calibration=CAL, rules=(
    Rule("*.n", "exact", "counts"),
    Rule("skip.json:*", "skip", "chaotic"),
    Rule("wide.json:*", "band", "floor of its own", floor_abs=0.5),
    Rule("*best_epoch", "outcome", "near ties"),
    Rule("*", "band", "training")))
BASELINE = Baseline({"e.json:nme": Entry(0.05, 0.01), "e.json:split.n": Entry(12), "e.json:name": Entry("ours-t"),
                     "skip.json:curve": Entry(100.0, 90.0)})


def test_unchanged_numbers_pass():
    current = {"e.json:nme": 0.05, "e.json:split.n": 12, "e.json:name": "ours-t", "skip.json:curve": 5.0}
    result = regression.compare(BASELINE, current, TOL)
    assert result.ok and result.checked == 3 and result.skipped == 1
    assert regression.format_report(result) == "regression: OK, 3 compared, 1 skipped by rule, 0 new\n"


def test_band_allows_k_times_spread():
    # allowed = max(floor 0.001, 2 x 0.01) = 0.02 around 0.05
    assert regression.compare(BASELINE, {**_same(), "e.json:nme": 0.0699}, TOL).ok
    assert regression.compare(BASELINE, {**_same(), "e.json:nme": 0.0301}, TOL).ok
    result = regression.compare(BASELINE, {**_same(), "e.json:nme": 0.0702}, TOL)
    assert [m.name for m in result.moved] == ["e.json:nme"]
    assert result.moved[0].allowed == "±0.02 (2 × spread)" and result.moved[0].spread == "0.01"


def test_band_floor_applies_where_nothing_varied():
    baseline = Baseline({"e.json:nme": Entry(0.05, 0.0), "wide.json:x": Entry(1.0, 0.0)})
    assert regression.compare(baseline, {"e.json:nme": 0.0509, "wide.json:x": 1.4}, TOL).ok
    result = regression.compare(baseline, {"e.json:nme": 0.0511, "wide.json:x": 1.6}, TOL)
    assert [(m.name, m.allowed) for m in result.moved] == [("e.json:nme", "±0.001 (floor)"),
                                                            ("wide.json:x", "±0.5 (floor)")]


def test_pooled_family_spread():
    pooling = Tolerances(k=2.0, floor_abs=0.001, floor_rel=0.0, calibration=CAL, rules=TOL.rules, pool=True)
    assert regression.family("mlcmkd/ktl-fd.json:tfake.nme") == "mlcmkd/*:tfake.nme"
    assert regression.family("mlcmkd/ktl/ktl-fd-seed1.json:tfake.nme") == "mlcmkd/*:tfake.nme"
    assert regression.family("speed.json:t.params") == "speed.json:t.params"  # top-level files: no siblings
    baseline = Baseline({"m/a.json:nme": Entry(0.5, 0.0), "m/b.json:nme": Entry(0.6, 0.01), "m/b.json:n": Entry(3)})
    # a never moved at calibration, its sibling b did by 0.01 at 0.6 (1/60 of it): a gets 2 x 0.5/60 too, but only
    # with pooling on
    assert not regression.compare(baseline, {"m/a.json:nme": 0.515, "m/b.json:nme": 0.6, "m/b.json:n": 3}, TOL).ok
    assert regression.compare(baseline, {"m/a.json:nme": 0.515, "m/b.json:nme": 0.6, "m/b.json:n": 3}, pooling).ok
    result = regression.compare(baseline, {"m/a.json:nme": 0.52, "m/b.json:nme": 0.6, "m/b.json:n": 3}, pooling)
    assert [(m.allowed, m.spread) for m in result.moved] == [("±0.0166667 (2 × spread)",
                                                              "0.00833333 (pooled over m/*:nme)")]
    # the family's spread scales with each member's centre: a sibling 100x smaller gets a 100x smaller band
    # (an absolute pooled spread would give it 2 x 0.2 = 0.4)
    small = Baseline({"m/big.json:std": Entry(20.0, 0.2), "m/small.json:std": Entry(0.2, 0.0)})
    assert regression.compare(small, {"m/big.json:std": 20.0, "m/small.json:std": 0.2035}, pooling).ok  # <= 2 x 0.002
    assert not regression.compare(small, {"m/big.json:std": 20.0, "m/small.json:std": 0.2045}, pooling).ok


def test_exact_allows_1e_9_only():
    assert regression.compare(BASELINE, {**_same(), "e.json:split.n": 12.0 + 1e-10}, TOL).ok
    result = regression.compare(BASELINE, {**_same(), "e.json:split.n": 13}, TOL)
    assert [(m.name, m.check, m.allowed) for m in result.moved] == [("e.json:split.n", "exact", "±1e-9")]


def test_non_numbers_must_be_equal_with_the_same_type():
    assert not regression.compare(BASELINE, {**_same(), "e.json:name": "ours-s"}, TOL).ok
    assert not regression.compare(Baseline({"e.json:x": Entry(None)}), {"e.json:x": 0.0}, TOL).ok
    assert not regression.compare(Baseline({"e.json:f": Entry(True)}), {"e.json:f": 1}, TOL).ok  # True == 1 in Python
    assert regression.compare(Baseline({"e.json:x": Entry(None)}), {"e.json:x": None}, TOL).ok


def test_failure_table_names_metric_baseline_new_allowed_and_spread():
    result = regression.compare(BASELINE, {**_same(), "e.json:nme": 0.09, "e.json:split.n": 11}, TOL)
    report = regression.format_report(result, {"runs": "2 kernel settings x seed offsets [0, 1]"})
    assert report.startswith("regression: FAILED, 2 moved, 0 missing (3 compared, 1 skipped by rule, 0 new)")
    assert "| metric | check | baseline | new | allowed | spread |" in report
    assert "| e.json:nme | band | 0.05 | 0.09 | ±0.02 (2 × spread) | 0.01 |" in report
    assert "| e.json:split.n | exact | 12 | 11 | ±1e-9 | - |" in report
    assert "(2 kernel settings x seed offsets [0, 1])" in report


def test_missing_metric_fails_new_metric_is_listed_but_passes():
    current = {k: v for k, v in _same().items() if k != "e.json:name"}
    result = regression.compare(BASELINE, current, TOL)
    assert not result.ok and result.missing == ["e.json:name"]
    assert "In the baseline, not produced now (1):\n- e.json:name" in regression.format_report(result)

    result = regression.compare(BASELINE, {**_same(), "e.json:new_nme": 0.3}, TOL)
    assert result.ok and result.added == ["e.json:new_nme"]
    report = regression.format_report(result)
    assert report.startswith("regression: OK, 3 compared, 1 skipped by rule, 1 new\n")
    assert "not gated until `make baseline`; 1):\n- e.json:new_nme" in report


def test_skipped_and_unstable_metrics_are_never_compared():
    baseline = Baseline({**BASELINE.entries}, unstable={"e.json:sometimes": "absent from calibration runs a/seed+1"})
    current = {**_same(), "skip.json:curve": 1e9, "skip.json:other": 1.0, "e.json:sometimes": 3.0}
    result = regression.compare(baseline, current, TOL)
    assert result.ok and not result.added and result.skipped == 2


def test_a_flipped_best_epoch_passes_while_what_it_leads_to_stays_in_band():
    # Nearly tied validation losses: epoch 2 wins instead of 1; the NME of the model picked is gated as before.
    baseline = Baseline({**BASELINE.entries, "h.json:seeds.2.best_epoch": Entry(1, 0.0)})
    flipped = {**_same(), "h.json:seeds.2.best_epoch": 2, "e.json:nme": 0.0699}
    result = regression.compare(baseline, flipped, TOL)
    assert result.ok and result.checked == 4 and [m.name for m in result.outcomes] == ["h.json:seeds.2.best_epoch"]
    report = regression.format_report(result)
    assert report.startswith("regression: OK, 4 compared, 1 skipped by rule, 0 new\n")
    assert "- h.json:seeds.2.best_epoch: 1 -> 2" in report
    result = regression.compare(baseline, {**flipped, "e.json:nme": 0.0702}, TOL)  # out of its ±0.02 band
    assert not result.ok and [m.name for m in result.moved] == ["e.json:nme"]
    same_epoch = regression.compare(baseline, {**_same(), "h.json:seeds.2.best_epoch": 1.0}, TOL)  # a median: float
    assert same_epoch.ok and same_epoch.outcomes == []


def test_summarise_keeps_outcomes_that_differ_between_runs():
    runs = _runs({("a", 0): {"h.json:best_epoch": 1, "h.json:converged.best_epoch": True},
                  ("b", 0): {"h.json:best_epoch": 2, "h.json:converged.best_epoch": False}})
    baseline = regression.summarise(runs, TOL)
    assert baseline.unstable == {}
    assert baseline.entries["h.json:best_epoch"] == Entry(1.5, 1)
    assert baseline.entries["h.json:converged.best_epoch"] == Entry(True)


def _same() -> dict:
    return {"e.json:nme": 0.05, "e.json:split.n": 12, "e.json:name": "ours-t", "skip.json:curve": 5.0}


# ---------------------------------------------------------------------------------------------------- calibration
def _runs(values: dict[tuple[str, int], dict]) -> dict:
    return {key: {"e.json:split.n": 12, "e.json:name": "t", **metrics} for key, metrics in values.items()}


def test_summarise_centre_is_the_base_seed_median_spread_the_widest_kernel_range():
    runs = _runs({("a", 0): {"e.json:nme": 0.50}, ("b", 0): {"e.json:nme": 0.52}, ("c", 0): {"e.json:nme": 0.60},
                  ("a", 1): {"e.json:nme": 0.90}, ("b", 1): {"e.json:nme": 0.93}, ("c", 1): {"e.json:nme": 0.91}})
    baseline = regression.summarise(runs, TOL)
    # seed 0: median of 0.50, 0.52, 0.60 = 0.52, range 0.10; seed 1: range 0.03; the seed-to-seed 0.4 is not spread
    assert baseline.entries["e.json:nme"] == Entry(0.52, 0.1)
    assert baseline.entries["e.json:split.n"] == Entry(12, 0.0) and baseline.entries["e.json:name"] == Entry("t")
    assert baseline.unstable == {}


def test_summarise_refuses_exact_metrics_that_varied():
    runs = _runs({("a", 0): {}, ("b", 0): {"e.json:split.n": 13}})
    with pytest.raises(InputError, match=r"ruled exact .*\n  e.json:split.n: from 12 to 13 \(rule '\*.n'\)"):
        regression.summarise(runs, TOL)


def test_summarise_lists_unstable_metrics():
    runs = _runs({("a", 0): {"e.json:only_a": 1.0, "e.json:status": "ok"}, ("b", 0): {"e.json:status": "failed"}})
    baseline = regression.summarise(runs, TOL)
    assert baseline.unstable == {"e.json:only_a": "absent from calibration runs b/seed+0",
                                 "e.json:status": "differs between calibration runs and is not a number throughout"}
    assert "e.json:only_a" not in baseline.entries


def test_baseline_file_round_trip_one_line_per_metric(tmp_path):
    baseline = Baseline({"b.json:x": Entry(0.5, 0.01), "a.json:s": Entry("t")}, {"c.json:y": "why"}, {"runs": "r"})
    text = baseline.dumps()
    assert '    "a.json:s": {"centre": "t", "spread": 0.0},\n    "b.json:x": {"centre": 0.5, "spread": 0.01}\n' in text
    (tmp_path / "b.json").write_text(text)
    assert regression.read_baseline(tmp_path / "b.json") == baseline
    (tmp_path / "b.json").write_text('{"metrics": {"x": {"centre": 1}}}')
    with pytest.raises(InputError, match="not a baseline written by `make baseline`"):
        regression.read_baseline(tmp_path / "b.json")


def test_calibration_summary_flags_bands_as_wide_as_the_value():
    baseline = Baseline({"e.json:nme": Entry(0.5, 0.2), "e.json:ok": Entry(0.5, 0.01), "e.json:split.n": Entry(3)})
    text = regression.calibration_summary(baseline, TOL, 12.0)
    assert "3 metrics (1 exact, 2 band, 0 outcome, 0 skipped by rule), 0 unstable, calibrated in 12 s" in text
    assert "- e.json:nme: centre 0.5, spread 0.2, allowed ±0.4" in text and "e.json:ok" not in text


def test_baseline_rebuilt_from_kept_runs(tmp_path, capsys):
    (tmp_path / "tests/baseline").mkdir(parents=True)
    (tmp_path / "tests/baseline/tolerances.yaml").write_text(TOLERANCES_TEXT)
    runs = tmp_path / "runs"
    for kernel, offset, score in [("native", 0, 1.0), ("default", 0, 1.2), ("native", 1, 2.0), ("default", 1, 2.1)]:
        (runs / f"{kernel}-seed+{offset}.json").parent.mkdir(exist_ok=True)
        (runs / f"{kernel}-seed+{offset}.json").write_text(json.dumps({"m.json:score": score, "m.json:split.n": 4}))
    regression.main(["calibrate", "--repo", str(tmp_path), "--from-runs", str(runs)])
    baseline = regression.read_baseline(tmp_path / regression.BASELINE)
    assert baseline.entries == {"m.json:split.n": Entry(4), "m.json:score": Entry(1.1, 0.2)}
    assert baseline.info["runs"] == "2 kernel settings (default, native) x seed offsets [0, 1] of seed"
    assert "2 metrics (1 exact, 1 band, 0 outcome, 0 skipped by rule)" in capsys.readouterr().out
    (runs / "native-seed+1.json").unlink()
    with pytest.raises(InputError, match="need every kernel setting at every seed offset"):
        regression.main(["calibrate", "--repo", str(tmp_path), "--from-runs", str(runs)])


# ------------------------------------------------------------------------------------------------------ the files
TOLERANCES_TEXT = """k: 3
floor_abs: 1.0e-6
floor_rel: 1.0e-4
calibration:
  seed_params: [seed]
  seed_offsets: [0, 1]
  keep_stages: [raw]
  kernels: {native: {}, default: {ATEN_CPU_CAPABILITY: default}}
environment: {MKL_CBWR: AVX2}
rules:
  - {pattern: "*.n", check: exact, why: counts}
  - {pattern: "*", check: band, why: training, floor_rel: 0.01}
"""


def test_load_tolerances(tmp_path):
    path = tmp_path / "tol.yaml"
    path.write_text(TOLERANCES_TEXT)
    tol = regression.load_tolerances(path)
    assert (tol.k, tol.floor_abs, tol.floor_rel) == (3.0, 1e-6, 1e-4)
    assert tol.rules == (Rule("*.n", "exact", "counts"), Rule("*", "band", "training", floor_rel=0.01))
    assert tol.calibration.kernels == {"native": {}, "default": {"ATEN_CPU_CAPABILITY": "default"}}
    assert tol.env_for() == {"MKL_CBWR": "AVX2"}
    assert tol.env_for("default") == {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "default"}
    assert tol.floor(tol.rules[1], -2.0) == pytest.approx(1e-6 + 0.02)
    for bad, message in [("check: exact", "check must be one of exact, band, outcome, skip"),
                         ('pattern: "*", check: band', "the last rule must be the catch-all"),
                         ("why: training", "missing 'why'"),
                         ("seed_offsets: [0, 1]", "'seed_offsets' must start with 0"),
                         ("native: {}, default", "at least two setting names")]:
        broken = {"check: exact": TOLERANCES_TEXT.replace("check: exact", "check: exactly"),
                  'pattern: "*", check: band': TOLERANCES_TEXT.replace('pattern: "*", check: band',
                                                                        'pattern: "x*", check: band'),
                  "why: training": TOLERANCES_TEXT.replace(", why: training", ""),
                  "seed_offsets: [0, 1]": TOLERANCES_TEXT.replace("seed_offsets: [0, 1]", "seed_offsets: [1, 2]"),
                  "native: {}, default": TOLERANCES_TEXT.replace("native: {}, default", "default")}[bad]
        path.write_text(broken)
        with pytest.raises(InputError, match=message):
            regression.load_tolerances(path)


def test_committed_tolerances_and_baseline_agree():
    tol = regression.load_tolerances(ROOT / regression.TOLERANCES)
    assert tol.rule_for("speed.json:architectures.RTMPose-t (68 kpts).params").check == "exact"
    assert tol.rule_for("mlcmkd/ktl-dikd.json:tfake.nme").check == "band"
    for outcome in ["mlcmkd/ktl/ktl-dikd-seed0.json:training.best_epoch", "head/thermeval.json:seeds.2.best_epoch",
                    "mlcmkd/ktl/ktl-dikd-seed0.json:training.convergence.epochs_run",
                    "head/thermeval.json:convergence.runs.main.converged"]:
        assert tol.rule_for(outcome).check == "outcome"
    assert tol.rule_for("mlcmkd/ktl/ktl-dikd-seed0.json:epochs").check == "exact"  # the schedule's cap
    assert tol.environment == {"MKL_CBWR": "AVX2"}
    assert tol.env_for("default")["MKL_CBWR"] == "COMPATIBLE" and tol.env_for("native") == {"MKL_CBWR": "AVX2"}
    assert len(tol.calibration.kernels) >= 2 and len(tol.calibration.seed_offsets) >= 3
    baseline = regression.read_baseline(ROOT / regression.BASELINE)
    assert baseline.entries and "runs" in baseline.info
    exact_with_spread = [n for n, e in baseline.entries.items() if tol.rule_for(n).check == "exact" and e.spread]
    assert exact_with_spread == []


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


# ------------------------------------------------------------------------------------------ a toy DAG, end to end
TOY_STAGES = """stages:
  raw:
    cmd: python raw.py
    params: [seed]
    outs: [data/raw.txt]
  train:
    cmd: python train.py
    deps: [train.py, data/raw.txt]
    params: [seed, weight]
    metrics:
      - metrics/m.json:
          cache: false
      - metrics/timing/t.json:
          cache: false
"""
# The data draws from the seed; calibration must keep it (keep_stages), or the exact count `n` would change.
TOY_RAW = "import os, yaml\nos.makedirs('data', exist_ok=True)\n" \
          "open('data/raw.txt', 'w').write(str(10 + yaml.safe_load(open('params.yaml'))['seed']))\n"
# "Training": the seed moves the score a lot, the kernel setting (env KERNEL) a little, as on real CPUs.
TOY_TRAIN = """import json, os, yaml
p = yaml.safe_load(open('params.yaml'))
n = int(open('data/raw.txt').read())
score = p['weight'] * (1 + 0.1 * p['seed']) + (0.001 if os.environ.get('KERNEL') else 0.0)
os.makedirs('metrics/timing', exist_ok=True)
json.dump({'n': n, 'score': round(score, 6), 'pin': os.environ.get('PIN')}, open('metrics/m.json', 'w'))
json.dump({'ms': 1}, open('metrics/timing/t.json', 'w'))
"""


def toy_repo(root: Path) -> Path:
    """A git repo with the real profile switch's inputs, a seeded data stage and a seeded 'training' stage."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("/data/\n")
    (root / "profiles").mkdir()
    (root / "profiles/default.yaml").write_text("profile: default\nseed: 0\nweight: 1.0\n")
    (root / "profiles/smoke.yaml").write_text("weight: 2.0\n")
    (root / "params.yaml").write_text("profile: default\nseed: 0\nweight: 1.0\n")
    (root / "raw.py").write_text(TOY_RAW)
    (root / "train.py").write_text(TOY_TRAIN)
    (root / "dvc.yaml").write_text(TOY_STAGES)
    (root / "metrics").mkdir()
    (root / "metrics/m.json").write_text('{"n": 1, "stale": 0}')  # committed metrics from another run: ignored
    (root / "tests/baseline").mkdir(parents=True)
    (root / "tests/baseline/tolerances.yaml").write_text(
        "k: 3\nfloor_abs: 1.0e-6\nfloor_rel: 0\nenvironment: {PIN: gate}\n"
        "calibration:\n  seed_params: [seed]\n  seed_offsets: [0, 1]\n  keep_stages: [raw]\n"
        "  kernels: {native: {}, other: {KERNEL: '1'}}\n"
        "rules:\n  - {pattern: 'm.json:n', check: exact, why: data count}\n"
        "  - {pattern: '*', check: band, why: training}\n")
    return root


def test_calibrate_then_check_on_a_toy_repo(tmp_path, capsys):
    repo = toy_repo(tmp_path / "repo")
    regression.main(["calibrate", "--repo", str(repo)])
    baseline = regression.read_baseline(repo / regression.BASELINE)
    # smoke weight 2: score 2.0 or 2.001 at seed 0 (median 2.0005), 2.2 or 2.201 at seed+1: spread 0.001, not 0.2
    # every run under the gate's environment (PIN), the check's own too: else 'pin' would differ below
    assert baseline.entries == {"m.json:n": Entry(10), "m.json:score": Entry(2.0005, 0.001),
                                "m.json:pin": Entry("gate")}
    assert "2 kernel settings (native, other) x seed offsets [0, 1] of seed" == baseline.info["runs"]
    assert baseline.info["environment"] == "PIN=gate"
    assert (repo / "params.yaml").read_text() == "profile: default\nseed: 0\nweight: 1.0\n"  # repo untouched
    capsys.readouterr()

    assert regression.check(repo) == 0
    verdict, shared = capsys.readouterr().out.splitlines()
    assert verdict == "regression: OK, 3 compared, 0 skipped by rule, 0 new"
    assert shared.startswith("team remote: pushed") and shared.endswith("`dvc repro` ran no stage")

    (repo / "profiles/smoke.yaml").write_text("weight: 2.01\n")  # a loss weight changed: score moves by 0.01
    assert regression.check(repo) == 1
    assert "| m.json:score | band | 2.0005 | 2.01 | ±0.003 (3 × spread) | 0.001 |" in capsys.readouterr().out
