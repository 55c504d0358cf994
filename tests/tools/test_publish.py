"""Publishing: copies figures and tables, writes a captioned index, refuses foreign folders, reads the git state."""

import subprocess

import pytest

from thermbench.core.io import InputError
from thermbench.tools import publish


@pytest.fixture
def plots(tmp_path):
    root = tmp_path / "plots"
    (root / "zeroshot").mkdir(parents=True)
    (root / "speed_fps_vs_params.png").write_bytes(b"png")
    (root / "speed_fps_vs_params.svg").write_text("<svg/>")
    (root / "zeroshot/ced.svg").write_text("<svg/>")
    (root / "speed_table.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    (root / "curve.csv").write_text("x,y\n")  # data, not a figure or table: not published
    return root


def test_publish_copies_and_captions(plots, tmp_path):
    dest = tmp_path / "site"
    index = publish.publish(plots, dest, "SYNTHETIC data", "smoke", "abc1234")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "index.md", "speed_fps_vs_params.png", "speed_fps_vs_params.svg", "speed_table.md", "zeroshot/ced.svg"]
    text = index.read_text()
    assert text.startswith(publish.MARKER)
    context = "dataset: SYNTHETIC data; profile: smoke; commit: abc1234"
    assert "![speed fps vs params](speed_fps_vs_params.png)" in text
    assert (f"*Figure 1: speed fps vs params ({context}). [PNG](speed_fps_vs_params.png) · "
            "[SVG](speed_fps_vs_params.svg)*") in text
    assert "![zeroshot/ced](zeroshot/ced.svg)" in text  # SVG-only figure is embedded as SVG
    assert "| a | b |\n|---|---|\n| 1 | 2 |" in text
    assert f"*Table 1: speed table ({context}). [markdown](speed_table.md)*" in text

    # Publishing again replaces its own folder; a stale file from the previous run disappears.
    (plots / "zeroshot/ced.svg").unlink()
    publish.publish(plots, dest, "real data", "paper", "abc1234")
    assert not (dest / "zeroshot").exists() and "dataset: real data; profile: paper" in (dest / "index.md").read_text()


def test_publish_refuses_a_foreign_folder(plots, tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="was not written by thermbench.tools.publish"):
        publish.publish(plots, dest, "SYNTHETIC data", "smoke", "abc1234")
    assert (dest / "notes.txt").read_text() == "keep me"


def test_nothing_to_publish(tmp_path):
    (tmp_path / "plots").mkdir()
    with pytest.raises(InputError, match="no figures"):
        publish.collect(tmp_path / "plots")
    with pytest.raises(InputError, match="plots folder not found"):
        publish.collect(tmp_path / "missing")


def test_git_commit_clean_dirty_and_none(tmp_path):
    assert publish.git_commit(tmp_path) == "uncommitted"  # not a repository
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("1")
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert publish.git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("2")
    assert publish.git_commit(tmp_path) == "uncommitted"
