"""A predictions file entered through submissions.yaml (task thermeval_nose): scored by hand on the shared ThermEval
world, rejected in one line when malformed, and shown in the zero-shot table as a submission."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from profile_configs import default_section
from thermbench.core import submissions
from thermbench.core.io import InputError
from thermbench.tools.submissions.submission import nose_rows
from thermbench.zeroshot.bakeoff import config, protocol_rows
from thermbench.zeroshot.submission import records, score_submissions

ROOT = Path(__file__).resolve().parents[2]
CFG = config(default_section("zeroshot", {"pck_thresholds_px": [5, 10]}))
# Frame a: GT (50, 50) and (120, 60); b: GT (30, 200); crops s1 (train, GT (100, 100)), s2 (test, GT (100, 104)),
# s3 (test, GT (60, 140)); every padded box 50 x 100.
GOOD = """protocol,id,x,y,score
full_frame,images/a.png,53,54,0.9
full_frame,images/a.png,120,66,0.8
crop,s1,103,96,0.7
crop,s2,100,110,0.6
"""


def _score(tmp_path, thermeval, text, name="mine"):
    raw, prepared = thermeval
    (tmp_path / "sub.csv").write_text(text)
    entry = submissions.Submission(name, "thermeval_nose", tmp_path / "sub.csv", "test notes")
    out = tmp_path / "out"
    score_submissions([entry], prepared, raw, out / "p.json", out / "m.json", CFG, 256, "synthetic")
    return json.loads((out / "m.json").read_text())["submissions"][name], out


def test_a_predictions_file_is_scored_as_a_model_by_hand(thermeval, tmp_path):
    m, _ = _score(tmp_path, thermeval, GOOD)
    assert m["label"] == "mine (submission)" and m["submission"] and m["notes"] == "test notes"
    # Full frame: errors 5 (3-4-5) and 6; frame b has no row, its GT is a miss.
    ff = m["full_frame"]
    assert ff["detection_rate"] == pytest.approx(2 / 3) and ff["mean_px"] == pytest.approx(5.5)
    assert ff["pck"] == {"5px": pytest.approx(1 / 3), "10px": pytest.approx(2 / 3)}
    assert ff["n_predictions"] == 2 and ff["precision"] == 1.0
    # GT box: s2 is 6 px off in y (crop px: 6 x 256 / 100 = 15.36), s3 has no row (a miss).
    crop = m["crop"]
    assert crop["frame_px"]["detection_rate"] == 0.5 and crop["frame_px"]["mean_px"] == pytest.approx(6.0)
    assert crop["crop_px"]["mean_px"] == pytest.approx(15.36)
    # Offset from s1 (train): GT - prediction = (-3, 4) over the 50 x 100 box = (-0.06, 0.04); s2 moves to (97, 114),
    # (-3, 10) from its GT: crop px (-3 x 5.12, 10 x 2.56).
    assert m["offset"]["box_normalised_xy"] == pytest.approx([-0.06, 0.04])
    assert m["crop_offset_corrected"]["frame_px"]["mean_px"] == pytest.approx(np.hypot(3, 10))
    assert m["crop_offset_corrected"]["crop_px"]["mean_px"] == pytest.approx(np.hypot(15.36, 25.6))


def test_a_models_stored_predictions_come_back_through_the_file(thermeval, tmp_path):
    """The example tool writes a zero-shot predictions file as a submission; read back, every point is the same."""
    raw, prepared = thermeval
    stored = {"status": "ok", "full_frame": [{"image_file": "images/a.png", "pred": [[53.25, 50.5], [7.0, 9.0]]},
                                             {"image_file": "images/b.png", "pred": []}],
              "crop": [{"sample_id": "s1", "pred": [101.5, 99.0]}, {"sample_id": "s2", "pred": None},
                       {"sample_id": "s3", "pred": [61.0, 139.0]}]}
    nose_rows(stored).to_csv(tmp_path / "f.csv", index=False)
    frames, fit, test = protocol_rows(prepared, CFG)
    full, fit_records, test_records = records(tmp_path / "f.csv", frames, fit, test, raw)
    assert [r["pred"] for r in full] == [[[53.25, 50.5], [7.0, 9.0]], []]
    assert [r["pred"] for r in fit_records + test_records] == [[101.5, 99.0], None, [61.0, 139.0]]


@pytest.mark.parametrize("text, rule", [
    (GOOD.replace("images/a.png,53", "images/zz.png,53"),
     "row 2: id 'images/zz.png' is not one of the 2 scored frames "
     "(`python -m thermbench.tools.submissions.submission ids --task thermeval_nose` lists them)"),
    (GOOD.replace("crop,s2", "crop,s1"), "row 5: duplicate row for 's1'"),
    (GOOD.replace("120,66", "120,"), "row 3: y is nan: a point needs finite numbers"),
    (GOOD.replace("103,96", "103,900"), "row 4: (103, 900) lies far outside the 192x256 frame"),
    (GOOD.replace("crop,s2", "box,s2"), "row 5: protocol 'box' is not one of full_frame, crop"),
    (GOOD.replace("protocol,id,x,y,score", "protocol,image,x,y,score"),
     "unknown column(s) image; missing column(s) id (expected protocol, id, x, y[, score])"),
    (GOOD.replace("protocol,id,x,y,score", "protocol,id,X,y,score"),
     "unknown column(s) X; missing column(s) x (expected protocol, id, x, y[, score])"),
])
def test_a_malformed_file_is_one_line_naming_row_and_rule(thermeval, tmp_path, text, rule):
    with pytest.raises(InputError) as err:
        _score(tmp_path, thermeval, text)
    assert str(err.value) == f"{tmp_path / 'sub.csv'}: {rule}"
    assert not (tmp_path / "out").exists()


def test_entries_name_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the entries' files lie in submissions/, beside submissions.yaml
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "p.csv").write_text(GOOD)
    good = {"task": "thermeval_nose", "path": str(folder / "p.csv")}
    assert submissions.entries({"b": good, "a": good}, "thermeval_nose")[0].name == "a"
    for entry, rule in (({**good, "task": "pose"}, "task 'pose' is not one of"),
                        ({**good, "colour": 1}, r"unknown key\(s\) colour"),
                        ({**good, "path": str(folder / "no.csv")}, "no.csv not found"),
                        ({"task": "thermeval_nose"}, "no path")):
        with pytest.raises(InputError, match=rule):
            submissions.entries({"x": entry}, "thermeval_nose")
    header = folder / "header.csv"
    header.write_text(GOOD.splitlines()[0] + "\n")
    (folder / "blank.csv").write_text("")
    for entry, rule in (({**good, "path": str(header)}, "holds no predictions; if the model found nothing on purpose, "
                                                        "say so with `empty: true` in this entry"),
                        ({**good, "empty": True}, r"`empty: true`, but .*p.csv holds 4 prediction\(s\)"),
                        ({**good, "empty": "yes"}, "empty: 'yes' is not true or false"),
                        ({**good, "path": str(folder / "blank.csv")}, r"an empty file \(not even a header row\)")):
        with pytest.raises(InputError, match=rule):
            submissions.entries({"x": entry}, "thermeval_nose")
    assert submissions.entries({"x": {**good, "path": str(header), "empty": True}}, "thermeval_nose")[0].path == header
    with pytest.raises(InputError, match="submissions.my/model: a name of letters"):
        submissions.entries({"my/model": good}, "thermeval_nose")
    (folder / "card.yaml").write_text("onnx: m.onnx\n")
    model = {"model": "submissions/card.yaml"}
    for task in submissions.TASKS:  # an ONNX model is run by every area
        (entry,) = submissions.entries({"m": model}, task)
        assert entry.onnx and entry.task == task and entry.path == Path("submissions/card.yaml")
    for entry, rule in (({**model, "task": "landmarks68"}, "either model .* or task and path"),
                        ({"model": str(folder / "no.yaml")}, "model card .*no.yaml not found")):
        with pytest.raises(InputError, match=rule):
            submissions.entries({"x": entry}, "thermeval_nose")


def test_the_registry_lists_the_built_in_models_and_keeps_their_names(tmp_path):
    registry = yaml.safe_load((ROOT / "submissions.yaml").read_text())
    assert submissions.builtin(ROOT / "submissions.yaml")["table1"] == ["dlib68", "tfan"]
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "p.csv").write_text(GOOD)
    path = tmp_path / "submissions.yaml"
    path.write_text(yaml.safe_dump({**registry, "submissions": {
        "dlib68": {"task": "thermeval_nose", "path": str(tmp_path / "submissions" / "p.csv")}}}))
    with pytest.raises(InputError, match=r"submissions.dlib68: the name of a built-in model$"):
        submissions.read(path, "thermeval_nose")
    path.write_text(yaml.safe_dump({"builtin": {"zeroshot": ["dlib68"]}, "submissions": {}}))
    with pytest.raises(InputError, match="expected `builtin:` with a list of model names for each of zeroshot, "):
        submissions.read(path, "thermeval_nose")


def test_the_stages_put_the_submission_in_the_zero_shot_table(thermeval, tmp_path):
    """The two stage scripts as dvc.yaml runs them: the submission's row, marked, after the built-in ones."""
    raw, prepared = thermeval
    submitted = tmp_path / "submissions" / "sub.csv"
    submitted.parent.mkdir()
    submitted.write_text(GOOD)
    entries = tmp_path / "submissions.yaml"
    registry = yaml.safe_load((ROOT / "submissions.yaml").read_text())  # the built-in models beside the entry
    entries.write_text(yaml.safe_dump({**registry, "submissions": {"mine": {"task": "thermeval_nose",
                                                                            "path": str(submitted)}}}))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["prepare"]["thermeval"]["crop_size"] = 256
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    common = ["--params", str(tmp_path / "params.yaml")]
    cmd = [sys.executable, str(ROOT / "stages/zeroshot/submissions.py"), "--submissions", str(entries),
           "--prepared", str(prepared), "--raw", str(raw), "--predictions", str(tmp_path / "sp.json"),
           "--metrics", str(tmp_path / "sm.json")] + common
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "sm.json").read_text())["submissions"]["mine"]["full_frame"]["n_gt"] == 3

    submitted.write_text(GOOD.replace("crop,s2", "crop,s1"))
    proc = subprocess.run(cmd[:-4] + ["--predictions", str(tmp_path / "x.json"), "--metrics", str(tmp_path / "y.json")]
                          + common, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == f"error: {submitted}: row 5: duplicate row for 's1'\n"
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "y.json").exists()


def test_an_onnx_model_runs_on_the_protocols_behind_dlibs_face_boxes(thermeval, tmp_path, hopper_portrait):
    """A model whose points sit at its crop's centre: its nose is the centre of the face box dlib finds (frame a
    holds a real face; the others are blank: no face, no prediction)."""
    import cv2

    from model_builders import ConstantPoints, write_card
    from thermbench.models.dlib68 import Dlib68

    raw, _ = thermeval
    cv2.imwrite(str(raw / "images" / "a.png"), hopper_portrait)
    face = Dlib68("hog", 1).detect(hopper_portrait)[0][0]
    card = write_card(tmp_path / "m", ConstantPoints((32.0, 32.0)), 64, "coords", ["points"])
    out = tmp_path / "out"
    score_submissions([submissions.Submission("mine", "thermeval_nose", card, "", onnx=True)], thermeval[1], raw,
                      out / "p.json", out / "m.json", CFG, 256, "synthetic")
    full = {r["image_file"]: r["pred"] for r in json.loads((out / "p.json").read_text())["submissions"]["mine"][
        "full_frame"]}
    np.testing.assert_allclose(full["images/a.png"], [face[:2] + face[2:] / 2], atol=1e-3)
    assert full["images/b.png"] == []
    row = json.loads((out / "m.json").read_text())["submissions"]["mine"]
    assert row["full_frame"]["n_predictions"] == 1 and row["label"] == "mine (submission)"
    assert row["face_detector"] == "dlib hog" and len(row["onnx_sha256"]) == 64


def test_ids_lists_what_the_profile_scores(thermeval):
    from thermbench.tools.submissions.submission import scored_ids

    _, prepared = thermeval
    (prepared.parent / "thermeval").symlink_to(prepared)
    ids = scored_ids("thermeval_nose", prepared.parent, prepared / "none", CFG)
    assert ids.values.tolist() == [["full_frame", "images/a.png", "test"], ["full_frame", "images/b.png", "test"],
                                   ["crop", "s1", "train"], ["crop", "s2", "test"], ["crop", "s3", "test"]]


def test_every_file_is_checked_before_an_onnx_model_runs(thermeval, tmp_path, monkeypatch):
    """An ONNX entry listed before a malformed file: the file's one line comes before the model runs, nothing is
    written; with a good file, the rows keep the entries' order."""
    from thermbench.zeroshot import submission as zs

    raw, prepared = thermeval
    ran = []

    def model(card, threads):
        ran.append(card)
        return "model"

    monkeypatch.setattr(zs, "read_card", lambda path: None)
    monkeypatch.setattr(zs, "onnx_fields", lambda card: {})
    monkeypatch.setattr(zs, "OnnxFaceModel", model)
    monkeypatch.setattr(zs.ev, "run_full_frame", lambda adapter, frames, raw: ([
        {"image_file": f, "split": s, "gt": json.loads(n), "pred": []}
        for f, s, n in zip(frames.image_file, frames.split, frames.noses)], None))
    monkeypatch.setattr(zs.ev, "run_crops", lambda adapter, rows, raw: [
        {"sample_id": r.sample_id, "split": r.split, "gt": [r.frame_nose_x, r.frame_nose_y], "pred": None,
         "box": [r.box_x0, r.box_y0, r.box_w, r.box_h]} for r in rows.itertuples()])
    (tmp_path / "card.yaml").write_text("onnx: m.onnx\n")
    (tmp_path / "sub.csv").write_text(GOOD.replace("crop,s2", "box,s2"))
    entries = [submissions.Submission("a_model", "thermeval_nose", tmp_path / "card.yaml", "", onnx=True),
               submissions.Submission("b_file", "thermeval_nose", tmp_path / "sub.csv", "")]
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        score_submissions(entries, prepared, raw, out / "p.json", out / "m.json", CFG, 256, "synthetic")
    assert str(err.value) == f"{tmp_path / 'sub.csv'}: row 5: protocol 'box' is not one of full_frame, crop"
    assert ran == [] and not out.exists()
    (tmp_path / "sub.csv").write_text(GOOD)
    score_submissions(entries, prepared, raw, out / "p.json", out / "m.json", CFG, 256, "synthetic")
    rows = json.loads((out / "m.json").read_text())["submissions"]
    assert ran == [None] and list(rows) == ["a_model", "b_file"]
    assert rows["a_model"]["full_frame"]["detection_rate"] == 0.0  # the stub finds no nose
    assert rows["b_file"]["full_frame"]["detection_rate"] == pytest.approx(2 / 3)  # as scored by hand above
