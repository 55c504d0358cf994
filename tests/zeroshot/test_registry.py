"""The registry of built-in zero-shot models drives the report's order and names, the licence table, each model's
settings and the lists dvc.yaml's foreach reads; the stages load only what they run."""

import subprocess
import sys
from pathlib import Path

import pytest

from profile_configs import default_section
from thermbench.core.io import InputError
from thermbench.core.submissions import builtin
from thermbench.zeroshot import registry, report
from thermbench.zeroshot.bakeoff import config
from thermbench.zeroshot.table1.rows import ROWS

ROOT = Path(__file__).resolve().parents[2]


def test_submissions_yaml_lists_the_registry_models_in_its_order():
    listed = builtin(ROOT / "submissions.yaml")
    assert {area: listed[area] for area in ("zeroshot", "table1", "breath_zeroshot")} == registry.builtin_lists()
    assert listed["zeroshot"][:3] == ["dwpose", "sapiens2", "mediapipe"]  # the blog's part-1 order first
    assert sorted(ROWS) == sorted(registry.builtin_lists()["table1"])  # a Table I row has its adapter


def test_the_default_profile_holds_each_models_defaults():
    section = default_section("zeroshot")
    for name in registry.MODELS:
        assert registry.settings(name, section) == registry.settings(name, {}), name
    assert registry.settings("tfan", section) == {"local_path": "data/models/tfan/70.pt", "n_landmarks": 70,
                                                   "mode": "auto"}
    assert set(config(section).models) == {"dwpose", "sapiens2", "mediapipe", "dlib", "tfan"}


def test_settings_override_the_defaults_and_reject_unknown_keys():
    assert registry.settings("dlib68", {"dlib": {"upsample": 0}}) == {"detector": "hog", "upsample": 0}
    with pytest.raises(InputError, match=r"unknown key\(s\) upsampel in 'zeroshot.dlib'"):
        registry.settings("dlib68", {"dlib": {"upsampel": 0}})
    with pytest.raises(InputError, match="unknown key"):
        config({**default_section("zeroshot"), "dlib68": {}})  # the model's name where its section key belongs
    with pytest.raises(InputError, match="no built-in model 'yolo'"):
        registry.adapter("yolo", {}, registry.Runtime(False, 1, "cpu"))


def test_the_registry_orders_and_names_the_report_rows_and_the_licence_table(monkeypatch):
    def entry(display, what, table1=False):
        return registry.Entry(display, registry.DlibParams, lambda p, rt: None, table1=table1,
                              licence=registry.Licence(what, "w", "t", "terms", "https://x"))

    monkeypatch.setattr(registry, "MODELS", {"zz": entry("Zed model", "Zed"), "aa": entry("Ay model", "Ay", True)})
    assert registry.in_order(["aa", "zz"]) == ["zz", "aa"]
    assert [report.name(m) for m in ("zz", "aa", "mine")] == ["Zed model", "Ay model", "mine (submission)"]
    assert registry.builtin_lists() == {"zeroshot": ["zz", "aa"], "table1": ["aa"], "breath_zeroshot": []}
    rows = [line for line in registry.licence_table().splitlines() if line.startswith("| ")]
    assert rows[1:] == ["| Zed | w | t | terms | <https://x> |", "| Ay | w | t | terms | <https://x> |"]
    with pytest.raises(InputError, match="no built-in model 'dwpose'"):
        registry.in_order(["dwpose"])


def test_the_predict_path_loads_neither_the_models_it_does_not_run_nor_the_report():
    code = ("import sys; import thermbench.zeroshot.bakeoff, thermbench.zeroshot.registry; "
            "print(sorted(m for m in sys.modules if m.startswith(('thermbench.models.', 'thermbench.zeroshot.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "thermbench.zeroshot.report" not in out and "thermbench.zeroshot.blog_report" not in out
    assert "thermbench.models.dwpose" not in out and "thermbench.models.sapiens2_pose" not in out
