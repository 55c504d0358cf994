"""`make exp-show`'s renderer (tools/pipeline/exp_table.py) on hand-made `dvc exp show --json` output in DVC 3's schema:
which rows and columns it keeps, their names, the width limit and the splitting, and the one line without experiments;
and docs/results.md's `exp_workflow` block on hand-made records of tests/test_exp_workflow.py."""

import datetime
import json
import sys

import pytest

from thermbench.core.io import InputError
from thermbench.tools.pipeline import exp_table
from thermbench.tools.publish.readme_blocks import exp_workflow

TODAY = datetime.date(2026, 11, 28)
PARAMS = {"head": {"lr": 0.003, "epochs": 60, "warmup_epochs": 3}, "data": {"source": "synthetic"}, "seeds": [0, 1, 2]}
NOSE = {"tinyhead": {"gt_box": {"median_px": {"mean": 57.5652, "sd": 36.39226}, "pck10": {"mean": 0.0, "sd": 0.0}}},
        "zeroshot": {"yolo": {"pck10": 0.41}}}
BREATH = {"far": {"tinyhead": {"mae": {"mean": 2.0262, "sd": 1.0474}}},
          "near": {"tinyhead": {"mae": {"mean": 8.0907, "sd": 3.41815}}}, "near_sway": {"mediapipe": {"mae": 4.2}}}


def _data(lr=0.003, scale=1.0, ts="2026-11-28T12:23:05", **params):
    def scaled(d):
        return {k: scaled(v) if isinstance(v, dict) else v * scale if k in ("mean", "sd") else v for k, v in d.items()}
    p = json.loads(json.dumps(PARAMS))
    p["head"]["lr"] = lr
    for key, value in params.items():
        p["head"][key] = value
    return {"rev": "x", "timestamp": ts,
            "params": {"params.yaml": {"data": p}},
            "metrics": {"metrics/headline/nose.json": {"data": scaled(NOSE)},
                        "metrics/headline/breath.json": {"data": scaled(BREATH)},
                        "metrics/head/thermeval.json": {"data": {"trainable_params": int(1000 * scale)}}},
            "deps": {f"data/prepared/{i}": {"hash": f"{scale}{i}", "size": 1, "nfiles": None} for i in range(26)},
            "outs": {}, "meta": {}}


def _exp(rev, name, data, state="success"):
    return {"revs": [{"rev": rev, "name": name, "data": data, "error": None, "experiments": None}],
            "executor": None if state == "success" else {"state": state, "name": None, "local": None}, "name": name}


def _shown(*experiments, workspace=None):
    return [{"rev": "workspace", "name": None, "data": workspace or _data(ts=None), "error": None, "experiments": None},
            {"rev": "693cf38aa", "name": "master", "data": _data(), "error": None, "experiments": list(experiments)}]


TWO = _shown(_exp("8a67e6c11", "lr-0.01", _data(0.01, 1.2, "2026-11-28T12:40:00")),
             _exp("5b0d2f911", "lr-0.03", _data(0.03, 1.5, "2026-11-27T09:00:00")),
             workspace=_data(0.01, 1.2, ts=None))


def test_two_experiments_fit_200_columns_params_first_then_the_headline_metrics():
    out = exp_table.render(TWO, today=TODAY)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 200
    assert lines[0] == ("The params that differ (params.yaml), then the headline metrics that differ "
                        "(metrics/headline/: nose.json, breath.json):")
    header, rule = lines[1], lines[2]
    assert header.split() == ["Experiment", "Created", "head.lr", "tinyhead.gt_box.median_px.mean",
                              "tinyhead.gt_box.median_px.sd", "far.tinyhead.mae.mean", "far.tinyhead.mae.sd",
                              "near.tinyhead.mae.mean", "near.tinyhead.mae.sd"]  # pck10 stayed 0: not a column
    assert set(rule) == {"-", " "}
    body = lines[3:]
    assert [row.split("  ")[0].strip() for row in body] == ["workspace", "master", "├── 8a67e6c [lr-0.01]",
                                                            "└── 5b0d2f9 [lr-0.03]"]
    assert body[1].split()[1:4] == ["12:23", "0.003", "57.565"]  # made today: the time; DVC's 5 digits
    assert body[3].split()[3:5] == ["2026-11-27", "0.03"]
    for gone in ("data/prepared", "trainable_params", "epochs", "zeroshot", "near_sway", "hash"):
        assert gone not in out


def test_a_difference_below_the_precision_shown_is_no_column():
    close = _data(0.01)
    close["metrics"]["metrics/headline/nose.json"]["data"]["tinyhead"]["gt_box"]["median_px"]["mean"] += 1e-7
    out = exp_table.render(_shown(_exp("8a67e6c11", "lr-0.01", close)), today=TODAY)
    assert "head.lr" in out and "tinyhead" not in out
    assert "No headline metric (metrics/headline/) differs between these rows." in out
    assert "tinyhead.gt_box.median_px.mean" in exp_table.render(_shown(_exp("8a67e6c11", "lr-0.01", close)),
                                                                precision=9, today=TODAY)


def test_a_key_two_files_hold_is_named_with_its_file():
    a, b = _data(0.01), _data(0.01)
    for d, v in ((a, 1.0), (b, 2.0)):
        d["metrics"]["metrics/headline/breath.json"]["data"]["tinyhead"] = {"n": v}
        d["metrics"]["metrics/headline/nose.json"]["data"]["tinyhead"]["n"] = v
    out = exp_table.render(_shown(_exp("8a67e6c11", "one", a), _exp("5b0d2f911", "two", b)), today=TODAY)
    header = out.splitlines()[1].split()
    assert {"nose.json:tinyhead.n", "breath.json:tinyhead.n", "head.lr"} <= set(header)
    assert "tinyhead.gt_box.median_px.mean" not in header  # equal in every row


def test_a_wide_table_breaks_headings_after_dots_then_splits_into_params_and_metrics():
    wrapped = exp_table.render(TWO, width=120, today=TODAY).splitlines()
    assert max(map(len, wrapped)) <= 120
    assert sum(line.startswith("The ") for line in wrapped) == 1  # still one table, its headings over lines
    heading = wrapped[1:wrapped.index(next(line for line in wrapped if line.startswith("---")))]
    assert len(heading) > 1 and heading[-1].startswith("Experiment") and "tinyhead.gt_box" not in heading[-1]
    assert heading[0].split()[0] == "tinyhead."

    narrow = exp_table.render(TWO, width=60, today=TODAY)
    lines = narrow.splitlines()
    assert max(map(len, lines)) <= 60
    captions = [line for line in lines if line.startswith("The ")]
    assert captions[0] == "The params that differ (params.yaml):"
    assert len(captions) >= 3 and all(c.startswith("The headline metrics") for c in captions[1:])
    assert narrow.index("head.lr") < narrow.index("tinyhead.")


def test_markdown_tables_keep_their_headings_on_one_line_and_split_instead():
    two = exp_table.render(TWO, md=True, today=TODAY).splitlines()  # wider than 200 as one table: two
    assert len(two) == 2 * (1 + 2 + 4) + 1 and max(map(len, two)) <= 200
    assert two[0] == "The params that differ (params.yaml):"
    assert two[8] == "The headline metrics that differ (metrics/headline/: nose.json, breath.json):"
    assert [c.strip() for c in two[1].strip("|").split("|")] == ["Experiment", "Created", "head.lr"]
    row = next(line for line in two if "[lr-0.01]" in line)
    assert [c.strip() for c in row.strip("|").split("|")][2] == "0.01"
    assert "| tinyhead.gt_box.median_px.mean |" in two[9]

    split = exp_table.render(TWO, md=True, width=100, today=TODAY).splitlines()
    assert max(map(len, split)) <= 100
    tables = [i for i, line in enumerate(split) if line.startswith("| Experiment")]
    assert len(tables) >= 3  # the params, then the metrics over two or more
    assert all(split[i + 1].startswith("|---") for i in tables)


def test_a_single_column_wider_than_the_limit_still_shows():
    long = _data(0.01)
    long["params"]["params.yaml"]["data"]["head"]["note"] = "x" * 100
    out = exp_table.render(_shown(_exp("8a67e6c11", "n", long)), width=40, today=TODAY)
    assert "x" * (exp_table.MAX_CELL - 1) + "…" in out


def test_wrap_breaks_after_dots_only():
    assert exp_table.wrap("tinyhead.gt_box.median_px.mean", 10) == ["tinyhead.", "gt_box.", "median_px.", "mean"]
    assert exp_table.wrap("tinyhead.gt_box.median_px.mean", 16) == ["tinyhead.gt_box.", "median_px.mean"]
    assert exp_table.wrap("a_very_long_single_part", 5) == ["a_very_long_single_part"]


def test_without_experiments_it_says_so_in_one_line():
    fresh = _shown()
    assert exp_table.render(fresh) == (
        "No experiments on top of master: `dvc exp run -S key=value` runs one with a param changed "
        "(docs/results.md, \"Comparing runs\").\n")
    two_commits = [*fresh, {"rev": "1234567ab", "name": None, "data": _data(0.001), "error": None,
                            "experiments": None}]  # `-n 2`: the commits themselves compared
    assert "head.lr" in exp_table.render(two_commits, today=TODAY)


def test_queued_and_failed_experiments_are_named_not_rows():
    shown = _shown(_exp("8a67e6c11", "lr-0.01", _data(0.01)), _exp("99999991", "later", None, "queued"),
                   _exp("77777771", "broke", _data(0.5), "failed"))
    out = exp_table.render(shown, today=TODAY)
    assert "└── 8a67e6c [lr-0.01]" in out and "0.5" not in out
    assert out.rstrip().endswith("Not shown, without results: 9999999 [later] (queued), 7777777 [broke] (failed).")
    only_queued = _shown(_exp("99999991", "later", None, "queued"))
    assert exp_table.render(only_queued).startswith("No experiments on top of master")


def test_main_reads_a_file_and_takes_its_width_from_columns(tmp_path, monkeypatch, capsys):
    path = tmp_path / "shown.json"
    path.write_text(json.dumps(TWO))
    monkeypatch.setenv("COLUMNS", "70")
    exp_table.main(["--from-json", str(path)])
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 70 and "The params that differ (params.yaml):" in out
    exp_table.main(["--from-json", str(path), "--width", "200", "--md"])
    assert capsys.readouterr().out.splitlines()[1].startswith("| Experiment")


def test_a_failing_dvc_is_one_line():
    fails = [sys.executable, "-c", "import sys; print('ERROR: not a git repo', file=sys.stderr); sys.exit(1)"]
    with pytest.raises(InputError, match="`dvc exp show --json -n 2` failed: ERROR: not a git repo"):
        exp_table.exp_show_json(fails, ["-n", "2"])


def _record(tmp_path, **more):
    record = {"param": "head.lr", "value": "0.01", "base_value": 0.003, "base": "HEAD", "name": "lr-0.01",
              "commit": "abc1234", "date": "2026-11-29", "plots": ["tinyhead_learning"],
              "exp_show": "| Experiment | head.lr |\n|---|---|\n| workspace | 0.01 |\n",
              "metrics_diff": "| Path | Metric | HEAD | lr-0.01 | Change |\n|---|---|---|---|---|\n| a | b | 1 | 2 |",
              **more}
    (tmp_path / "metrics" / "timing").mkdir(parents=True)
    (tmp_path / "metrics" / "timing" / "exp_workflow.json").write_text(json.dumps(record))
    return tmp_path / "metrics"


def test_the_docs_block_shows_the_renderer_and_dvcs_own_columns(tmp_path):
    deps = ["data/prepared/thermeval", "metrics/timing/head.json", "stages/head_train.py"]
    block = exp_workflow(_record(tmp_path, exp_show_command="make exp-show", exp_show=exp_table.render(TWO),
                                 dvc_only_changed={"columns": ["Experiment", "rev", "typ", "Created", "parent",
                                                               "tinyhead.x", "head.lr", *deps], "deps": deps},
                                 dvc_drop="| Experiment | Created | tinyhead.x | head.lr |\n"))
    assert "`make exp-show`:\n\n```\nThe params that differ (params.yaml), then" in block
    assert ("`dvc exp show --only-changed` has 5 columns of values there: the 2 params and headline metrics that "
            "differ and 3 dependencies' hashes, named by their paths (1 of them timings): `data/prepared/thermeval`, "
            "`metrics/timing/head.json`, `stages/head_train.py`.") in block
    assert f"`dvc exp show --only-changed --drop '{exp_table.DEPS_DROP}' --md`" in block
    assert "| Experiment | Created | tinyhead.x | head.lr |" in block


def test_a_record_from_before_the_renderer_renders_as_it_did(tmp_path):
    block = exp_workflow(_record(tmp_path))
    assert "`make exp-show ARGS=\"--md\"`:\n\n```\n| Experiment | head.lr |" in block
    assert "--only-changed" not in block
