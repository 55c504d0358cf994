"""The video format: writer/reader round trip in both encodings, and one clear error per bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from thermbench.core.io import InputError
from thermbench.datasets import video


def _frames(n=4, h=6, w=5):
    return (30.0 + np.arange(n * h * w).reshape(n, h, w) / 100).astype(np.float32)


@pytest.mark.parametrize("units, tol", [("celsius", 0.0), ("centikelvin", 0.005)])
def test_round_trip(tmp_path, units, tol):
    frames = _frames()
    truth = pd.DataFrame({"frame": range(4), "subject": "s0", "rate_bpm": [12.0, 12.5, 13.0, 13.5],
                          "nose_x": 2.5, "nose_y": 3.0})
    video.write_sequence(tmp_path / "seq", frames, 8.7, [video.Subject("s0", (1, 1, 4, 5))], units, truth,
                         scene="near")
    seq = video.read_sequence(tmp_path / "seq")
    assert seq.fps == 8.7 and seq.scene == "near" and seq.subjects[0].face_box == (1.0, 1.0, 4.0, 5.0)
    assert np.abs(seq.frames - frames).max() <= tol
    assert seq.subject_truth("s0")["rate_bpm"].tolist() == [12.0, 12.5, 13.0, 13.5]
    assert seq.times[-1] == pytest.approx(3 / 8.7)
    assert video.read_sequence(tmp_path / "seq", with_frames=False).frames.shape[0] == 4


def _write_minimal(path, units="celsius", dtype=np.float32, shapes=((6, 5), (6, 5))):
    (path / "frames").mkdir(parents=True)
    for i, shape in enumerate(shapes):
        tifffile.imwrite(path / "frames" / f"{i:03d}.tif", np.zeros(shape, dtype))
    meta = {"fps": 9, "units": units, "subjects": [{"id": "a", "face_box": [0, 0, 4, 4]}]}
    (path / "meta.json").write_text(json.dumps(meta))


def test_minimal_folder_without_truth_reads(tmp_path):
    _write_minimal(tmp_path / "rec")
    seq = video.read_sequence(tmp_path / "rec")
    assert seq.truth is None and seq.frames.shape == (2, 6, 5) and seq.scene == "real"
    assert video.list_sequences(tmp_path) == [tmp_path / "rec"]


@pytest.mark.parametrize("breakage, message", [
    (lambda p: (p / "meta.json").unlink(), "meta.json: not found"),
    (lambda p: (p / "meta.json").write_text('{"fps": 9, "units": "kelvin", "subjects": []}'), "units 'kelvin'"),
    (lambda p: tifffile.imwrite(p / "frames" / "002.tif", np.zeros((6, 5), np.uint16)), "does not match units"),
    (lambda p: tifffile.imwrite(p / "frames" / "002.tif", np.zeros((7, 5), np.float32)), "differs from the first"),
    (lambda p: (p / "truth.csv").write_text("frame,subject,rate_bpm\n0,b,12\n"), "not listed in meta.json"),
    (lambda p: (p / "truth.csv").write_text("frame,subject\n0,a\n"), "missing column(s) rate_bpm"),
    (lambda p: (p / "frames" / "002.tif").write_bytes(b"not a tiff"), "not a readable TIFF"),
    (lambda p: (p / "meta.json").write_bytes(b"\xff\xfe{}"), "not valid JSON (not UTF-8 text)"),
    (lambda p: (p / "meta.json").write_text("[9]"), "expected a JSON object"),
    (lambda p: (p / "meta.json").write_text('{"fps": true, "units": "celsius", "subjects": []}'), "fps must be"),
    (lambda p: (p / "meta.json").write_text('{"fps": 9, "units": "celsius", "subjects": ["a"]}'), "needs an 'id'"),
    (lambda p: (p / "meta.json").write_text('{"fps": 9, "units": "celsius", "subjects": {"id": "a"}}'),
     "'subjects' must be a non-empty list"),
    (lambda p: (p / "meta.json").write_text(
        '{"fps": 9, "units": "celsius", "subjects": [{"id": "a", "face_box": [0, 0, "4", 4]}]}'), "needs an 'id'"),
    (lambda p: (p / "truth.csv").write_text(""), "truth.csv: empty"),
    (lambda p: (p / "truth.csv").write_bytes(b"frame,subject,rate_bpm\n0,a,\xff\n"), "truth.csv: not a CSV"),
    (lambda p: (p / "truth.csv").write_text("frame,subject,rate_bpm\nx,a,12\n"), "frame must hold a whole"),

    (lambda p: (p / "truth.csv").write_text("frame,subject,rate_bpm\n0,a,fast\n"), "rate_bpm must hold numbers"),
    (lambda p: (p / "truth.csv").write_text("frame,subject,rate_bpm\n0,,12\n"), "column subject is empty"),
])
def test_bad_input_is_one_clear_error(tmp_path, breakage, message):
    _write_minimal(tmp_path / "rec")
    breakage(tmp_path / "rec")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        video.read_sequence(tmp_path / "rec")


@pytest.mark.parametrize("truth, missing", [
    ("frame,subject,rate_bpm\n0,a,12\n1,a,\n", "subject a has no rate_bpm for frame(s) 1 of 0..1"),
    ("frame,subject,rate_bpm\n1,a,12\n", "subject a has no rate_bpm for frame(s) 0 of 0..1"),
    ("frame,subject,rate_bpm\n", "subject a has no rate_bpm for frame(s) 0..1 of 0..1"),
])
def test_an_empty_rate_or_a_missing_row_is_a_frame_without_truth_not_an_error(tmp_path, truth, missing):
    _write_minimal(tmp_path / "rec")
    (tmp_path / "rec" / "truth.csv").write_text(truth)
    assert video.read_sequence(tmp_path / "rec").truth_missing == missing


def test_import_real_checks_and_copies(tmp_path):
    _write_minimal(tmp_path / "user" / "rec1")
    video.import_real(tmp_path / "user", tmp_path / "out")
    assert video.read_sequence(tmp_path / "out" / "rec1").frames.shape == (2, 6, 5)
    with pytest.raises(InputError, match="no sequence folders"):
        video.import_real(tmp_path / "out" / "rec1" / "frames", tmp_path / "out2")


def test_truth_is_checked_one_row_per_frame_and_subject(tmp_path):
    _write_minimal(tmp_path / "rec", shapes=((6, 5),) * 10)
    seq = video.read_sequence(tmp_path / "rec")
    assert seq.truth_missing == "no truth.csv"
    # rows for frames 0..3 and 6 only, frame 6's rate empty: 4..9 lack a rate
    (tmp_path / "rec" / "truth.csv").write_text("frame,subject,rate_bpm\n0,a,12\n1,a,12\n2,a,12\n3,a,12\n6,a,\n")
    seq = video.read_sequence(tmp_path / "rec")
    assert seq.truth_missing == "subject a has no rate_bpm for frame(s) 4..9 of 0..9"
    rows = "".join(f"{i},a,12\n" for i in range(10) if i not in (2, 5))
    (tmp_path / "rec" / "truth.csv").write_text("frame,subject,rate_bpm\n" + rows)
    assert video.read_sequence(tmp_path / "rec").truth_missing == "subject a has no rate_bpm for frame(s) 2, 5 of 0..9"
    (tmp_path / "rec" / "truth.csv").write_text("frame,subject,rate_bpm\n" + "".join(f"{i},a,12\n" for i in range(10)))
    assert video.read_sequence(tmp_path / "rec").truth_missing is None


def test_import_real_says_in_one_line_per_sequence_what_truth_is_missing(tmp_path, capsys):
    _write_minimal(tmp_path / "user" / "complete")
    (tmp_path / "user" / "complete" / "truth.csv").write_text("frame,subject,rate_bpm\n0,a,12\n1,a,12\n")
    _write_minimal(tmp_path / "user" / "short")
    (tmp_path / "user" / "short" / "truth.csv").write_text("frame,subject,rate_bpm\n0,a,12\n")
    _write_minimal(tmp_path / "user" / "untruthed")
    video.import_real(tmp_path / "user", tmp_path / "out")
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"{tmp_path / 'user' / 'short' / 'truth.csv'}: subject a has no rate_bpm for frame(s) 1 of 0..1; "
        "those windows are reported, not scored",
        f"{tmp_path / 'user' / 'untruthed' / 'truth.csv'}: no truth.csv; those windows are reported, not scored"]
