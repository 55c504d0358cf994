"""A bad submission changes nothing: every entry is checked before any stage that writes results runs (`make repro`
runs the check first; in the DAG each task's validation stage, which its scoring stages depend on, keeps its output on
a failure). Proved on a two-stage DAG this test builds with the real check stage, on the hand-built ThermEval world."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.tools.gates.regression import stage_env
from thermbench.tools.publish import publish
from thermbench.tools.publish.publish import stale_stages
from thermbench.tools.submissions.check_submissions import check
from thermbench.tools.submissions.check_submissions import main as check_main

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
REGISTRY = yaml.safe_load((ROOT / "submissions.yaml").read_text())
GOOD = "protocol,id,x,y\nfull_frame,images/a.png,53,54\ncrop,s2,100,110\n"
BAD = "protocol,id,x,y\nfull_frame,images/a.png,inf,54\n"


def _registry(folder: Path, names: dict[str, str]) -> Path:
    entries = {n: {"task": "thermeval_nose", "path": f"submissions/{n}.csv"} for n in names}
    (folder / "submissions").mkdir(exist_ok=True)
    for name, text in names.items():
        (folder / "submissions" / f"{name}.csv").write_text(text)
    path = folder / "submissions.yaml"
    path.write_text(yaml.safe_dump({"builtin": REGISTRY["builtin"], "submissions": entries}))
    return path


def test_check_reads_every_file_against_the_scored_set(thermeval, tmp_path, monkeypatch):
    raw, prepared = thermeval
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "thermeval").symlink_to(prepared)
    monkeypatch.chdir(tmp_path)
    cfg = PARAMS["zeroshot"]
    registry = _registry(tmp_path, {"good": GOOD})
    checked = check(registry, tmp_path / "data", raw, tmp_path / "no_videos", cfg)
    assert checked["landmarks68"] == checked["breath_tracks"] == {}  # a task with no entry
    checked = checked["thermeval_nose"]
    assert checked["good"]["checked"] == "against the scored frames and samples" and checked["good"]["kind"] == (
        "thermeval_nose")
    assert checked["good"]["sha256"] == hashlib.sha256(GOOD.encode()).hexdigest()
    registry = _registry(tmp_path, {"good": GOOD, "other": GOOD.replace("s2", "s1")})  # s1: a train sample
    checked = check(registry, tmp_path / "data", raw, tmp_path / "no_videos", cfg)["thermeval_nose"]
    assert checked["other"]["checked"].startswith("against")
    registry = _registry(tmp_path, {"good": GOOD, "worse": GOOD.replace("images/a.png", "images/c.png")})
    with pytest.raises(InputError, match=r"worse.csv: row 2: id 'images/c.png' is not one of the 2 scored frames"):
        check(registry, tmp_path / "data", raw, tmp_path / "no_videos", cfg)
    # Before the first run made the prepared data, the format alone is checked.
    registry = _registry(tmp_path, {"good": GOOD, "bad": BAD})
    with pytest.raises(InputError, match=r"bad.csv: row 2: x is inf: a point needs finite numbers"):
        check(registry, tmp_path / "nothing_yet", raw, tmp_path / "no_videos", cfg)


def test_check_submissions_says_what_it_checked_and_refuses_a_json_in_a_csv_task_in_a_short_line(
        thermeval, tmp_path, monkeypatch, capsys):
    raw, prepared = thermeval
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"zeroshot": PARAMS["zeroshot"]}))
    unknown = GOOD.replace("images/a.png", "images/nowhere.png")
    _registry(tmp_path, {"mine": unknown})
    args = ["--prepared", str(tmp_path / "no_prepared_yet"), "--raw", str(raw)]
    check_main(args)  # a fresh clone: no prepared data, so the ids cannot be checked yet, and it says so
    assert capsys.readouterr().err == (
        "submissions.yaml: mine (thermeval_nose): format only: its ids and points are not checked yet (no prepared "
        "ThermEval; the DAG's validate_thermeval_nose checks them before any scoring)\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "thermeval").symlink_to(prepared)
    with pytest.raises(InputError, match=r"mine.csv: row 2: id 'images/nowhere.png' is not one of the 2 scored"):
        check_main(["--prepared", "data", "--raw", str(raw)])  # with the scored set on disk, the id is refused

    coco = [{"image_id": i, "category_id": 1, "keypoints": [1.0] * 204, "score": 0.9} for i in range(300)]
    (tmp_path / "submissions" / "coco.json").write_text(json.dumps(coco))
    registry = yaml.safe_load((tmp_path / "submissions.yaml").read_text())
    registry["submissions"] = {"coco": {"task": "thermeval_nose", "path": "submissions/coco.json"}}
    (tmp_path / "submissions.yaml").write_text(yaml.safe_dump(registry))
    before = _digest(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        publish.run_stage(lambda: check_main(args))
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "error: submissions/coco.json: a .json file where this task reads a CSV (COCO keypoint results are read for "
        "task landmarks68 only; the formats: submissions/README.md)\n")
    assert _digest(tmp_path) == before

    wide = "protocol,id,x,y," + ",".join(f"column_{i}_{'z' * 50}" for i in range(500)) + "\n"
    (tmp_path / "submissions" / "coco.json").unlink()
    _registry(tmp_path, {"wide": wide + "full_frame,images/a.png,1,2" + ",0" * 500 + "\n"})
    with pytest.raises(InputError) as wide_err:
        check_main(args)
    message = str(wide_err.value)
    assert len(message) < 450 and "\n" not in message and "and 495 more (expected protocol" in message
    assert message.startswith(f"submissions/wide.csv: unknown column(s) column_0_{'z' * 30}…, ")


def test_the_real_dag_and_makefile_check_before_any_scoring_stage():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    scoring = {"thermeval_nose": ["zeroshot_submissions"], "landmarks68": ["table1_submissions", "speed_submissions"],
               "breath_tracks": ["breath_track_submissions"]}
    for task, scorers in scoring.items():
        out = f"data/submissions/{task}.json"
        assert stages[f"validate_{task}"]["outs"] == [{out: {"persist": True}}]
        for name in scorers:
            assert out in stages[name]["deps"], name
    # each task's validation reads its own data only: the breath videos reach no zero-shot or Table I statement
    assert "data/raw/breath" not in stages["validate_landmarks68"]["deps"] + stages["validate_thermeval_nose"]["deps"]
    assert stages["validate_landmarks68"]["params"] == stages["validate_breath_tracks"]["params"] == [
        {"submissions.yaml": ["submissions", "builtin"]}]
    make = (ROOT / "Makefile").read_text()
    repro = (r"^repro: setup repair-lock check-submissions\n"
             r"\t\$\(PY\) -m thermbench.tools.pipeline.dvc_cli --warm --beside repro")
    assert re.search(repro, make, re.M)
    assert re.search(r"^check-submissions: setup\n\t\$\(PY\) -m thermbench.tools.submissions.check_submissions$",
                     make, re.M)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and not {".git", "tmp"} & set(p.relative_to(folder).parts[:2])}


def test_a_bad_entry_leaves_every_file_and_status_as_it_was(thermeval, tmp_path, monkeypatch):
    raw, prepared = thermeval
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "data").mkdir()
    (repo / "data" / "thermeval").symlink_to(prepared)
    (repo / "params.yaml").write_text(yaml.safe_dump({"zeroshot": PARAMS["zeroshot"]}))
    _registry(repo, {"good": GOOD})
    score = "import pathlib, sys; pathlib.Path('scored.txt').write_text(pathlib.Path(sys.argv[1]).read_text())"
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "validate_submissions": {
            "cmd": f"python {ROOT}/stages/zeroshot/validate_submissions.py --submissions submissions.yaml "
                   f"--prepared data/thermeval --raw {raw} --out validated.json",
            "deps": ["submissions", "data/thermeval"],
            "params": ["zeroshot", {"submissions.yaml": ["submissions", "builtin"]}],
            "outs": [{"validated.json": {"persist": True}}]},
        "score": {"cmd": f'python -c "{score}" submissions/good.csv', "deps": ["validated.json", "submissions"],
                  "outs": [{"scored.txt": {"cache": False}}]}}}))
    env = stage_env(ROOT)

    def run(*cmd):
        return subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True)

    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                [sys.executable, "-m", "dvc", "repro", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "scored"]):
        done = run(*cmd)
        assert done.returncode == 0, done.stderr
    assert (repo / "scored.txt").read_text() == GOOD

    _registry(repo, {"good": GOOD, "bad": BAD})  # the valid entry plus one file holding inf
    before = (_digest(repo), run("git", "status", "--porcelain").stdout,
              run(sys.executable, "-m", "dvc", "status").stdout)
    # what `make repro` runs first
    checked = run(sys.executable, "-m", "thermbench.tools.submissions.check_submissions", "--prepared", "data",
                  "--raw", str(raw))
    assert checked.returncode == 2
    assert checked.stderr == "error: submissions/bad.csv: row 2: x is inf: a point needs finite numbers\n"
    repro = run(sys.executable, "-m", "dvc", "repro", "-q")  # and `dvc repro` on its own stops at the check
    assert repro.returncode != 0 and "x is inf" in repro.stderr + repro.stdout
    after = (_digest(repo), run("git", "status", "--porcelain").stdout,
             run(sys.executable, "-m", "dvc", "status").stdout)
    assert after == before
    assert (repo / "scored.txt").read_text() == GOOD and (repo / "validated.json").is_file()
    # ... and nothing is published from results the submissions no longer give.
    assert stale_stages(repo) == ["score", "validate_submissions"]
    monkeypatch.chdir(repo)
    with pytest.raises(InputError, match=r"^dvc status: 2 stage\(s\) not up to date \(score, validate_submissions\)"):
        publish.main([str(tmp_path / "post")])
    assert not (tmp_path / "post").exists()
