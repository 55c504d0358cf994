"""Carrying the kernel check over a change that moves no CPU number (tools/gates/carry.py) and the short fits whose
digests show it (tools/gates/short_fits.py)."""

import datetime
import hashlib
import json
import subprocess
from dataclasses import replace

import pytest
import torch
import yaml

from thermbench.core.conclusions import code_fingerprint, params_fingerprint
from thermbench.core.io import InputError
from thermbench.core.stage import build
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.train import FitConfig
from thermbench.tools.gates import carry, short_fits

LOCK = """schema: '2.0'
stages:
  one:
    cmd: python a.py
    deps:
    - path: a.py
      hash: md5
      md5: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
      size: 1
    - path: b.py
      hash: md5
      md5: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      size: 2
  two:
    cmd: python a.py
    deps:
    - path: a.py
      hash: md5
      md5: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
      size: 1
"""


def test_relock_records_the_named_files_hashes_in_every_stage_and_leaves_the_others(tmp_path):
    (tmp_path / "a.py").write_text("print(1)\n")
    lock = yaml.safe_load(carry.relock(LOCK, tmp_path, {"a.py"}))
    want = {"md5": hashlib.md5(b"print(1)\n").hexdigest(), "size": 9}
    for stage in ("one", "two"):
        a = lock["stages"][stage]["deps"][0]
        assert {k: a[k] for k in want} == want and a["hash"] == "md5"
    assert lock["stages"]["one"]["deps"][1] == {"path": "b.py", "hash": "md5", "md5": "b" * 32, "size": 2}


def test_locked_code_is_every_code_dep_of_every_stage():
    text = LOCK.replace("path: b.py", "path: src/thermbench/b.py").replace("  two:\n    cmd: python a.py\n    deps:\n",
                                                                         "  two:\n    cmd: python a.py\n    deps:\n"
                                                                         "    - path: stages/two.py\n")
    assert carry.locked_code(text) == {"src/thermbench/b.py", "stages/two.py"}


def test_changed_files_are_the_files_and_folders_whose_content_differs(tmp_path):
    for tree, text in (("old", "x = 1\n"), ("new", "x = 2\n")):
        (tmp_path / tree / "pkg").mkdir(parents=True)
        (tmp_path / tree / "same.py").write_text("same\n")
        (tmp_path / tree / "edited.py").write_text(text)
        (tmp_path / tree / "pkg" / "inner.py").write_text(text)
    assert carry.changed_files(tmp_path / "old", tmp_path / "new", {"same.py", "edited.py", "pkg"}) == [
        "edited.py", "pkg"]


def test_the_note_is_dated_and_appended_to_an_earlier_one():
    first = carry.carried_note(None, "2026-11-30", "a rename", "t: weights 1 history 2\n")
    assert first == ("carried to 2026-11-30: a rename: short fits (python -m thermbench.tools.gates.short_fits) give "
                     "the same weight and history digests before and after, natively and under every setting (t: "
                     "weights 1 history 2, native)")
    assert carry.carried_note(first, "2026-12-01", "b", "t: 3\n").startswith(first + "; then, on 2026-12-01: b: ")


def _project(tmp_path, made_on_base: bool = True, more: str | None = None):
    """A git repository with one report resting on code.py and params key `k`: its kernel check made on the first
    commit's code (or on other code), then code.py edited in the working tree; `more`: a more.py beside it."""
    repo = tmp_path / "repo"
    (repo / "conclusions").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    if more is not None:
        (repo / "more.py").write_text(more)
    (repo / "params.yaml").write_text("k: 1\n")
    (repo / "dvc.lock").write_text(LOCK)
    code = code_fingerprint(repo, ["code.py"]) if made_on_base else "0" * 64
    check = {"params": {"r": {"keys": ["k"], "sha256": params_fingerprint({"k": 1}, ["k"]),
                              "code": {"files": ["code.py"], "sha256": code}}},
             "made": {"avx2": {"for": {}}}, "settings": {"avx2": {"ATEN_CPU_CAPABILITY": "avx2"}}}
    (repo / "conclusions" / "kernel_check.json").write_text(json.dumps(check))
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True)
    (repo / "code.py").write_text("x = 2\n")
    return repo


def _unchanged(repo) -> dict[str, str]:
    return {p: (repo / p).read_text() for p in ("dvc.lock", "conclusions/kernel_check.json")}


def test_a_check_made_on_other_code_is_not_carried_and_nothing_is_written(tmp_path):
    repo = _project(tmp_path, made_on_base=False)
    before = _unchanged(repo)
    with pytest.raises(InputError, match=r"the r settings were not made on HEAD's code"):
        carry.carry(repo, "HEAD", "an edit")
    assert _unchanged(repo) == before


def test_digests_that_differ_under_a_setting_stop_the_carry_and_nothing_is_written(tmp_path, monkeypatch):
    repo = _project(tmp_path)
    seen = []

    def digests(src, env):
        seen.append((src.parent == repo, env))
        return f"t: {'new' if src.parent == repo and env else 'old'}\n"  # only avx2's differ

    monkeypatch.setattr(carry, "digests", digests)
    monkeypatch.setattr(carry, "report_inputs", lambda repo: {"r": {"keys": ["k"], "code": "c", "files": ["code.py"]}})
    before = _unchanged(repo)
    with pytest.raises(InputError, match=r"digests differ under avx2: the change moves CPU numbers"):
        carry.carry(repo, "HEAD", "an edit")
    assert _unchanged(repo) == before
    assert seen == [(False, {}), (True, {}), (False, {"ATEN_CPU_CAPABILITY": "avx2"}),
                    (True, {"ATEN_CPU_CAPABILITY": "avx2"})]


def test_a_carry_records_the_code_and_the_files_each_report_rests_on_now(tmp_path, monkeypatch):
    # code.py edited; an import added in it reaches more.py (unchanged since the base), which dvc.yaml now lists as a
    # dep of stage `two` that the lock lacks
    repo = _project(tmp_path, more="y = 1\n")
    inputs = {"r": {"keys": ["k"], "code": "sha of the locked hashes", "files": ["code.py", "more.py"]}}
    monkeypatch.setattr(carry, "digests", lambda src, env: "t: same\n")
    monkeypatch.setattr(carry, "report_inputs", lambda repo: inputs)
    monkeypatch.setattr(carry, "unlocked_code", lambda repo: {"two": ["more.py"]})
    assert carry.carry(repo, "HEAD", "an import") == ["r"]
    check = json.loads((repo / "conclusions/kernel_check.json").read_text())
    assert check["params"]["r"]["code"] == {"files": ["code.py", "more.py"],
                                            "sha256": code_fingerprint(repo, ["code.py", "more.py"])}
    assert check["made"]["avx2"]["for"] == {"r": {"params": params_fingerprint({"k": 1}, ["k"]),
                                                  "code": "sha of the locked hashes"}}
    assert check["made"]["avx2"]["carried"].startswith(f"carried to {datetime.date.today().isoformat()}: an import")
    two = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["two"]["deps"]
    assert two == [{"path": "a.py", "hash": "md5", "md5": "a" * 32, "size": 1},
                   {"path": "more.py", "hash": "md5", "md5": hashlib.md5(b"y = 1\n").hexdigest(), "size": 6}]


def test_a_bad_base_says_so_in_one_line(tmp_path):
    repo = _project(tmp_path)
    with pytest.raises(InputError, match=r"--base nope: not a commit of"):
        carry.carry(repo, "nope", "an edit")


def test_the_digest_is_the_state_dicts_bytes_in_key_order():
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0]]))
        layer.bias.fill_(3.0)
    want = hashlib.sha256(b"weight\0" + torch.tensor([1.0, 2.0]).numpy().tobytes()
                          + b"bias\0" + torch.tensor([3.0]).numpy().tobytes()).hexdigest()[:16]
    history = {"b": 1, "a": [0.5]}
    assert short_fits.digest(layer, history) == (
        want, hashlib.sha256(b'{"a": [0.5], "b": 1}').hexdigest()[:16])


def test_short_fits_see_a_change_of_the_fit():
    params = yaml.safe_load(open("params.yaml"))["train"]["fit"]
    fit = build(FitConfig, {**params, "seed": 0}, "train.fit")
    base = short_fits.short_fits(fit)
    other = short_fits.short_fits(replace(fit, optim=replace(fit.optim, lr=fit.optim.lr * 2)))
    assert isinstance(fit.optim, OptimConfig) and sorted(base) == ["ktl-dikd-s", "mcl-dikd-t", "supervised-t"]
    assert all(base[k][0] != other[k][0] and base[k][1] != other[k][1] for k in base)
