"""tools/publish/dvc_plots.py: dvc.yaml's top-level plots name every file the profile's runs write, each chart once."""

from pathlib import Path

import yaml

from thermbench.tools.publish.dvc_plots import MARK, plots, render

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"train": {"seeds": [3, 7], "ktl": {"runs": ["dikd"]}, "mcl": {"variants": ["dikd"]}},
          "rtmpose": {"supervised_archs": ["t"], "pretrain_archs": []}}


def _by_name(params):
    return {name: spec for p in plots(params) for name, spec in p.items()}


def test_a_learning_curve_per_family_with_every_seed_and_the_ced_at_the_first_seed():
    charts = _by_name(PARAMS)
    assert list(charts["learning_supervised"]["y"]) == ["plots/curves/mlcmkd/supervised/t/supervised-t-seed3.csv",
                                                        "plots/curves/mlcmkd/supervised/t/supervised-t-seed7.csv"]
    assert list(charts["learning_mcl"]["y"].values()) == ["val_nme", "val_nme"]
    assert list(charts["learning_teacher"]["y"]) == ["plots/curves/mlcmkd/teacher.csv"]
    assert "learning_pretrain" not in charts  # no pretrained sizes in this profile
    assert list(_by_name({**PARAMS, "rtmpose": {"supervised_archs": [], "pretrain_archs": ["t", "s"]}})[
        "learning_pretrain"]["y"]) == ["plots/curves/mlcmkd/pretrain/pretrain-t.csv",
                                       "plots/curves/mlcmkd/pretrain/pretrain-s.csv"]
    assert list(charts["table1_ced"]["y"]) == [
        "plots/curves/mlcmkd/teacher_ced.csv", "plots/curves/mlcmkd/supervised/t/supervised-t-seed3_ced.csv",
        "plots/curves/mlcmkd/ktl/dikd/ktl-dikd-seed3_ced.csv", "plots/curves/mlcmkd/mcl/dikd/mcl-dikd-seed3_ced.csv"]
    assert {"zeroshot_pck", "tinyhead_learning", "breath_bland_altman", "breath_rate_error"} <= set(charts)


def test_render_replaces_only_the_block_after_the_mark():
    text = render("stages: {}\n", PARAMS)
    assert text.startswith(f"stages: {{}}\n{MARK}\nplots:\n")
    assert render(text, PARAMS) == text
    assert yaml.safe_load(text)["plots"] == plots(PARAMS)


def test_every_template_is_dvc_s_own_or_the_project_s():
    templates = {spec["template"] for chart in plots(PARAMS) for spec in chart.values()}
    project = templates - {"linear"}
    assert project == {"by_seed", "by_model", "bland_altman", "abs_error"}
    assert all((ROOT / ".dvc" / "plots" / f"{t}.json").is_file() for t in project)


def test_committed_dvc_yaml_has_the_plots_of_the_committed_params():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert render((ROOT / "dvc.yaml").read_text(), params) == (ROOT / "dvc.yaml").read_text(), \
        "python -m thermbench.tools.publish.dvc_plots --write"
    for chart in plots(params):
        for spec in chart.values():
            assert all((ROOT / f).is_file() for f in spec["y"]), spec["title"]
