"""The DVC experiment workflow end to end on the smoke profile: one `dvc exp run -S` of a TinyHead training param,
then `make exp-show`, `dvc metrics diff` and `dvc plots diff` between it and the committed run, sized for a person to
read; beside them DVC's own `dvc exp show --only-changed`, whose columns `make exp-show` leaves out.

It starts from a warm smoke copy (tests/warm_smoke.py), so only the TinyHead's stages and what reads them run; without
one the test is skipped.
THERMBENCH_EXP_RECORD=1 also writes what the commands printed to metrics/timing/exp_workflow.json, which
`make readme` renders into docs/results.md."""

import datetime
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import write_json
from thermbench.tools.pipeline.exp_table import DEPS_DROP, WIDTH
from thermbench.tools.pipeline.quick import EXPERIMENT
from thermbench.tools.pipeline.warm_stages import warm_stages
from thermbench.tools.publish.readme_blocks import EXP_RECORD
from warm_smoke import DVC, needs_warm_smoke, warm_copy

ROOT = Path(__file__).resolve().parents[1]
PARAM, VALUE = EXPERIMENT  # the one `make quick` names: head_train and what reads its heads re-run
BAD = "abc"  # refused by check_params, the first stage, before DVC removes any output
ONLY_MCL = ("train.mcl.weights.fm_weight", "0.01")  # read by the MCL stages alone
OTHER = "2.5"  # a head.sigma neither the base nor the experiment holds
# the stages that follow more than they read: the check (params.yaml whole), and those whose statements the kernel
# check fingerprints (every key upstream of them)
WHOLE_FILE = {"check_params", "report_zeroshot", "report_mlcmkd", "report_head", "report_breath", "board_pairs",
              "conclusions"}
BASE = "HEAD"  # the committed run the experiment starts from
MAX_COLUMNS, MAX_DIFF_ROWS = 40, 150
EXP_SHOW = "make exp-show"  # as the docs name it

pytestmark = needs_warm_smoke


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    repo = tmp_path_factory.mktemp("exp") / "project"
    env, run = warm_copy(repo)
    dvc = DVC
    base = yaml.safe_load((repo / "params.yaml").read_text())
    for key in PARAM.split("."):
        base = base[key]
    name = f"sigma-{VALUE}"
    quick = (sys.executable, "-m", "thermbench.tools.pipeline.dvc_cli", "--beside")  # DVC as `make repro` runs it
    with warm_stages(env, repo) as warm:  # the stages forked from one interpreter, as `make repro` runs them
        run(*quick, "exp", "run", "-q", "-S", f"{PARAM}={VALUE}", "--name", name, env=warm)
    before = _digests(repo)
    bad = subprocess.run([*dvc, "exp", "run", "-S", f"{PARAM}={BAD}"], cwd=repo, env=env, capture_output=True,
                         text=True)
    after = _digests(repo)
    touched = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    # DVC leaves the bad value in params.yaml, and the experiment's results in the workspace: back to the base
    run("git", "checkout", "-q", "--", ".")
    run(*dvc, "checkout", "-q", "--allow-missing")
    base_stale = set(json.loads(run(*dvc, "status", "--json")))
    stale = {key: _stale_after(run, dvc, base_stale, key, value) for key, value in (ONLY_MCL, (PARAM, OTHER))}
    make = ("make", "-s", "-o", ".venv/.installed", f"PY={sys.executable}", f"DVC={' '.join(dvc)}", "exp-show")
    only_changed = run(*dvc, "exp", "show", "--only-changed", "--csv").splitlines()[0].split(",")
    deps = _deps(json.loads(run(*dvc, "exp", "show", "--json")))
    return {"param": PARAM, "value": VALUE, "base_value": base, "base": BASE, "name": name,
            "exp_show_command": EXP_SHOW, "exp_show": run(*make),
            "dvc_only_changed": {"columns": only_changed,
                                 "deps": [c for c in only_changed if c in deps]},
            "dvc_drop": run(*dvc, "exp", "show", "--only-changed", "--drop", DEPS_DROP, "--md", "--no-pager"),
            "metrics_diff": run(*dvc, "metrics", "diff", BASE, name, "--md"),
            "plots_diff": json.loads(run(*dvc, "plots", "diff", BASE, name, "--json"))["data"],
            "bad_value": {"returncode": bad.returncode, "lines": (bad.stdout + bad.stderr).splitlines(),
                          "touched": touched},
            "stale": stale}


def _digests(repo: Path) -> dict[str, str]:
    """Every file of the project's outputs (data, metrics, plots) and its content's digest."""
    return {p.relative_to(repo).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for top in ("data", "metrics", "plots") for p in sorted((repo / top).rglob("*")) if p.is_file()}


def _stale_after(run, dvc, before: set[str], key: str, value: str) -> dict[str, list[str]]:
    """The stages `dvc status` names as changed once params.yaml holds `key: value` (DVC's own writer, as `-S`):
    `stale`, all of them, and `new`, those not in `before`, what it named with the base params (a warm copy made by
    older code is stale where that code changed)."""
    run(sys.executable, "-c", "import sys, yaml; from dvc.utils.serialize import modify_yaml\n"
        "with modify_yaml('params.yaml') as d:\n    *path, last = sys.argv[1].split('.')\n"
        "    for p in path: d = d[p]\n    d[last] = yaml.safe_load(sys.argv[2])", key, value)
    stale = set(json.loads(run(*dvc, "status", "--json")))
    run("git", "checkout", "-q", "params.yaml")
    return {"stale": sorted(stale), "new": sorted(stale - before)}


def _deps(shown: list[dict]) -> set[str]:
    """The dependencies' paths of every row of `dvc exp show --json`'s output (DVC's --only-changed shows those whose
    hash differs as columns of their own)."""
    revs = [e["data"] for e in shown] + [r["data"] for e in shown for x in e.get("experiments") or []
                                         for r in x["revs"]]
    return {path for d in revs if d for path in d.get("deps") or {}}


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """The plain-text tables of `make exp-show`: each as its column names (heading lines joined) and its rows' cells,
    cut where the dashes of the rule under the heading run."""
    lines, tables = text.splitlines(), []
    for i, line in enumerate(lines):
        if not line or set(line) != {"-", " "}:
            continue
        spans, at = [], 0
        for dashes in line.split("  "):
            spans.append((at, at + len(dashes)))
            at += len(dashes) + 2
        heading, j = [lines[i - 1]], i - 2  # the Experiment line, and above it a name's earlier parts (indented)
        while j >= 0 and lines[j].startswith(" "):
            heading.insert(0, lines[j])
            j -= 1
        names = ["".join(h[a:b].strip() for h in heading) for a, b in spans]
        body = []
        for row in lines[i + 1:]:
            if not row.strip():
                break
            body.append([row[a:b].strip() for a, b in spans])
        tables.append((names, body))
    return tables


def test_exp_show_fits_a_screen_and_shows_the_param_then_its_metrics(workflow):
    out = workflow["exp_show"]
    assert max(map(len, out.splitlines())) <= WIDTH, out
    tables = _tables(out)
    assert 1 <= len(tables) <= 2, out  # one table, or the params and the metrics apart
    columns = [c for names, _ in tables for c in names]
    assert len(columns) <= MAX_COLUMNS, columns
    assert PARAM in columns and any(c.startswith("tinyhead.") for c in columns), columns
    assert columns.index(PARAM) < min(i for i, c in enumerate(columns) if c.startswith("tinyhead.")), columns
    names, body = next(t for t in tables if PARAM in t[0])
    row = next(r for r in body if f"[{workflow['name']}]" in r[0])
    assert row[names.index(PARAM)] == VALUE
    assert not any("/" in c for c in columns), columns  # no dependency's hash


def test_dvc_exp_show_only_changed_alone_shows_the_dependencies_hashes_and_drop_removes_them(workflow):
    deps = workflow["dvc_only_changed"]["deps"]
    assert deps, workflow["dvc_only_changed"]["columns"]
    header = workflow["dvc_drop"].splitlines()[0]
    assert PARAM in header and not any(f" {d} " in header for d in deps)


def test_metrics_diff_is_headline_numbers_only(workflow):
    rows = [row for row in workflow["metrics_diff"].splitlines()[2:] if row.strip()]  # below the header and rule
    assert rows, f"the experiment ({PARAM}={VALUE}) moved no headline number: `dvc metrics diff` printed no row"
    assert len(rows) <= MAX_DIFF_ROWS
    assert all("metrics/headline/" in row for row in rows)
    assert not any("timing" in row or "speedup" in row for row in rows)  # timings never show as a difference
    assert any("tinyhead." in row for row in rows)


def test_plots_diff_draws_each_chart_once_with_the_experiment_and_the_committed_run(workflow):
    charts = workflow["plots_diff"]
    assert "tinyhead_learning" in charts and len(charts) <= 12, list(charts)
    drawn = {rev for chart in charts.values() for part in chart for rev in part["revisions"]}
    assert {BASE, workflow["name"]} <= drawn, drawn


def test_a_bad_value_stops_at_the_check_in_one_line_and_changes_no_output(workflow):
    bad = workflow["bad_value"]
    assert bad["returncode"] != 0
    assert f"error: params.yaml: '{PARAM}' must be a number, not '{BAD}'" in bad["lines"], bad["lines"]
    assert not [line for line in bad["lines"] if "Running stage" in line and "check_params" not in line]
    assert bad["touched"] == []


def test_a_param_marks_stale_only_the_stages_that_read_it(workflow):
    for key, reader in ((ONLY_MCL[0], "mcl@"), (PARAM, "head_")):
        stale, new = workflow["stale"][key]["stale"], set(workflow["stale"][key]["new"]) - WHOLE_FILE
        assert any(s.startswith(reader) for s in stale), (key, stale)
        assert all(s.startswith(reader) for s in new), (key, new)


@pytest.mark.skipif(os.environ.get("THERMBENCH_EXP_RECORD") != "1", reason="THERMBENCH_EXP_RECORD=1 records the run")
def test_record_for_the_docs(workflow):
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    write_json(ROOT / EXP_RECORD, {**{k: workflow[k] for k in ("param", "value", "base_value", "base", "name",
                                                               "exp_show_command", "exp_show", "dvc_only_changed",
                                                               "dvc_drop", "metrics_diff")},
                                   "plots": sorted(workflow["plots_diff"]), "commit": commit,
                                   "date": datetime.date.today().isoformat()})
