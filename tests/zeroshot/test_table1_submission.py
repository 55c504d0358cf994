"""A landmarks68 predictions file: its Table I row from the ground truth plus a known offset, computed by hand; a
malformed file is one line naming the row and the rule, and nothing is written."""

import json

import numpy as np
import pandas as pd
import pytest

from raw_builders import build_prepared_landmarks
from thermbench.core.io import InputError
from thermbench.core.items import items_text, read_items
from thermbench.core.submissions import Submission
from thermbench.tools.submissions.submission import truth_rows
from thermbench.zeroshot.table1.submission import evaluate

# Every crop's 68 points: outer eye corners (36, 45) 40 px apart; the box of all points 8..56 (diagonal 48 x sqrt 2).
POINTS = np.random.default_rng(0).uniform(12, 52, (68, 2)).round(2)
POINTS[36], POINTS[45], POINTS[0], POINTS[1] = (10, 20), (50, 20), (8, 8), (56, 56)
DATA = {"tfake": "synthetic", "charlotte": "synthetic"}


@pytest.fixture()
def prepared(tmp_path):
    tfake, charlotte = tmp_path / "tfake", tmp_path / "charlotte"
    build_prepared_landmarks(tfake, [("t0", "test"), ("t1", "test"), ("t2", "train")], points=POINTS)
    build_prepared_landmarks(charlotte, [("c0", "test"), ("c1", "test")],
                             {"width_group": "mean", "view": "front", "diag_annotated_px": 68.0}, points=POINTS)
    return tfake, charlotte


def _file(tmp_path, offset=(3.0, 4.0), rows=(("tfake", "t0"), ("tfake", "t1"), ("charlotte", "c0"),
                                               ("charlotte", "c1"))):
    points = (POINTS + offset).ravel()
    table = pd.DataFrame([{"dataset": d, "sample_id": s, **{f"{a}{i // 2}": points[i] for i, a in
                                                           zip(range(136), "xy" * 68)}} for d, s in rows])
    path = tmp_path / "landmarks.csv"
    table.to_csv(path, index=False)
    return path, table


def test_a_landmark_file_gets_its_table_i_row_by_hand(prepared, tmp_path):
    path, _ = _file(tmp_path)
    out = tmp_path / "m.json"
    evaluate([Submission("mine", "landmarks68", path, "")], *prepared, out, tmp_path / "items", DATA, 1)
    row = json.loads(out.read_text())["submissions"]["mine"]
    # Every point 5 px off (3-4-5): NME-IO 5 / 40 on each T-FAKE crop; NME-diag 5 / (48 sqrt 2) on each CHARLOTTE one.
    assert row["tfake"]["nme"] == pytest.approx(5 / 40, abs=1e-6) and row["tfake"]["n"] == 2
    assert row["charlotte"]["full"]["nme"] == pytest.approx(5 / (48 * np.sqrt(2)), abs=1e-6)
    assert row["charlotte"]["mean"]["n"] == 2 and row["charlotte"]["low"]["n"] == 0
    assert row["model"] == "submission-mine" and row["kind"] == "submission" and row["label"] == "mine (submission)"
    assert len(row["sha256"]) == 64 and row["data"] == DATA
    # its per-image NMEs, the items its pairs on the landmarks68 boards are tested on
    items = tmp_path / "items" / "mine_submission_items.csv"
    assert read_items(items, "tfake").to_dict() == pytest.approx({"t0": 5 / 40, "t1": 5 / 40})
    assert read_items(items, "charlotte").to_dict() == pytest.approx({"c0": 5 / (48 * np.sqrt(2)),
                                                                      "c1": 5 / (48 * np.sqrt(2))})


def test_the_example_tool_writes_truth_plus_offset_in_this_format(prepared, tmp_path):
    _, table = _file(tmp_path)
    made = truth_rows(tmp_path, (3.0, 4.0))
    pd.testing.assert_frame_equal(made, table, check_dtype=False)


def _rule(prepared, tmp_path, path):
    out = tmp_path / "m.json"
    with pytest.raises(InputError) as err:
        evaluate([Submission("mine", "landmarks68", path, "")], *prepared, out, tmp_path / "items", DATA, 1)
    assert not out.exists() and not (tmp_path / "items").exists()
    return str(err.value).removeprefix(f"{path}: ")


def test_malformed_landmark_files_are_one_line_each(prepared, tmp_path):
    path, table = _file(tmp_path)
    table.drop(columns=["x67", "y67"]).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path).startswith("67 points per row where 68 are expected")
    table.assign(sample_id=["t0", "t9", "c0", "c1"]).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == "row 3: tfake sample 't9' is not one of its test crops"
    table.assign(sample_id=["t0", "t0", "c0", "c1"]).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == "row 3: duplicate row for tfake sample 't0'"
    table.assign(x12=[1.0, np.nan, 1.0, 1.0]).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == "row 3: x12 is nan: every point needs finite numbers"
    table.assign(y5=[1.0, 1.0, 1.0, 500.0]).to_csv(path, index=False)
    x5 = POINTS[5, 0] + 3
    assert _rule(prepared, tmp_path, path) == f"row 5: point 5 ({x5:g}, 500) lies far outside the 64x64 crop"
    table.iloc[:3].to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == ("no row for charlotte sample 'c1' (1 of 2 test crops missing; every "
                                               "test crop needs one)")
    table.assign(dataset=["tfake", "tfake", "300w", "charlotte"]).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == "row 4: dataset '300w' is not one of tfake, charlotte"


def test_an_exported_student_entered_as_onnx_reproduces_its_own_row(prepared, tmp_path):
    """The student scored by its training stage's own function (`score_run`, on the MLCM-KD crop stores) and the same
    student exported to ONNX and entered through its model card: the same Table I cells, digit for digit."""
    from model_builders import lively_rtmpose_t, write_card
    from thermbench.core.io import dumps_json
    from thermbench.datasets.crop_store import store_split
    from thermbench.mlcmkd.evaluate import score_run

    tfake, charlotte = prepared
    student = lively_rtmpose_t(64)
    store_split(tmp_path / "cache_t", tfake, "test", 64, all_labelled=True)
    store_split(tmp_path / "cache_c", charlotte, "test", 64, meta_columns=("width_group", "view", "diag_annotated_px"))
    config = {"kind": "ktl", "arch": "t", "input_size": [64, 64], "fit": {"epochs": 1}, "history": {},
              "modality": "thermal"}
    own, _, _, own_items = score_run(student, config, tmp_path / "cache_t", tmp_path / "cache_c", "ktl-t")
    card = write_card(tmp_path / "student", student, 64, "simcc", ["simcc_x", "simcc_y"])
    out = tmp_path / "m.json"
    evaluate([Submission("student", "landmarks68", card, "", onnx=True)], *prepared, out, tmp_path / "items", DATA, 1)
    row = json.loads(out.read_text())["submissions"]["student"]
    assert row["tfake"]["n"] == 2 and row["input_size"] == 64 and row["keypoints"] == "ibug68"
    for cell in ("tfake", "charlotte"):
        assert dumps_json(row[cell]) == dumps_json(own[cell])
    # its per-image NMEs are the trained run's, item for item: the same pairs on the landmarks68 boards
    assert (tmp_path / "items" / "student_submission_items.csv").read_text() == items_text(own_items)


def _coco(tmp_path, results):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return path


def _results(offset=(3.0, 4.0)):
    """A COCO keypoint result per scored crop: ids 1, 2 the T-FAKE test crops t0, t1; 3, 4 CHARLOTTE's c0, c1."""
    keypoints = np.hstack([POINTS + offset, np.ones((68, 1))]).ravel().tolist()
    return [{"image_id": i, "category_id": 1, "keypoints": keypoints, "score": 0.9} for i in (1, 2, 3, 4)]


def test_a_coco_results_file_scores_as_the_same_points_in_a_csv(prepared, tmp_path):
    csv, _ = _file(tmp_path)
    worse = {**_results(offset=(30.0, 40.0))[0], "score": 0.1}  # a second person on crop 1, less sure: not scored
    coco = _coco(tmp_path, _results() + [worse])
    rows = {}
    for name, path in (("csv", csv), ("coco", coco)):
        out = tmp_path / f"{name}.json"
        evaluate([Submission(name, "landmarks68", path, "")], *prepared, out, tmp_path / "items", DATA, 1)
        rows[name] = json.loads(out.read_text())["submissions"][name]
    assert rows["coco"]["tfake"]["nme"] == pytest.approx(5 / 40, abs=1e-6)
    for key in ("tfake", "charlotte"):
        assert rows["coco"][key] == rows["csv"][key]


def test_equal_scores_for_one_crop_score_the_earlier_result_as_cocoeval_matches_them(prepared, tmp_path):
    """COCOeval sorts an image's results by score with a stable sort (mergesort), so of two with the same score the
    one earlier in the file is matched first; a higher score later in the file still wins."""
    first, tie = _results(offset=(3.0, 4.0)), {**_results(offset=(30.0, 40.0))[0], "score": 0.9}
    nme = {}
    for name, results in (("first", first[:1] + [tie] + first[1:]), ("tie_first", [tie] + first),
                          ("higher_later", [tie] + first[:1] + [{**first[0], "score": 0.95}] + first[1:])):
        out = tmp_path / f"{name}.json"
        evaluate([Submission(name, "landmarks68", _coco(tmp_path, results), "")],
                 *prepared, out, tmp_path / "items", DATA, 1)
        nme[name] = json.loads(out.read_text())["submissions"][name]["tfake"]["nme"]
    # crop 1 at (3, 4) px off: 5 / 40 on both T-FAKE crops; at (30, 40): 50 / 40 on crop 1
    assert nme["first"] == pytest.approx(5 / 40, abs=1e-6) and nme["higher_later"] == pytest.approx(5 / 40, abs=1e-6)
    assert nme["tie_first"] == pytest.approx((50 / 40 + 5 / 40) / 2, abs=1e-6)


@pytest.mark.parametrize("edit, rule", [
    (lambda r: {"results": r}, "a COCO results file is a JSON list of {image_id, category_id, keypoints, score}"),
    (lambda r: r + [{**r[0], "image_id": 9}, {**r[0], "image_id": 7}],
     "image_id(s) 7, 9 are not among the 4 scored crops (ids 1..4; "
     "`python -m thermbench.tools.submissions.submission ids --task landmarks68` lists them): "
     "results do not correspond to the scored set"),
    (lambda r: r[:3], "no row for charlotte sample 'c1' (1 of 2 test crops missing; every test crop needs one)"),
    (lambda r: [{k: v for k, v in r[0].items() if k != "score"}] + r[1:],
     "result 0: expected the keys category_id, image_id, keypoints, score, got ['category_id', 'image_id', "
     "'keypoints']"),
    (lambda r: [{**r[0], "keypoints": r[0]["keypoints"][:136]}] + r[1:],
     "result 0: keypoints holds 136 values where 68 x [x, y, v] = 204 are expected"),
    (lambda r: [{**r[0], "image_id": "1"}] + r[1:], "result 0: image_id '1' is not an integer"),
    (lambda r: r[:1] + [{**r[1], "category_id": 2}] + r[2:], "result 1: category_id 2 is not the face category (1, as "
     "`python -m thermbench.tools.submissions.submission coco-gt` writes it)"),
    (lambda r: r[:1] + [{**r[1], "category_id": "face"}] + r[2:], "result 1: category_id 'face' is not the face "
     "category (1, as `python -m thermbench.tools.submissions.submission coco-gt` writes it)"),
    (lambda r: [{**r[0], "image_id": "9" * 500}] + r[1:], f"result 0: image_id '{'9' * 38}… is not an integer"),
    (lambda r: r[:1] + [{**r[1], "keypoints": [None] + r[1]["keypoints"][1:]}] + r[2:],
     "result 1: keypoint 0 x is None: every point needs finite numbers"),
])
def test_malformed_coco_results_are_one_line_each(prepared, tmp_path, edit, rule):
    path = _coco(tmp_path, edit(_results()))
    assert _rule(prepared, tmp_path, path) == rule


def test_a_wrong_column_is_named(prepared, tmp_path):
    path, table = _file(tmp_path)
    table.rename(columns={"x10": "X10"}).to_csv(path, index=False)
    assert _rule(prepared, tmp_path, path) == ("unknown column(s) X10; missing x10 (columns: dataset, sample_id, x0, "
                                               "y0, ..., x67, y67)")


def test_the_coco_ground_truth_and_ids_number_the_scored_crops_as_results_use_them(prepared, tmp_path):
    from thermbench.tools.submissions.submission import coco_ground_truth, scored_ids

    gt = coco_ground_truth(tmp_path)
    assert [(i["id"], i["file_name"]) for i in gt["images"]] == [
        (1, "tfake/crops/t0.png"), (2, "tfake/crops/t1.png"), (3, "charlotte/crops/c0.png"),
        (4, "charlotte/crops/c1.png")]
    assert gt["images"][0]["width"] == 64 and gt["annotations"][0]["bbox"] == [0, 0, 64, 64]
    ids = scored_ids("landmarks68", tmp_path, tmp_path / "none", None)
    assert ids[["image_id", "dataset", "sample_id"]].values.tolist() == [
        [1, "tfake", "t0"], [2, "tfake", "t1"], [3, "charlotte", "c0"], [4, "charlotte", "c1"]]
    # A model's results on that ground truth, 3-4-5 px off every labelled point, scored: NME-IO 5 / 40 on T-FAKE.
    results = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0,
                "keypoints": (np.array(a["keypoints"]).reshape(68, 3) + [3.0, 4.0, 0.0]).ravel().tolist()}
               for a in gt["annotations"]]
    out = tmp_path / "m.json"
    evaluate([Submission("mine", "landmarks68", _coco(tmp_path, results), "")],
             *prepared, out, tmp_path / "items", DATA, 1)
    assert json.loads(out.read_text())["submissions"]["mine"]["tfake"]["nme"] == pytest.approx(5 / 40, abs=1e-6)
