"""A user's own models through `make repro`, as docs/own-model.md's worked example enters them: three files made by the
submissions tool from what the smoke DAG wrote, declared in submissions.yaml, checked, then scored by the stages that
read submissions and what follows from them alone; each with the numbers the page says to expect, and each row on
its leaderboard's pairs, tested on the items both rows scored. Starts from a warm smoke copy (tests/warm_smoke.py);
without one it is skipped."""

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from thermbench.core.items import items_path, read_items
from thermbench.tools.pipeline.warm_stages import warm_stages
from warm_smoke import DVC, needs_warm_smoke, warm_copy

pytestmark = needs_warm_smoke

TOOL = (sys.executable, "-m", "thermbench.tools.submissions.submission")
ENTRIES = {  # docs/own-model.md's worked example
    "dlib_copy": {"task": "thermeval_nose", "path": "submissions/dlib_copy.csv", "notes": "dlib-68's own predictions"},
    "truth_plus_3_4": {"task": "landmarks68", "path": "submissions/truth_plus_3_4.csv",
                       "notes": "ground truth + (3, 4) px"},
    "mediapipe_copy": {"task": "breath_tracks", "path": "submissions/mediapipe_copy.csv",
                       "notes": "MediaPipe's own tracks"}}
# the stages that read submissions (submissions.yaml's entries, the submissions/ folder)
READERS = {"validate_thermeval_nose", "validate_landmarks68", "validate_breath_tracks", "zeroshot_submissions",
           "table1_submissions", "breath_track_submissions", "speed_submissions"}


@pytest.fixture(scope="module")
def entered(tmp_path_factory):
    repo = tmp_path_factory.mktemp("own") / "project"
    env, run = warm_copy(repo)
    run(*TOOL, "thermeval_nose", "--from", "data/predictions/zeroshot/dlib68.json", "--out",
        ENTRIES["dlib_copy"]["path"])
    run(*TOOL, "landmarks68", "--offset", "3", "4", "--out", ENTRIES["truth_plus_3_4"]["path"])
    run(*TOOL, "breath_tracks", "--from", "data/breath/tracks/mediapipe.json", "--out",
        ENTRIES["mediapipe_copy"]["path"])
    stale_before = set(json.loads(run(*DVC, "status", "--json")))
    registry = yaml.safe_load((repo / "submissions.yaml").read_text())
    (repo / "submissions.yaml").write_text(yaml.safe_dump({**registry, "submissions": ENTRIES}, sort_keys=False))
    run(sys.executable, "-m", "thermbench.tools.submissions.check_submissions")  # what `make repro` runs first
    with warm_stages(env, repo) as warm:
        printed = run(sys.executable, "-m", "thermbench.tools.pipeline.dvc_cli", "--beside", "repro", env=warm)
    ran = set(re.findall(r"^Running stage '([^']+)'", printed, re.M))
    return repo, ran, stale_before


def _following(repo, names: set[str]) -> set[str]:
    """The stages of the DAG that rest on any of `names`, those included."""
    from dvc.repo import Repo
    from dvc.repo.graph import collect_pipeline

    with Repo(str(repo)) as dvc:
        graph = dvc.index.graph
        return {st.name for st in graph if {s.name for s in collect_pipeline(st, graph)} & names}


def _json(repo, path):
    return json.loads((repo / path).read_text())


def test_only_the_stages_that_read_submissions_and_what_follows_run(entered):
    repo, ran, stale_before = entered
    following = _following(repo, READERS)
    assert READERS <= ran | stale_before, ran  # a file of each task to check and score
    assert ran - stale_before <= following, sorted(ran - stale_before - following)


def test_a_copy_of_dlib_gives_its_zero_shot_row_and_ties_it_on_every_nose(entered):
    repo, _, _ = entered
    row = _json(repo, "metrics/zeroshot_submissions.json")["submissions"]["dlib_copy"]
    assert row["full_frame"] == _json(repo, "metrics/zeroshot/dlib68.json")["full_frame"]
    pairs = {s["id"]: s for s in _json(repo, "metrics/conclusions/boards.json")["statements"]}
    tie = [s for i, s in pairs.items() if i.startswith("boards.thermeval_nose.") and "dlib_copy (submission)" in i
           and "dlib" in i.replace("dlib_copy", "")]
    assert len(tie) == 1 and tie[0]["numbers"]["mean"] == 0 and tie[0]["numbers"]["n_items"] > 0, tie


def _crops(repo, dataset):
    table = pd.read_csv(repo / f"data/prepared/{dataset}/samples.csv", dtype={"sample_id": str})
    table = table[table["split"] == "test"]
    return {sid: np.array(json.loads(k), dtype=np.float64) for sid, k in zip(table["sample_id"], table["kpts"])}


def test_truth_plus_3_4_is_5_px_off_by_hand_and_tested_on_its_items_on_both_boards(entered):
    repo, _, _ = entered
    # every point 5 px off (3-4-5): NME-IO 5 / the outer-eye-corner distance (points 36, 45) on each T-FAKE test crop,
    # NME-diag 5 / the labelled points' box diagonal on each CHARLOTTE one
    tfake = {sid: 5 / np.hypot(*(k[36, :2] - k[45, :2])) for sid, k in _crops(repo, "tfake").items()
             if (k[:, 2] > 0).all()}
    charlotte = {sid: 5 / np.hypot(*np.ptp(k[k[:, 2] > 0, :2], axis=0)) for sid, k in _crops(repo, "charlotte").items()}
    row = _json(repo, "metrics/table1_submissions.json")["submissions"]["truth_plus_3_4"]
    assert row["tfake"]["nme"] == pytest.approx(np.mean(list(tfake.values())), rel=1e-4)
    assert row["charlotte"]["full"]["nme"] == pytest.approx(np.mean(list(charlotte.values())), rel=1e-4)
    items = items_path(repo / "data/predictions/table1_submissions", "truth_plus_3_4 (submission)")
    assert read_items(items, "tfake").to_dict() == pytest.approx(tfake, rel=1e-4)
    assert read_items(items, "charlotte").to_dict() == pytest.approx(charlotte, rel=1e-4)
    statements = _json(repo, "metrics/conclusions/boards.json")["statements"]
    for board in ("landmarks68_tfake", "landmarks68_charlotte"):
        pairs = [s for s in statements if s["id"].startswith(f"boards.{board}.") and "truth_plus_3_4" in s["id"]]
        assert pairs and all(s["numbers"]["n_items"] > 0 and "per-item" not in s["why"] for s in pairs), pairs


def test_a_copy_of_mediapipes_tracks_gives_its_breath_rates(entered):
    repo, _, _ = entered
    sources = _json(repo, "metrics/breath/rates.json")["sources"]
    submitted = [name for name in sources if name.startswith("mediapipe_copy")]
    assert len(submitted) == 1, sorted(sources)
    assert sources[submitted[0]] == sources["mediapipe"]
