"""The conclusions stage (gather every report's statements) and the kernel check's bookkeeping, on hand-written
statement files; the DAG is never re-trained here (rerun_under is replaced where check runs)."""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.core import conclusions as cc
from thermbench.core.conclusions_table import gather, markdown
from thermbench.core.io import InputError, read_json
from thermbench.tools.gates import conclusions
from thermbench.tools.gates.regression import TOLERANCES, load_tolerances

ROOT = Path(__file__).resolve().parents[2]


def _inputs(report: str, keys: list[str], code: str = "c") -> dict:
    """What `report_inputs` gives for one report resting on `keys` of params.yaml and no code file."""
    return {report: {"keys": keys, "code": code, "files": []}}


@pytest.fixture(autouse=True)
def _scratch_in_tmp(tmp_path, monkeypatch):
    """The check's copies under the test's folder, not the system's temporary one."""
    monkeypatch.setattr(conclusions, "scratch_dir", lambda repo: tmp_path / "scratch")


def _record(id, verdict, resolved, why="", verdict_here=None, kernels=(), deterministic=False):
    return {"id": id, "claim": f"claim {id}", "verdict_here": verdict_here or verdict, "resolved_here": resolved,
            "verdict": verdict, "resolved": resolved, "text": f"claim {id}: {verdict}", "why": why, "numbers": {},
            "trained": not deterministic, "deterministic": deterministic, "kernels_checked": list(kernels)}


SYNTHETIC = {"thermeval": "synthetic", "tfake": "synthetic"}


def _write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"statements": records}))
    return path


def test_gather_merges_sorts_and_counts(tmp_path):
    a = _write(tmp_path / "in/mlcmkd.json", [_record("m.z", "A < B", True),
                                             _record("m.b", "not resolved", False, "interval includes 0")])
    b = _write(tmp_path / "in/breath.json", [_record("b.a", "X < Y", True, kernels=["default"]),
                                             _record("b.f", "5 px", True, kernels=["default"],
                                                     deterministic=True)])
    gather([a, b], tmp_path / "out/conclusions.json", tmp_path / "out/conclusions.md", SYNTHETIC)
    out = read_json(tmp_path / "out/conclusions.json")
    assert [r["id"] for r in out["statements"]] == ["b.a", "b.f", "m.b", "m.z"]          # sorted by id across files
    assert [r["report"] for r in out["statements"]] == ["breath", "breath", "mlcmkd", "mlcmkd"]  # the file's stem
    assert (out["resolved"], out["not_resolved"], out["kernels_checked"]) == (3, 1, ["default"])
    assert (out["resolved_kernel_checked"], out["resolved_deterministic"]) == (2, 1)
    assert out["data"] == SYNTHETIC
    md = (tmp_path / "out/conclusions.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Report")]
    assert rows == ["| breath | claim b.a | X < Y | yes | trained | – |",
                    "| breath | claim b.f | 5 px | yes | deterministic | – |",
                    "| mlcmkd | claim m.b | not resolved | no | trained | interval includes 0 |",
                    "| mlcmkd | claim m.z | A < B | yes | trained | – |"]
    assert md.startswith("# Conclusions (SYNTHETIC data)")
    assert "Kernel settings compared: default." in md
    assert "Resolved and kernel-checked: 2; resolved, deterministic: 1; not resolved: 1." in md


def test_a_calibration_target_is_listed_apart_and_never_counted_as_a_finding(tmp_path):
    target = {**_record("z.a", "A > B", True, deterministic=True), "target": "A detects more than B"}
    a = _write(tmp_path / "in/zeroshot.json", [target, _record("z.b", "X < Y", True, deterministic=True)])
    gather([a], tmp_path / "c.json", tmp_path / "c.md", SYNTHETIC)
    out = read_json(tmp_path / "c.json")
    assert (out["resolved"], out["resolved_deterministic"], out["not_resolved"], out["calibration_targets"]) == \
        (1, 1, 0, 1)
    findings, targets = (tmp_path / "c.md").read_text().split("## Calibration targets (1, not findings)")
    assert "claim z.a" not in findings and "claim z.b" in findings
    assert "| zeroshot | claim z.a | A > B | yes | deterministic | A detects more than B | – |" in targets
    assert "resolved, deterministic: 1; not resolved: 0." in findings


def test_an_unresolved_statement_names_each_settings_outcome(tmp_path):
    a = _write(tmp_path / "in/mlcmkd.json", [_record("m.b", "not resolved", False, "interval includes 0"),
                                             _record("m.z", "A < B", True)])
    checks = {"mlcmkd": {"native": {"m.b": "not resolved", "m.z": "A < B"},
                         "avx2": {"m.b": "A < B", "m.z": "A < B"}, "default": {"m.z": "A < B"}}}
    gather([a], tmp_path / "c.json", tmp_path / "c.md", SYNTHETIC, checks)
    out = {r["id"]: r for r in read_json(tmp_path / "c.json")["statements"]}
    # settings in name order; one that gave no verdict on it is not named; a resolved statement has no outcomes
    assert out["m.b"]["outcomes"] == {"avx2": "A < B", "native": "not resolved"} and "outcomes" not in out["m.z"]
    assert ("| mlcmkd | claim m.b | not resolved | no | trained | interval includes 0; each setting: avx2: A < B; "
            "native: not resolved |") in (tmp_path / "c.md").read_text()


def test_gather_without_a_kernel_check_says_so(tmp_path):
    a = _write(tmp_path / "r.json", [_record("r.1", "A < B", True)])
    gather([a], tmp_path / "c.json", tmp_path / "c.md", {"tfake": "real", "thermeval": "synthetic"})
    assert "# Conclusions (real T-FAKE, SYNTHETIC ThermEval-D)" in (tmp_path / "c.md").read_text()
    assert "Kernel settings compared: none, this run only (`make conclusions` not run yet)." in \
        (tmp_path / "c.md").read_text()
    assert read_json(tmp_path / "c.json")["kernels_checked"] == []


def test_gather_refuses_repeated_ids_and_malformed_files(tmp_path):
    a = _write(tmp_path / "a.json", [_record("same", "A < B", True)])
    b = _write(tmp_path / "b.json", [_record("same", "A > B", True)])
    with pytest.raises(InputError, match="statement ids repeat"):
        gather([a, b], tmp_path / "c.json", tmp_path / "c.md", SYNTHETIC)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"statements": {"id": "x"}}))
    with pytest.raises(InputError, match="expected"):
        gather([a, bad], tmp_path / "c.json", tmp_path / "c.md", SYNTHETIC)
    assert not (tmp_path / "c.json").exists()


def test_differences_compare_only_committed_resolved_trained_statements():
    committed = [_record("r.same", "A < B", True), _record("r.flips", "A < B", True),
                 _record("r.gone", "C > D", True), _record("u.open", "not resolved", False),
                 _record("d.fixed", "5 px", True, deterministic=True),
                 _record("k.rank", "A < B, C; B < C", True), _record("k.level", "8 px", True)]
    found = {"default": {"r.same": "A < B", "r.flips": "not resolved", "u.open": "A < B", "d.fixed": "1 px",
                         "k.rank": "A < B, C, D; B < C", "k.level": "8 px"},
             "aten_default": {"r.same": "A < B", "r.flips": "A < B", "r.gone": "C > D", "u.open": "A > B",
                              "d.fixed": "2 px", "k.rank": "A < C", "k.level": "5 px"}}
    # u.open is not resolved as committed, d.fixed deterministic: whatever they are elsewhere is no difference.
    # r.gone is missing under default; k.rank keeps every pair under default (one more there), loses two under
    # aten_default.
    rows = conclusions.differences(committed, found)
    assert [(r["id"], r["setting"], r["lost"]) for r in rows] == [
        ("r.flips", "default", "A < B"), ("r.gone", "default", "C > D"),
        ("k.rank", "aten_default", "A < B; B < C"), ("k.level", "aten_default", "8 px")]
    assert conclusions.differences(committed, {}) == []
    assert conclusions.table(rows[:2]).splitlines()[2:] == [
        "| r.flips | default | A < B | not resolved | A < B |", "| r.gone | default | C > D | (missing) | C > D |"]


@pytest.mark.parametrize("kernels", [["avx9000"], ["default", "nope"], []])
def test_check_refuses_an_unknown_kernel_setting_before_running_anything(kernels, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("re-ran the DAG")

    monkeypatch.setattr(conclusions, "rerun_under", never)
    with pytest.raises(InputError, match="--kernels: choose from native, avx2, aten_default, mkl_compatible, default"):
        conclusions.check(ROOT, kernels)


def _made_for(repo):
    """What a scratch copy's own lock gives when it ran the repository's code and params (the check compares them)."""
    return conclusions.fingerprints(conclusions.report_inputs(repo), yaml.safe_load((repo / "params.yaml").read_text()))


def _found(verdicts: dict[str, str]) -> dict[str, dict]:
    """What rerun_under reads from a setting's statements files: trained statements without numbers."""
    return {i: {"verdict": v, "numbers": {}, "trained": True} for i, v in verdicts.items()}


def test_check_writes_the_kernel_check_and_fails_on_a_difference(tmp_path, monkeypatch, capsys):
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    records = [_record("r.1", "A < B", True), _record("r.2", "not resolved", False)]
    _write(tmp_path / conclusions.CONCLUSIONS, records)
    _write(tmp_path / "metrics/conclusions/r.json", records)
    there = {"aten_default": {"r.1": "A < B", "r.2": "A > B"}, "default": {"r.1": "not resolved", "r.2": "A > B"}}
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        _found(there[setting]), _made_for(repo)))
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("r", ["profile", "seed"]))
    assert conclusions.check(tmp_path, ["aten_default", "default"]) == 1
    written = read_json(tmp_path / conclusions.KERNEL_CHECK)
    assert written["verdicts"] == {"native": {"r.1": "A < B", "r.2": "not resolved"}, **there}
    assert written["profile"] == "smoke"
    assert written["params"] == {"r": {"keys": ["profile", "seed"],
                                       "sha256": cc.params_fingerprint({"profile": "smoke"}, ["profile", "seed"]),
                                       "code": {"files": [], "sha256": hashlib.sha256().hexdigest()}}}
    assert written["settings"]["aten_default"] == {"ATEN_CPU_CAPABILITY": "default"}
    out = capsys.readouterr().out
    assert "2 statements, 1 resolved as committed" in out and "not resolved there: aten_default 0, default 1" in out
    assert "| r.1 | default | A < B | not resolved | A < B |" in out
    there["default"]["r.1"] = "A < B"
    assert conclusions.check(tmp_path, ["default"]) == 0
    assert "conclusions: OK" in capsys.readouterr().out


def test_check_keeps_the_clearances_of_this_run_and_of_every_setting(tmp_path, monkeypatch):
    """Each run's clearance of each part of its verdicts goes into the check (`clearances`) and stays there with its
    setting, so the reports can apply the vendor margin to every setting's interval."""
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    native = {**_record("r.1", "A < B", True), "clearance": {"A < B": 0.8}}
    _write(tmp_path / conclusions.CONCLUSIONS, [native])
    _write(tmp_path / "metrics/conclusions/r.json", [native, _record("r.2", "not resolved", False)])
    found = {"aten_default": 0.3, "default": 1.4}
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        {"r.1": {"verdict": "A < B", "numbers": {}, "trained": True, "clearance": {"A < B": found[setting]}}},
        _made_for(repo)))
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("r", ["seed"]))
    assert conclusions.check(tmp_path, ["aten_default"]) == 0
    assert conclusions.check(tmp_path, ["default"]) == 0  # aten_default kept from the file, with its clearances
    written = read_json(tmp_path / conclusions.KERNEL_CHECK)
    assert written["clearances"] == {"native": {"r.1": {"A < B": 0.8}}, "aten_default": {"r.1": {"A < B": 0.3}},
                                     "default": {"r.1": {"A < B": 1.4}}}



def test_check_covers_every_kernel_setting_but_native_by_default(tmp_path, monkeypatch, capsys):
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    _write(tmp_path / conclusions.CONCLUSIONS, [_record("r.1", "A < B", True)])
    ran = []
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        ran.append(setting) or _found({"r.1": "A < B"}), _made_for(repo)))
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("r", ["seed"]))
    assert conclusions.check(tmp_path) == 0
    assert ran == ["avx2", "aten_default", "mkl_compatible", "default"]
    assert read_json(tmp_path / conclusions.KERNEL_CHECK)["settings"]["mkl_compatible"] == {"MKL_CBWR": "COMPATIBLE"}


def test_check_keeps_earlier_settings_made_for_the_same_params_and_code(tmp_path, monkeypatch, capsys):
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    _write(tmp_path / conclusions.CONCLUSIONS, [_record("r.1", "A < B", True)])
    _write(tmp_path / "metrics/conclusions/r.json", [_record("r.1", "A < B", True)])
    ran, code = [], {"sha": "c1"}

    def rerun(repo, setting, env, scratch, keep, made_for, scope):
        if setting == "default":
            raise KeyboardInterrupt  # a check stopped half way
        ran.append(setting)
        return _found({"r.1": "A < B"}), _made_for(repo)

    monkeypatch.setattr(conclusions, "rerun_under", rerun)
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("r", ["seed"], code["sha"]))
    with pytest.raises(KeyboardInterrupt):
        conclusions.check(tmp_path, ["aten_default", "default"])
    written = read_json(tmp_path / conclusions.KERNEL_CHECK)
    assert list(written["settings"]) == ["aten_default"]  # what it finished is written
    assert written["made"]["aten_default"]["for"] == {"r": {"params": cc.params_fingerprint({}, ["seed"]),
                                                            "code": "c1"}}
    # by default only the settings the file lacks for these params and code are re-made
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        ran.append(setting) or _found({"r.1": "A < B"}), _made_for(repo)))
    assert conclusions.check(tmp_path) == 0
    assert ran == ["aten_default", "avx2", "mkl_compatible", "default"]
    assert sorted(read_json(tmp_path / conclusions.KERNEL_CHECK)["verdicts"]) == [
        "aten_default", "avx2", "default", "mkl_compatible", "native"]
    # other code: every earlier setting is dropped and re-made
    code["sha"], ran[:] = "c2", []
    assert conclusions.check(tmp_path) == 0
    assert ran == ["avx2", "aten_default", "mkl_compatible", "default"]
    assert "earlier settings dropped: aten_default (made for other params or code)" in capsys.readouterr().err
    code["sha"] = None
    with pytest.raises(InputError, match="dvc.lock lacks code hashes upstream of the r statements"):
        conclusions.check(tmp_path)
    code["sha"] = "c3"
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        _found({"r.1": "A < B"}), {"r": {"params": "p", "code": "edited"}}))
    with pytest.raises(InputError, match="avx2: the copy ran other code or params than this repository's DAG"):
        conclusions.check(tmp_path)


def test_untrained_statements_stay_deterministic_only_where_their_numbers_came_out_identical(tmp_path, monkeypatch):
    def st(verdict, numbers, trained=False):
        return {"verdict": verdict, "numbers": numbers, "trained": trained}

    native = {"b.same": st("O < W", {"o": 1.0}), "b.moved": st("O < M", {"m": 6.96}),
              "t.1": st("A < B", {"a": 1}, True)}
    found = {"avx2": {"b.same": st("O < W", {"o": 1.0}), "b.moved": st("O < M", {"m": 6.96}),
                      "t.1": st("A < B", {}, True)},
             "default": {"b.same": st("O < W", {"o": 1.0}), "b.moved": st("not resolved", {"m": 3.1})}}
    found |= {"aten_default": found["avx2"], "mkl_compatible": found["avx2"]}
    # b.moved: MediaPipe's numbers moved under default; t.1 is trained (the numbers of trained runs always may move)
    assert conclusions.untrained_moved(native, {s: found[s] for s in ("avx2", "default")}) == ["b.moved"]
    committed = [_record("b.same", "O < W", True, deterministic=True), _record("b.moved", "O < M", True,
                                                                                deterministic=True)]
    verdicts = {s: {i: r["verdict"] for i, r in v.items()} for s, v in found.items()}
    rows = conclusions.differences(committed, {s: verdicts[s] for s in ("avx2", "default")}, ["b.moved"])
    assert [(r["id"], r["setting"]) for r in rows] == [("b.moved", "default")]
    # check writes the list, and the stage (`read_moved`) then treats b.moved as a trained statement
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    _write(tmp_path / conclusions.CONCLUSIONS, committed)
    _write(tmp_path / "metrics/conclusions/b.json", [{**r, "numbers": native[r["id"]]["numbers"]} for r in committed])
    keeps = []
    monkeypatch.setattr(conclusions, "rerun_under", lambda repo, setting, env, scratch, keep, made_for, scope: (
        keeps.append(keep) or found[setting], _made_for(repo)))
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("b", ["profile"]))
    assert conclusions.check(tmp_path, ["avx2", "default"]) == 1
    assert keeps[0] == ("raw", "prepare", "rgbpretrain", "breath_videos")  # only the fixed test data is kept
    written = read_json(tmp_path / conclusions.KERNEL_CHECK)
    assert written["untrained_moved"] == ["b.moved"]
    # the numbers behind it, per setting and native's: untrained statements only
    assert written["untrained_numbers"] == {"native": {"b.moved": {"m": 6.96}, "b.same": {"o": 1.0}},
                                            "avx2": {"b.moved": {"m": 6.96}, "b.same": {"o": 1.0}},
                                            "default": {"b.moved": {"m": 3.1}, "b.same": {"o": 1.0}}}
    assert written["required"] == ["aten_default", "avx2", "default", "mkl_compatible", "native"]
    moved = cc.read_moved(tmp_path / conclusions.KERNEL_CHECK, tmp_path / "params.yaml", "b")
    assert moved == {"b.moved"}
    same = cc.Statement("b.same", "c", "O < W", True, "c: O < W", trained=False)
    lost = cc.Statement("b.moved", "c", "O < M", True, "c: O < M", trained=False)
    # two of the four settings made: identical numbers there are not yet shown to be deterministic
    check = cc.read_kernel_check(tmp_path / conclusions.KERNEL_CHECK, tmp_path / "params.yaml", "b")
    partial = cc.final(same, check, moved)
    assert (partial.resolved, partial.why) == (False, "not kernel-checked (no verdict under aten_default, "
                                                      "mkl_compatible)")
    # the rest of the settings, the two kept: now b.same is deterministic and b.moved is checked as a trained one
    assert conclusions.check(tmp_path) == 1
    assert [k[0] for k in keeps] == ["raw"] * 4
    kept_numbers = read_json(tmp_path / conclusions.KERNEL_CHECK)["untrained_numbers"]
    assert kept_numbers["default"] == {"b.moved": {"m": 3.1}, "b.same": {"o": 1.0}}  # kept from the first check
    assert sorted(kept_numbers) == ["aten_default", "avx2", "default", "mkl_compatible", "native"]
    check = cc.read_kernel_check(tmp_path / conclusions.KERNEL_CHECK, tmp_path / "params.yaml", "b")
    assert cc.final(same, check, moved) == same and not cc.final(lost, check, moved).resolved
    records = cc.as_records([same, lost], check, moved)
    every = ["aten_default", "avx2", "default", "mkl_compatible", "native"]
    assert [(r["deterministic"], r["kernels_checked"]) for r in records] == [(False, every), (True, every)]


def test_report_headers_name_each_setting_compared_once():
    assert cc.settings_compared({"aten_default": {"r.1": "A < B"}, "native": {"r.1": "A < B"}}) == (
        "native (this machine's own run), aten_default")
    records = [{**_record("r.1", "A < B", True, kernels=["aten_default", "native"]), "report": "r"}]
    counts = {"resolved_kernel_checked": 1, "resolved_deterministic": 0, "not_resolved": 0}
    md = markdown(records, ["aten_default", "native"], counts, "x")
    assert "Kernel settings compared: native (this machine's own run), aten_default." in md and "this run," not in md


def test_forget_runs_removes_only_the_new_entries_of_the_scratch_runs(tmp_path):
    def entry(name: str, cmd: str, md5: str) -> Path:
        path = tmp_path / "runs" / name[:2] / name / "v"
        path.parent.mkdir(parents=True)
        path.write_text(f"cmd: {cmd}\nouts:\n- path: data/models/teacher\n  md5: {md5}\n")
        return path

    old = entry("aa1", "python stages/teacher.py --out data/models/teacher", "native")
    before = conclusions.run_cache_entries(tmp_path)
    scratch = entry("aa2", "python stages/teacher.py --out data/models/teacher", "other")
    same_stage_here = entry("aa3", "python stages/teacher.py --out data/models/teacher", "native2")
    other_stage = entry("bb1", "python stages/pretrain.py --out data/models/teacher", "other")
    # the lock writes a long command over two lines; the run cache may not
    lock = {"stages": {"teacher": {"cmd": "python stages/teacher.py\n  --out data/models/teacher",
                                   "outs": [{"path": "data/models/teacher", "md5": "other"}]}}}
    assert conclusions.forget_runs(tmp_path, before, lock) == 1
    assert not scratch.exists() and old.exists() and same_stage_here.exists() and other_stage.exists()


def test_the_committed_kernel_check_names_the_params_each_report_rests_on_now():
    """What dvc.yaml says each statements file follows from, and what the committed check was made for: the MLCM-KD
    statements rest on the T-FAKE/CHARLOTTE world and training, not on the ThermEval scenes or the breath videos."""
    keys = {report: v["keys"] for report, v in conclusions.report_inputs(ROOT).items()}
    assert sorted(keys) == ["boards", "breath", "head", "mlcmkd", "zeroshot"]
    # every pair on the nose and landmark boards: the ThermEval world and the student grid, no breath video or head
    assert {"synth.thermeval", "synth.tfake", "train.seeds", "zeroshot"} <= set(keys["boards"])
    assert not any(k.startswith(("head", "synth.video", "breath")) for k in keys["boards"])
    assert {"synth.thermeval", "zeroshot_blog.part3"} <= set(keys["zeroshot"])
    assert not any(k.startswith(("train", "rtmpose", "head")) for k in keys["zeroshot"])  # no trained model
    assert {"synth.tfake", "train.seeds", "train.ktl", "train.run_threads", "rtmpose", "seed"} <= set(keys["mlcmkd"])
    # how many runs train at once changes no number: no report's statements rest on it
    assert not [k for ks in keys.values() for k in ks if k in ("train", "train.workers")]
    # each task's submissions are validated on that task's data alone: no ThermEval scene, breath video or TinyHead
    # param reaches the MLCM-KD statements
    assert not any(k.startswith(("head", "synth.thermeval", "synth.video", "breath")) for k in keys["mlcmkd"])
    # TinyHead rests on the teacher (its fallback backbone), which reads the teacher's train keys, not the student grid
    assert {"synth.thermeval", "head", "train.fit", "train.teacher_epochs"} <= set(keys["head"])
    assert "train" not in keys["head"] and "train.seeds" not in keys["head"]
    assert {"synth.video", "breath.track", "head", "train.seeds", "train.mcl"} <= set(keys["breath"])
    # A committed check made for other keys (`make conclusions` not re-run since the DAG changed) applies to nothing.
    committed = read_json(ROOT / conclusions.KERNEL_CHECK)["params"]
    for report, rests_on in keys.items():
        if committed.get(report, {}).get("keys") != rests_on:
            assert cc.read_kernel_check(ROOT / conclusions.KERNEL_CHECK, ROOT / "params.yaml", report) == {}, report


def test_no_committed_statement_leans_on_a_kernel_check_made_for_other_code_or_params():
    """Each report either has a committed check made for the params and code of now (as dvc.lock records the code,
    and its guard finds the code files the check names as they are), or publishes none of its statements that need
    one as resolved: each reads "not kernel-checked" until `make conclusions` re-makes the check. A change to a
    stage's code or params never leaves a stale check's verdicts in force."""
    inputs = conclusions.report_inputs(ROOT)
    now = conclusions.fingerprints(inputs, yaml.safe_load((ROOT / "params.yaml").read_text()))
    committed = read_json(ROOT / conclusions.KERNEL_CHECK)
    published = read_json(ROOT / "metrics" / "conclusions.json")["statements"]
    assert "breath.conclusions" in inputs["breath"]["keys"]  # the rankings' own params
    for report, rests_on in inputs.items():
        fresh = (committed["params"].get(report, {}).get("keys") == rests_on["keys"]
                 and committed["params"][report]["code"]["files"] == rests_on["files"]
                 and all(made["for"].get(report) == now[report] for made in committed["made"].values()))
        if fresh:
            assert cc.read_kernel_check(ROOT / conclusions.KERNEL_CHECK, ROOT / "params.yaml", report), report
            continue
        assert cc.read_kernel_check(ROOT / conclusions.KERNEL_CHECK, ROOT / "params.yaml", report) == {}, report
        leaning = [r["id"] for r in published if r["id"].split(".")[0] == report and r["resolved"]
                   and not r["deterministic"]]
        assert leaning == [], f"{report}: resolved without a kernel check of this code: {leaning}"


def test_an_interrupted_setting_is_resumed_for_the_same_params_and_code_and_replaced_otherwise(tmp_path, monkeypatch):
    repo, scratch = tmp_path / "repo", tmp_path / "scratch"
    (repo / ".dvc" / "cache").mkdir(parents=True)
    copies, repros = [], []

    def copy(src, dest):
        copies.append(dest.name)
        (dest / "metrics" / "conclusions").mkdir(parents=True)  # fails on a copy that is still there
        (dest / "dvc.lock").write_text("stages: {}\n")
        (dest / "params.yaml").write_text("profile: smoke\n")

    def run(cmd, cwd, env, log, check=True):
        if "repro" in cmd:
            repros.append(cwd.name)
            if len(repros) == 1:
                raise KeyboardInterrupt  # the first sitting ends half way through the DAG

    monkeypatch.setattr(conclusions, "copy_worktree", copy)
    monkeypatch.setattr(conclusions, "_run", run)
    monkeypatch.setattr(conclusions, "report_inputs", lambda work: _inputs("b", ["profile"]))
    made_for = conclusions.fingerprints({"b": {"keys": ["profile"], "code": "c"}}, {"profile": "smoke"})
    with pytest.raises(KeyboardInterrupt):
        conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), made_for)
    assert read_json(scratch / "avx2" / conclusions.MADE_FOR) == made_for  # set up before the DAG ran: resumable
    # the next sitting, same params and code: the copy is resumed, not made again
    found, there = conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), made_for)
    assert (copies, repros, found, there) == (["avx2"], ["avx2", "avx2"], {}, made_for)
    # other code since: the copy is replaced
    other = {"b": {**made_for["b"], "code": "d"}}
    conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), other)
    assert copies == ["avx2", "avx2"] and read_json(scratch / "avx2" / conclusions.MADE_FOR) == other


def test_an_untrained_setting_remakes_what_runs_no_trained_model_and_what_follows_from_it():
    def stage(*upstream, outs=()):
        return {"upstream": set(upstream), "outs": list(outs)}

    graph = {"raw": stage("raw", outs=["data/raw"]),
             "prepare": stage("prepare", "raw", outs=["data/prepared"]),
             "train@t": stage("train@t", "prepare", "raw", outs=["data/models/t"]),
             "head": stage("head", "prepare", "raw", outs=["data/heads/h"]),
             "stats": stage("stats", "raw"),                                      # the data's statistics
             "zeroshot@mp": stage("zeroshot@mp", "prepare", "raw"),               # an untrained model on the data
             "track@student": stage("track@student", "train@t", "prepare", "raw"),  # a trained model alone
             "rates": stage("rates", "track@student", "zeroshot@mp", "train@t", "prepare", "raw"),
             "report": stage("report", "rates", "track@student", "zeroshot@mp", "train@t", "prepare", "raw")}
    assert conclusions.untrained_remake(graph, ("raw",)) == {"stats", "zeroshot@mp", "rates", "report"}
    # the fixed test data is kept however it is reached
    assert conclusions.untrained_remake(graph, ("raw", "stats")) == {"zeroshot@mp", "rates", "report"}


def test_untrained_remake_on_this_dag_keeps_every_model_and_re_runs_the_untrained_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the check reads a copy elsewhere: stage names as dvc.lock keys them, wherever
    remade = conclusions.untrained_remake(conclusions._stage_graph(ROOT), load_tolerances(ROOT / TOLERANCES)
                                          .calibration.keep_stages)
    assert {"zeroshot@mediapipe", "zeroshot@dlib68", "zeroshot_blog_part3", "breath_track@oracle",
            "breath_track@mediapipe", "breath_track@dlib_hog", "breath_rates", "report_breath", "report_zeroshot",
            "conclusions"} <= remade
    assert not {"raw@tfake", "breath_videos", "crops_mlcmkd", "teacher", "pretrain", "supervised@t", "ktl@dikd",
                "mcl@dikd", "head_features", "head_train", "head_eval", "breath_track_student@ktl-0",
                "breath_track_tinyhead", "speed"} & remade


def test_untrained_only_settings_cover_the_untrained_statements_and_give_way_to_full_ones(tmp_path, monkeypatch,
                                                                                          capsys):
    (tmp_path / TOLERANCES).parent.mkdir(parents=True)
    shutil.copy(ROOT / TOLERANCES, tmp_path / TOLERANCES)
    (tmp_path / "params.yaml").write_text("profile: smoke\n")
    committed = [_record("b.u", "O < W", True, deterministic=True), _record("b.t", "A < B", True)]
    _write(tmp_path / conclusions.CONCLUSIONS, committed)
    _write(tmp_path / "metrics/conclusions/b.json", committed)
    runs = []

    def rerun(repo, setting, env, scratch, keep, made_for, scope):
        runs.append((setting, scope))
        found = {"b.u": {"verdict": "O < W", "numbers": {}, "trained": False}}
        if scope == "all":
            found["b.t"] = {"verdict": "not resolved", "numbers": {}, "trained": True}
        return found, _made_for(repo)

    monkeypatch.setattr(conclusions, "rerun_under", rerun)
    monkeypatch.setattr(conclusions, "report_inputs", lambda repo: _inputs("b", ["profile"]))
    assert conclusions.check(tmp_path, ["aten_default"]) == 1  # in full: b.t is not confirmed there
    # untrained only: every setting the file lacks, not the full one; trained statements are not compared there
    assert conclusions.check(tmp_path, scope="untrained") == 1  # (aten_default still fails b.t)
    assert runs[1:] == [("avx2", "untrained"), ("mkl_compatible", "untrained"), ("default", "untrained")]
    out = capsys.readouterr().out
    assert "| b.t | aten_default |" in out and "| b.t | avx2 |" not in out
    written = read_json(tmp_path / conclusions.KERNEL_CHECK)
    assert written["verdicts"]["avx2"] == {"b.u": "O < W"}
    assert written["made"]["avx2"]["scope"] == "untrained" and "scope" not in written["made"]["aten_default"]
    check = cc.read_kernel_check(tmp_path / conclusions.KERNEL_CHECK, tmp_path / "params.yaml", "b")
    untrained = cc.Statement("b.u", "c", "O < W", True, "c: O < W", trained=False)
    assert cc.final(untrained, check) == untrained
    # an explicit untrained-only request for a setting made in full re-makes nothing
    runs.clear()
    assert conclusions.check(tmp_path, ["aten_default"], scope="untrained") == 1
    assert runs == [] and "aten_default: made in full already" in capsys.readouterr().err
    # a full check re-makes the untrained-only settings in full
    assert conclusions.check(tmp_path) == 1
    assert runs == [("avx2", "all"), ("mkl_compatible", "all"), ("default", "all")]
    assert "scope" not in read_json(tmp_path / conclusions.KERNEL_CHECK)["made"]["avx2"]


def test_an_untrained_setting_drops_only_its_stages_from_the_copys_lock_and_reads_only_untrained_statements(
        tmp_path, monkeypatch):
    repo, scratch = tmp_path / "repo", tmp_path / "scratch"
    (repo / ".dvc" / "cache").mkdir(parents=True)
    locks = []

    stages = {name: {"cmd": f"python {name}.py"} for name in ("raw", "train@t", "zeroshot@mp")}
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))

    def copy(src, dest):
        _write(dest / "metrics/conclusions/b.json", [_record("b.u", "O < W", True, deterministic=True),
                                                     _record("b.t", "A < B", True)])
        shutil.copy(src / "dvc.lock", dest / "dvc.lock")
        (dest / "params.yaml").write_text("profile: smoke\n")

    def run(cmd, cwd, env, log, check=True):
        events.append(cmd[3])
        if "repro" in cmd:
            locks.append(sorted(conclusions.read_lock(cwd)["stages"]))

    def graph(where):
        events.append(where)
        return {"raw": {"upstream": {"raw"}, "outs": []},
                "train@t": {"upstream": {"train@t", "raw"}, "outs": ["data/models/t"]},
                "zeroshot@mp": {"upstream": {"zeroshot@mp", "raw"}, "outs": []}}

    events = []
    monkeypatch.setattr(conclusions, "copy_worktree", copy)
    monkeypatch.setattr(conclusions, "_run", run)
    monkeypatch.setattr(conclusions, "_stage_graph", graph)
    monkeypatch.setattr(conclusions, "report_inputs", lambda work: _inputs("b", ["profile"]))
    made_for = conclusions.fingerprints({"b": {"keys": ["profile"], "code": "c"}}, {"profile": "smoke"})
    found, _ = conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), made_for, "untrained")
    assert locks == [["raw", "train@t"]] and (scratch / "avx2-untrained").is_dir()
    # the stages are read once, from this repository's own DAG (DVC opens the copy only once it has no git)
    assert events[:4] == [repo, "config", "cache", "checkout"]
    assert list(found) == ["b.u"]
    found, _ = conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), made_for)
    assert locks[1] == ["raw"] and sorted(found) == ["b.t", "b.u"]


def test_a_setting_made_again_starts_from_its_last_lock_so_dvc_re_makes_only_what_changed(tmp_path, monkeypatch,
                                                                                             capsys):
    repo, scratch = tmp_path / "repo", tmp_path / "scratch"
    (repo / ".dvc" / "cache").mkdir(parents=True)
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        name: {"cmd": f"python {name}.py", "made": "native"} for name in ("raw", "train", "report")}}))
    at_repro = []

    def copy(src, dest):
        (dest / "metrics/conclusions").mkdir(parents=True)
        shutil.copy(src / "dvc.lock", dest / "dvc.lock")
        (dest / "params.yaml").write_text("profile: smoke\n")

    held = repo / ".dvc/cache/files/md5/aa/bbb.dir"  # the model's folder is in the cache, its metrics file is not
    held.parent.mkdir(parents=True)
    held.write_text("[]")
    outs = [{"path": "data/models/t", "md5": "aabbb.dir"}, {"path": "metrics/train.json", "md5": "ccddd"}]
    metrics_there = []

    def run(cmd, cwd, env, log, check=True):
        if "repro" in cmd:  # DVC: what the lock lacks is made under the setting
            lock = conclusions.read_lock(cwd)
            at_repro.append({k: v["made"] for k, v in lock["stages"].items()})
            metrics_there.append((cwd / "metrics/train.json").read_text() if (cwd / "metrics/train.json").is_file()
                                 else None)
            for name in ("raw", "train", "report"):
                lock["stages"].setdefault(name, {"cmd": f"python {name}.py", "made": f"avx2 #{len(at_repro)}",
                                                 **({"outs": outs} if name == "train" else {})})
            (cwd / "metrics").mkdir(exist_ok=True)
            (cwd / "metrics/train.json").write_text(f"avx2 #{len(at_repro)}")
            (cwd / "dvc.lock").write_text(yaml.safe_dump(lock))

    monkeypatch.setattr(conclusions, "copy_worktree", copy)
    monkeypatch.setattr(conclusions, "_run", run)
    monkeypatch.setattr(conclusions, "report_inputs", lambda work: _inputs("b", ["profile"]))
    made_for = conclusions.fingerprints({"b": {"keys": ["profile"], "code": "c"}}, {"profile": "smoke"})
    conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), made_for)
    # the first make: only the fixed data from this repository; the lock it left is kept
    assert at_repro == [{"raw": "native"}]
    saved = conclusions.made_lock(scratch, "avx2")
    assert {k: v["made"] for k, v in conclusions.read_lock_file(saved)["stages"].items()} == \
        {"raw": "native", "train": "avx2 #1", "report": "avx2 #1"}
    # other code since: the new copy takes the setting's own entries for what it re-makes, this repository's for the
    # fixed data; a stage the DAG no longer has is left out
    lock = conclusions.read_lock_file(saved)
    lock["stages"]["gone"] = {"cmd": "python gone.py", "made": "avx2 #1"}
    saved.write_text(yaml.safe_dump(lock))
    shutil.rmtree(scratch / "avx2")
    conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), {"b": {**made_for["b"], "code": "d"}})
    assert at_repro[1] == {"raw": "native", "train": "avx2 #1", "report": "avx2 #1"}
    # the train stage's output the cache does not hold was kept beside the lock and is back before DVC runs
    assert conclusions.uncached_outputs({"train": {"outs": outs}}, repo / ".dvc/cache") == ["metrics/train.json"]
    assert metrics_there[:2] == [None, "avx2 #1"]
    assert not (conclusions.kept_outputs(scratch, "avx2") / "data").exists()
    # another setting has no lock of its own yet: it makes every stage
    conclusions.rerun_under(repo, "default", {}, scratch, ("raw",), made_for)
    assert at_repro[2] == {"raw": "native"} and conclusions.made_lock(scratch, "default").is_file()
    # a saved lock that is not one (cut short, edited) is ignored with a line: every stage is made
    for text in ("stages: {train: [", "stages: [1, 2]\n", "- 1\n"):
        saved.write_text(text)
        shutil.rmtree(scratch / "avx2")
        conclusions.rerun_under(repo, "avx2", {}, scratch, ("raw",), {"b": {**made_for["b"], "code": "e"}})
        assert at_repro[-1] == {"raw": "native"}
        assert f"{saved}: not a DVC lock, ignored" in capsys.readouterr().err


def test_each_report_declares_the_params_its_kernel_check_fingerprints():
    """A report reads the kernel check only where the values of its upstream params keys are those the check was made
    for, so it declares those keys as DVC params (not the whole params.yaml: a key no stage declares, such as
    train.workers, would re-run it for nothing); the conclusions stage declares every report's."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]

    def declared(name):
        return {p for p in stages[name].get("params", []) if isinstance(p, str)}

    inputs = conclusions.report_inputs(ROOT)
    writer = {f"metrics/conclusions/{r}.json": r for r in inputs}
    for name, spec in stages.items():
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in spec.get("outs", []) + spec.get("metrics", [])]
        for report in [writer[o] for o in outs if o in writer]:
            assert "params.yaml" not in spec["deps"], name
            assert set(inputs[report]["keys"]) <= declared(name), (name, set(inputs[report]["keys"]) - declared(name))
    every = {k for v in inputs.values() for k in v["keys"]}
    assert "params.yaml" not in stages["conclusions"]["deps"]
    assert not [k for k in every if not any(k == d or k.startswith(d + ".") for d in declared("conclusions"))]


def test_the_check_keeps_each_settings_per_seed_differences_as_replicates():
    """A pair compared over seeds keeps its per-seed differences under every setting, so the settings' share of its
    variance can be measured; statements without them keep none."""
    found = {"boards.t.a_vs_b": {"numbers": {"mean": -0.1, "per_seed": [-0.1, -0.12, -0.08]}},
             "boards.t.a_vs_c": {"numbers": {"mean": 0.3}}}
    assert conclusions.replicates_of(found) == {"boards.t.a_vs_b": [-0.1, -0.12, -0.08]}


def test_a_setting_records_the_cpu_it_was_made_on():
    info = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni amx_bf16\n"
    assert conclusions.cpu_flags(info) == ["avx2", "avx512f", "avx512_vnni", "amx_bf16"]
    assert conclusions.cpu_flags("") == []


def test_report_inputs_leave_out_check_params_whatever_the_working_directory(tmp_path, monkeypatch):
    """A setting's copy is read from the repository's directory: the params check, which computes nothing a statement
    rests on, is left out by its stage name there too (DVC's `addressing` is relative to the working directory)."""
    (tmp_path / "stages").mkdir()
    for name in ("check_params", "report"):
        (tmp_path / "stages" / f"{name}.py").write_text("")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  check_params:\n    cmd: python stages/check_params.py\n    deps: [stages/check_params.py]\n"
        "    outs: [data/params_checked.json]\n"
        "  report_r:\n    cmd: python stages/report.py\n    deps: [stages/report.py, data/params_checked.json]\n"
        "    outs: [metrics/conclusions/r.json]\n")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(ROOT)
    assert conclusions.report_inputs(tmp_path)["r"]["files"] == ["stages/report.py"]
