"""Stage board_pairs on hand-made metrics and per-item files: the rows each board compares, the test each pair gets,
and blocked or item-less rows named."""

import json

import numpy as np
import pytest

from thermbench.core.items import read_items, write_items
from thermbench.tools.reports.board_pairs import hit, write

IDS = [f"s{k}" for k in range(8)]


def _run(tmp, model, seed, tfake, converged=True, group=None):
    m = {"model": model, "seed": seed, "tfake": {"nme": float(np.mean(tfake))},
         "training": {"convergence": {"converged": converged}}}
    folder = tmp / "metrics" / "mlcmkd" / (group or "")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{model}.json").write_text(json.dumps(m))
    write_items(tmp / "plots" / "curves" / "mlcmkd" / (group or "") / f"{model}_items.csv",
                {"tfake": (IDS, tfake), "charlotte": (IDS[:2], [0.1, 0.2])})


@pytest.fixture
def world(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.normal(0.06, 0.005, 8)
    for s in range(3):
        noise = rng.normal(0, 0.0005, 8)
        _run(tmp_path, f"ktl-dikd-seed{s}", s, base, group="ktl")
        _run(tmp_path, f"supervised-s-seed{s}", s, base + noise + 0.0001 * s, converged=s != 2, group="sup")
    dlib = {"model": "zeroshot-dlib68", "tfake": {"nme": 0.4}, "training": None}
    (tmp_path / "metrics" / "mlcmkd" / "zeroshot-dlib68.json").write_text(json.dumps(dlib))
    write_items(tmp_path / "plots" / "curves" / "table1" / "dlib68_items.csv",
                {"tfake": (IDS, base + 0.3), "charlotte": (IDS[:2], [0.5, 0.6])})
    (tmp_path / "metrics" / "zeroshot").mkdir()
    for name, errors in (("mediapipe", [1, 2, np.nan, 30]), ("dwpose", [np.nan] * 4)):
        status = "ok" if name == "mediapipe" else "weights not available"
        (tmp_path / "metrics" / "zeroshot" / f"{name}.json").write_text(json.dumps({"status": status,
                                                                                     "data": "synthetic"}))
        write_items(tmp_path / "plots" / "curves" / "zeroshot" / f"{name}_items.csv",
                    {"thermeval": ([f"f.png#{i}" for i in range(4)], errors)})
    (tmp_path / "metrics" / "zeroshot_submissions.json").write_text(json.dumps({"submissions": {}}))
    (tmp_path / "metrics" / "table1_submissions.json").write_text(json.dumps(
        {"data": {"tfake": "synthetic", "charlotte": "synthetic"},
         "submissions": {"mine": {"label": "mine (submission)", "model": "mine (submission)"}}}))
    return tmp_path


def test_every_pair_of_a_landmark_board_is_one_holm_family(world):
    records = write(world / "metrics", ["mediapipe", "dwpose"], world / "plots" / "curves", world / "items", {},
                    world / "boards.json", world / "board_pairs.md")
    tfake = {r["id"].removeprefix("boards.landmarks68_tfake."): r for r in records
             if r["id"].startswith("boards.landmarks68_tfake.")}
    assert sorted(tfake) == ["ktl-dikd_vs_mine (submission)", "ktl-dikd_vs_supervised-s", "ktl-dikd_vs_zeroshot-dlib68",
                             "mine (submission)_vs_supervised-s", "mine (submission)_vs_zeroshot-dlib68",
                             "supervised-s_vs_zeroshot-dlib68"]
    # the trained students against dlib68 run once: over the students' 3 seeds, 0.3 apart on every item
    vs_dlib = tfake["ktl-dikd_vs_zeroshot-dlib68"]
    assert vs_dlib["numbers"]["unit"] == "seeds" and vs_dlib["numbers"]["n_seeds"] == 3
    assert vs_dlib["numbers"]["mean"] == pytest.approx(-0.3, abs=1e-6)
    # a student run that did not converge blocks the pairs of its model; the submission's items file is missing
    assert "not converged: supervised-s-seed2" in tfake["ktl-dikd_vs_supervised-s"]["why"]
    assert "no per-item scores of mine (submission)" in tfake["ktl-dikd_vs_mine (submission)"]["why"]
    # the board family: the 3 pairs with items both rows scored (the submission's are reported, not tested), so the
    # smallest p is taken at 1 - 0.05 / 3
    assert max(r["numbers"]["level"] for r in tfake.values()) == pytest.approx(1 - 0.05 / 3)
    # one nose model with numbers: no pair on the nose board
    assert not [r for r in records if r["id"].startswith("boards.thermeval_nose.")]
    assert "## landmarks68_tfake" in (world / "board_pairs.md").read_text()


def test_a_landmarks68_submission_with_its_items_is_tested_in_the_family(world):
    # its items as the table1_submissions stage writes them: 0.2 below dlib68's on each image, give or take 0.01
    offsets = np.random.default_rng(2).uniform(-0.01, 0.01, 8)
    base = read_items(world / "plots" / "curves" / "table1" / "dlib68_items.csv", "tfake")[IDS].to_numpy()
    write_items(world / "items" / "mine_submission_items.csv",
                {"tfake": (IDS, base - 0.2 + offsets), "charlotte": (IDS[:2], [0.3, 0.4])})
    records = write(world / "metrics", ["mediapipe", "dwpose"], world / "plots" / "curves", world / "items", {},
                    world / "boards.json", world / "board_pairs.md")
    tfake = {r["id"].removeprefix("boards.landmarks68_tfake."): r for r in records
             if r["id"].startswith("boards.landmarks68_tfake.")}
    # two models run once: a paired t test over the 8 images, whose mean difference is -0.2 + the offsets' mean
    pair = tfake["mine (submission)_vs_zeroshot-dlib68"]
    assert pair["numbers"]["unit"] == "items" and pair["numbers"]["n_items"] == 8
    assert pair["numbers"]["mean"] == pytest.approx(-0.2 + offsets.mean(), abs=1e-6)
    assert pair["verdict_here"] == "mine (submission) < zeroshot-dlib68" and "per-item" not in pair["why"]
    # every pair now has items both rows scored: the family is all 6, the smallest p taken at 1 - 0.05 / 6
    assert max(r["numbers"]["level"] for r in tfake.values()) == pytest.approx(1 - 0.05 / 6)


def test_a_nose_is_a_hit_within_the_pck_radius():
    assert list(hit(np.array([0.0, 10.0, 10.01, np.nan]))) == [1.0, 1.0, 0.0, 0.0]
