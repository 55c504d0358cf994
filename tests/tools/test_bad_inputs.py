"""Bad input through each tool: one line on stderr naming what is wrong (and, where something is missing, the
command that makes it), exit 2, nothing changed."""

import hashlib
import sys
from pathlib import Path

import pytest

from thermbench.core.stage import run
from thermbench.tools.pipeline import profiles
from thermbench.tools.publish import publish
from thermbench.tools.publish.post import Post
from thermbench.tools.submissions import check_submissions, submission

ROOT = Path(__file__).resolve().parents[2]


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(main, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        run(main)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err.removeprefix("error: ").rstrip("\n")


def test_a_broken_submissions_yaml_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "submissions.yaml").write_text("submissions: [oops\n")
    before = _digest(tmp_path)
    assert _refused(lambda: check_submissions.main([]), capsys) == (
        "submissions.yaml: not valid YAML (line 2): expected ',' or ']', but got '<stream end>'")
    assert _digest(tmp_path) == before


@pytest.mark.parametrize("assignment, message", [
    ("rtmpose.input_size=65", "'rtmpose.input_size' must be a positive multiple of 32 px, not 65"),
    ("rtmpose.input_size=-64", "'rtmpose.input_size' must be a positive multiple of 32 px, not -64"),
    ("rtmpose.input_size=0", "'rtmpose.input_size' must be a positive multiple of 32 px, not 0"),
    ("train.seeds=[]", "'train.seeds' is empty: at least one seed to train"),
    ("train.seeds=[0,0]", "'train.seeds' must be distinct whole numbers of at least 0, not [0, 0]"),
    ("train.seeds=[-1]", "'train.seeds' must be distinct whole numbers of at least 0, not [-1]"),
    ("train.workers=0", "'train.workers' must be a whole number of at least 1 or null, not 0"),
    ("train.run_threads=0", "'train.run_threads' must be a whole number of at least 1, not 0"),
    # the typed configs' range checks: a head, a schedule or a protocol no stage could run
    ("head.lr=-1", "'head.lr' must be a number above 0, not -1"),
    ("head.seeds=[]", "'head.seeds' is empty: at least one seed to train"),
    ("head.seeds=[1,1]", "'head.seeds' must be distinct whole numbers of at least 0, not [1, 1]"),
    ("head.weight_decay=-0.1", "'head.weight_decay' must be a number of at least 0, not -0.1"),
    ("head.epochs=0", "'head.epochs' must be a whole number of at least 1, not 0"),
    ("head.patience=0", "'head.patience' must be a whole number of at least 1 (validations) or null (no early "
                        "stop), not 0"),
    ("head.min_delta=1", "'head.min_delta' must be a number in [0, 1) (a relative improvement), not 1"),
    ("head.batch_size=0", "'head.batch_size' must be a whole number of at least 1, not 0"),
    ("head.warmup_epochs=120", "head.warmup_epochs 120 must be in 0..119 (fewer than the 120 epochs it runs)"),
    ("head.label_counts=[10,0]", "'head.label_counts' must list whole numbers of at least 1 (labelled train crops), "
                                 "not [10, 0]"),
    ("train.fit.epochs=0", "'train.fit.epochs' must be a whole number of at least 1, not 0"),
    ("train.fit.batch_size=0", "'train.fit.batch_size' must be a whole number of at least 1, not 0"),
    ("train.fit.patience=0", "'train.fit.patience' must be a whole number of at least 1 (validations) or null (no "
                             "early stop), not 0"),
    ("train.fit.optim.lr=0", "'train.fit.optim.lr' must be a number above 0, not 0"),
    ("train.fit.augment.flip_prob=2", "'train.fit.augment.flip_prob' must be a probability in [0, 1], not 2"),
    ("zeroshot.limit=-5", "'zeroshot.limit' must be a whole number of at least 0 (0: all), not -5"),
])
def test_make_profile_refuses_a_value_the_stages_would_refuse_before_writing(assignment, message, tmp_path, capsys,
                                                                                monkeypatch):
    monkeypatch.chdir(ROOT)  # the profiles live there; only --out is written
    out = tmp_path / "params.yaml"
    out.write_text("kept as it was\n")
    err = _refused(lambda: profiles.main(["default", "--set", assignment, "--out", str(out)]), capsys)
    assert err == (f"`{profiles.command('default', (assignment,))}`: {message}; "
                   f"{out} left as it was")
    assert out.read_text() == "kept as it was\n"


def test_make_profile_takes_a_value_in_range(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "params.yaml"
    sets = ("head.lr=0.001", "head.seeds=[7]", "train.fit.epochs=2", "zeroshot.limit=3", "head.warmup_epochs=5",
            "head.patience=null")
    profiles.main(["default", *(arg for a in sets for arg in ("--set", a)), "--out", str(out)])
    params = profiles.pyyaml.safe_load(out.read_text())
    assert (params["head"]["lr"], params["head"]["seeds"], params["train"]["fit"]["epochs"],
            params["zeroshot"]["limit"], params["head"]["warmup_epochs"], params["head"]["patience"]) == (
        0.001, [7], 2, 3, 5, None)


def test_every_profile_still_composes():
    for name in profiles.PROFILES:
        profiles.check_values(profiles.render(name, ROOT))


@pytest.mark.parametrize("argv, message", [
    (["thermeval_nose", "--out", "x.csv"],
     "thermeval_nose: name what to rewrite with --from (a zero-shot model's predictions, "
     "data/predictions/zeroshot/<model>.json)"),
    (["onnx", "--out", "d"], "onnx: name what to rewrite with --from (a student's folder under data/models, e.g. "
                             "data/models/ktl/dikd/ktl-dikd-seed0)"),
    (["ids", "--task", "thermeval_nose"],
     "data/prepared/thermeval: not made yet; `make repro TARGETS=\"prepare@thermeval\"` makes it (the current params)"),
    (["ids", "--task", "breath_tracks"],
     "data/raw/breath: not made yet; `make repro TARGETS=\"breath_videos\"` makes it (the current params)"),
    (["coco-gt", "--out", "gt.json"],
     "data/prepared/tfake, data/prepared/charlotte: not made yet; `make repro TARGETS=\"prepare@tfake "
     "prepare@charlotte\"` makes them (the current params)"),
])
def test_submission_names_the_missing_argument_or_the_command_that_makes_the_data(argv, message, tmp_path, capsys,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # a clone before its first `make repro`: no prepared data
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    before = _digest(tmp_path)
    monkeypatch.setattr(sys, "argv", ["submission", *argv])
    assert _refused(submission.main, capsys) == message
    assert _digest(tmp_path) == before


def test_publish_to_a_folder_it_cannot_write_names_that_folder():
    dest = Path("/proc/forbidden")  # no one may make a folder in /proc, root included
    with pytest.raises(publish.InputError) as err:
        publish.write_post(Post(provenance=None, sections=[]), dest)
    assert str(err.value).startswith(f"{dest}: cannot write the post there (")
    assert str(err.value).endswith("); choose a folder you can write") and ".tmp" not in str(err.value)
    assert not dest.exists()
