"""`make check-submissions` on a fresh clone (no prepared data: each file's format only) refuses what no scoring
stage could use, in one line naming the file or entry and the rule, exit 2, nothing changed: a file outside
submissions/ (the scoring stages depend on that folder only), a repeated row, an entry with no task, a results file
with no result where every scored item needs one."""

import hashlib
from pathlib import Path

import pytest
import yaml

from thermbench.core.stage import run
from thermbench.tools.submissions import check_submissions

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = yaml.safe_load((ROOT / "submissions.yaml").read_text())["builtin"]
ZEROSHOT = yaml.safe_load((ROOT / "params.yaml").read_text())["zeroshot"]
NOSE = "protocol,id,x,y\nfull_frame,images/a.png,53,54\ncrop,s2,100,110\n"
LANDMARKS = "dataset,sample_id," + ",".join(f"x{i},y{i}" for i in range(68)) + "\n"
TRACKS = "sequence,subject,frame,x,y\nnear_0,p0,0,10,20\nnear_0,p0,1,,\n"
OUTSIDE = "lies outside submissions/; move it there (the scoring stages depend on that folder only, so a change to a " \
          "file elsewhere would never re-score it)"


def _landmarks(dataset: str, sample_id: str) -> str:
    return f"{dataset},{sample_id}," + ",".join(["1.5"] * 136) + "\n"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"zeroshot": ZEROSHOT}))
    (tmp_path / "submissions").mkdir()
    return tmp_path


def _enter(project: Path, entries: dict, files: dict[str, str]) -> None:
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / "submissions.yaml").write_text(yaml.safe_dump({"builtin": BUILTIN, "submissions": entries}))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _refused(project: Path, capsys) -> str:
    before = _digest(project)
    with pytest.raises(SystemExit) as exit_:
        run(lambda: check_submissions.main([]))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert _digest(project) == before
    return err.removeprefix("error: ").rstrip("\n")


def _passes(project: Path, capsys) -> str:
    check_submissions.main([])
    return capsys.readouterr().err


@pytest.mark.parametrize("path", ["mine.csv", "elsewhere/mine.csv", "submissions/../mine.csv", "ABSOLUTE"])
def test_a_file_outside_the_submissions_folder_is_refused_saying_why(project, capsys, path):
    path = str(project.parent / "mine.csv") if path == "ABSOLUTE" else path
    _enter(project, {"mine": {"task": "thermeval_nose", "path": path}}, {path: NOSE})
    assert _refused(project, capsys) == f"submissions.yaml: submissions.mine: {path} {OUTSIDE}"


def test_a_model_card_outside_the_submissions_folder_is_refused_and_a_file_inside_passes(project, capsys):
    _enter(project, {"onnx": {"model": "cards/card.yaml"}}, {"cards/card.yaml": "onnx: m.onnx\n"})
    assert _refused(project, capsys) == f"submissions.yaml: submissions.onnx: cards/card.yaml {OUTSIDE}"
    _enter(project, {"mine": {"task": "thermeval_nose", "path": "submissions/deeper/mine.csv"}},
           {"submissions/deeper/mine.csv": NOSE})
    assert _passes(project, capsys).startswith("submissions.yaml: mine (thermeval_nose): format only")


@pytest.mark.parametrize("task, text, rule", [
    ("thermeval_nose", NOSE + "full_frame,images/a.png,53.0,54\n", "row 4: duplicate row for 'images/a.png'"),
    ("thermeval_nose", NOSE + "crop,s2,101,111\n", "row 4: duplicate row for 's2'"),
    ("landmarks68", LANDMARKS + _landmarks("tfake", "t0") + _landmarks("charlotte", "t0") + _landmarks("tfake", "t0"),
     "row 4: duplicate row for tfake sample 't0'"),
    ("breath_tracks", TRACKS + "near_0,p0,0.0,,\n", "row 4: duplicate row for near_0/p0 frame 0"),
])
def test_a_repeated_row_is_a_format_error_before_the_data_exist(project, capsys, task, text, rule):
    _enter(project, {"mine": {"task": task, "path": "submissions/mine.csv"}}, {"submissions/mine.csv": text})
    assert _refused(project, capsys) == f"submissions/mine.csv: {rule}"
    first = text.splitlines(keepends=True)
    _enter(project, {"mine": {"task": task, "path": "submissions/mine.csv"}},
           {"submissions/mine.csv": "".join(first[:-1])})  # without the repeat: its format passes
    assert "mine (" in _passes(project, capsys)


@pytest.mark.parametrize("entry", [{"path": "submissions/mine.csv"}, {"task": None, "path": "submissions/mine.csv"}])
def test_an_entry_without_a_task_names_the_tasks(project, capsys, entry):
    _enter(project, {"mine": entry}, {"submissions/mine.csv": NOSE})
    assert _refused(project, capsys) == (
        "submissions.yaml: submissions.mine: no `task` (one of thermeval_nose, landmarks68, breath_tracks; or "
        "`model`, an ONNX model's card)")


@pytest.mark.parametrize("entry, file, text, message", [
    ({"task": "landmarks68"}, "mine.json", "[]",
     "submissions/mine.json: a COCO results file with no result: every scored T-FAKE and CHARLOTTE test crop needs "
     "one (the format: submissions/README.md)"),
    ({"task": "landmarks68", "empty": True}, "mine.json", "[]",
     "submissions.yaml: submissions.mine: `empty: true` is for task thermeval_nose only: every scored T-FAKE and "
     "CHARLOTTE test crop needs a row, so a file without rows is never scored"),
    ({"task": "thermeval_nose"}, "mine.json", "[]",
     "submissions/mine.json: a .json file where this task reads a CSV (COCO keypoint results are read for task "
     "landmarks68 only; the formats: submissions/README.md)"),
    ({"task": "thermeval_nose", "empty": True}, "mine.json", "[]",
     "submissions/mine.json: a .json file where this task reads a CSV (COCO keypoint results are read for task "
     "landmarks68 only; the formats: submissions/README.md)"),
    ({"task": "breath_tracks"}, "mine.csv", TRACKS.splitlines()[0] + "\n",
     "submissions/mine.csv: no rows: every frame of every subject of every breath video needs one (the format: "
     "submissions/README.md)"),
])
def test_a_file_with_no_result_is_refused_where_every_scored_item_needs_one(project, capsys, entry, file, text,
                                                                            message):
    _enter(project, {"mine": {**entry, "path": f"submissions/{file}"}}, {f"submissions/{file}": text})
    assert _refused(project, capsys) == message


def test_a_nose_file_with_no_row_still_passes_when_its_entry_says_so(project, capsys):
    _enter(project, {"mine": {"task": "thermeval_nose", "path": "submissions/mine.csv", "empty": True}},
           {"submissions/mine.csv": NOSE.splitlines()[0] + "\n"})
    assert _passes(project, capsys).startswith("submissions.yaml: mine (thermeval_nose): format only")
