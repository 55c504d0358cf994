"""The example-submission tool given a JSON file that is not a zero-shot predictions file: one line naming the file
and what is wrong, exit 2, nothing written."""

import json
import sys

import pytest

from thermbench.core.stage import run
from thermbench.tools.submissions import submission

TRACK_FILE = {"source": "mediapipe", "kind": "mediapipe", "available": True, "outside_frame": 0, "model_frames": 2,
              "not_tracked": [], "tracks": {"a": {"p": [[1.0, 2.0], [3.0, 4.0]]}}}
WHAT = "not a zero-shot predictions file (data/predictions/zeroshot/<model>.json)"


@pytest.mark.parametrize("content, rule", [
    ([1, 2], f"{WHAT}: a JSON list where an object with 'status' is expected"),
    (TRACK_FILE, f"{WHAT}: no 'status' among its keys (available, kind, model_frames, not_tracked, outside_frame and "
                 "2 more)"),
    ({"model": "dwpose", "status": "weights not available"},
     "the predictions file holds no predictions (status: weights not available)"),
    ({"status": "ok", "full_frame": [{"image_file": "a.png", "pred": 5}], "crop": []},
     f"{WHAT}: 'full_frame' must be a list of {{image_file, pred: [[x, y], ...]}}"),
    ({"status": "ok", "full_frame": [], "crop": [{"sample_id": "s1", "pred": [1.0]}]},
     f"{WHAT}: 'crop' must be a list of {{sample_id, pred: [x, y] or null}}"),
    ({"status": "ok", "full_frame": []}, f"{WHAT}: 'crop' must be a list of {{sample_id, pred: [x, y] or null}}"),
])
def test_thermeval_nose_from_a_file_of_another_shape_is_one_line_naming_it(content, rule, tmp_path, capsys,
                                                                           monkeypatch):
    source, out = tmp_path / "list.json", tmp_path / "out.csv"
    source.write_text(json.dumps(content))
    monkeypatch.setattr(sys, "argv", ["submission", "thermeval_nose", "--from", str(source), "--out", str(out)])
    with pytest.raises(SystemExit) as exit_:
        run(submission.main)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err == f"error: {source}: {rule}\n"
    assert not out.exists()


def test_a_well_formed_predictions_file_still_becomes_rows(tmp_path, monkeypatch):
    source, out = tmp_path / "p.json", tmp_path / "out.csv"
    source.write_text(json.dumps({"status": "ok", "full_frame": [{"image_file": "a.png", "pred": [[1.5, 2.0]]}],
                                  "crop": [{"sample_id": "s1", "pred": None}, {"sample_id": "s2", "pred": [3, 4]}]}))
    monkeypatch.setattr(sys, "argv", ["submission", "thermeval_nose", "--from", str(source), "--out", str(out)])
    run(submission.main)
    assert out.read_text() == "protocol,id,x,y\nfull_frame,a.png,1.5,2.0\ncrop,s2,3.0,4.0\n"


@pytest.mark.parametrize("content, rule", [
    (7, "not a breath track file (needs 'source' and 'available')"),
    ({**TRACK_FILE, "available": False, "reason": "no weights"}, "the track file holds no tracks (no weights)"),
])
def test_breath_tracks_from_a_file_without_tracks_is_one_line_naming_it(content, rule, tmp_path, capsys, monkeypatch):
    source, out = tmp_path / "tracks.json", tmp_path / "out.csv"
    source.write_text(json.dumps(content))
    monkeypatch.setattr(sys, "argv", ["submission", "breath_tracks", "--from", str(source), "--out", str(out)])
    with pytest.raises(SystemExit) as exit_:
        run(submission.main)
    assert exit_.value.code == 2 and capsys.readouterr().err == f"error: {source}: {rule}\n"
    assert not out.exists()
