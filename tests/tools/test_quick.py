"""`make quick`'s copy (tools/pipeline/quick.py): the clone's working tree with its venv linked, a folder it made
replaced, any other refused in one line, and the clone left as it was."""

import subprocess
from pathlib import Path

import pytest

from thermbench.core.io import InputError
from thermbench.tools.pipeline.quick import MARK, default_dest, prepare


@pytest.fixture
def clone(tmp_path) -> Path:
    repo = tmp_path / "thermbench"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text("")
    (repo / "dvc.yaml").write_text("stages: {}\n")
    (repo / ".gitignore").write_text(".venv/\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    (repo / "notes.md").write_text("untracked, not ignored: copied too\n")
    return repo


def test_the_copy_holds_the_tree_and_links_the_venv(clone):
    dest = default_dest(clone)
    assert dest == clone.parent / "thermbench-quick"
    before = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout
    prepare(clone, dest)
    assert (dest / "dvc.yaml").read_text() == "stages: {}\n" and (dest / "notes.md").is_file()
    assert (dest / ".venv").is_symlink() and (dest / ".venv").resolve() == (clone / ".venv").resolve()
    assert (dest / MARK).is_file()
    after = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout
    assert after == before


def test_an_earlier_quick_copy_is_replaced_and_any_other_folder_refused(clone):
    dest = default_dest(clone)
    prepare(clone, dest)
    (dest / "stale.txt").write_text("from the earlier run")
    prepare(clone, dest)
    assert not (dest / "stale.txt").exists()
    other = clone.parent / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    with pytest.raises(InputError, match="exists and was not made by `make quick`"):
        prepare(clone, other)
    assert (other / "thesis.tex").read_text() == "keep me"
    with pytest.raises(InputError, match="is inside this clone"):
        prepare(clone, clone / "quick")


def test_a_clone_without_its_venv_is_refused(clone, tmp_path):
    (clone / ".venv" / "bin" / "python").unlink()
    with pytest.raises(InputError, match="run `make setup` first"):
        prepare(clone, tmp_path / "q")
