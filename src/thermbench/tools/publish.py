"""Publish the results as a blog post: `python -m thermbench.tools.publish DEST` (`make publish DEST=<dir>`).

DEST becomes a post folder a Quarto blog takes as it is (drop it into `posts/`):

    DEST/index.qmd             front matter (title, date, description, categories, listing image) + the post
    DEST/figures/*.png         the figures it embeds
    DEST/_markdown/index.md    the same post as plain Markdown, with its own figures/ (Hugo page bundle, Jekyll,
                               pandoc); Quarto skips folders whose name starts with "_", so it is not a second post

The story, captions and order are `thermbench.tools.post_catalog`; the text is `thermbench.tools.post`. DEST is
replaced as a whole, so an existing non-empty DEST that this command did not write is refused, not overwritten.
While `dvc status` lists a stage as not up to date (a changed file, param or submission not yet re-made), nothing is
published: the refusal names the stale stages.
What the post cannot place (a figure missing from plots/, a new figure the catalog does not know) is named on
stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from thermbench.core.io import InputError, atomic_dir, write_text
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.tools.post import Post, Provenance, build, dataset_sources, render

MARKER = "<!-- written by `python -m thermbench.tools.publish`; replaced on every run -->"
MARKDOWN_DIR = "_markdown"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def git_state(repo: Path = Path("."), exclude: Path | None = None) -> tuple[str | None, str | None, bool]:
    """(short HEAD hash, its commit date YYYY-MM-DD, whether the working tree has changes); (None, None, True)
    outside a repository or before the first commit. `exclude`: a path inside the repository not to count as a
    change (the post folder itself, when it is published inside the repository)."""
    head = _git(repo, "log", "-1", "--format=%h %cs")
    if head.returncode != 0 or not head.stdout.strip():
        return None, None, True
    commit, date = head.stdout.split()
    pathspec = ["--", "."]
    if exclude is not None:
        top = Path(_git(repo, "rev-parse", "--show-toplevel").stdout.strip()).resolve()
        if exclude.resolve().is_relative_to(top):
            pathspec.append(f":(exclude,top){exclude.resolve().relative_to(top).as_posix()}")
    status = _git(repo, "status", "--porcelain", *pathspec)
    return commit, date, status.returncode != 0 or bool(status.stdout.strip())


def stale_stages(repo: Path = Path(".")) -> list[str]:
    """The stages `dvc status` reports as not up to date in `repo` (none outside a DVC project). An output under
    data/ that is only not checked out (a fresh clone) is not staleness: the committed results still match dvc.lock."""
    if not (repo / "dvc.yaml").is_file():
        return []
    done = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"dvc status failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    stale = []
    for stage, changes in json.loads(done.stdout or "{}").items():
        absent = [c for c in changes if isinstance(c, dict) and set(c) == {"changed outs"}
                  and all(v == "deleted" and k.startswith("data/") for k, v in c["changed outs"].items())]
        if len(absent) < len(changes):
            stale.append(stage)
    return sorted(stale)


def _refuse_foreign(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: exists and is not a folder; choose a new or empty folder for the post")
    if dest.is_dir() and any(dest.iterdir()):
        index = dest / "index.qmd"
        if not index.is_file() or MARKER not in index.read_text():
            raise InputError(f"{dest}: exists and was not written by thermbench.tools.publish; "
                             "choose an empty or new folder")


def write_post(post: Post, dest: Path) -> Path:
    """Write the post folder (see the module docstring); return the path of index.qmd."""
    _refuse_foreign(dest)
    with atomic_dir(dest) as tmp:
        for folder, name, flavour in ((tmp, "index.qmd", "qmd"), (tmp / MARKDOWN_DIR, "index.md", "md")):
            for figure in post.figures:
                (folder / figure.image).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(figure.source, folder / figure.image)
            write_text(folder / name, render(post, flavour, MARKER))
    return dest / "index.qmd"


def publish(plots_dir: Path, metrics_dir: Path, dest: Path, provenance: Provenance) -> Post:
    post = build(plots_dir, metrics_dir, provenance)
    write_post(post, dest)
    return post


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="the post folder to write (replaced if this command wrote it)")
    parser.add_argument("--plots", type=Path, default=Path("plots"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    if not args.dest.strip():
        raise InputError("DEST is empty: name the post folder, e.g. `make publish DEST=posts/thermbench`")
    dest = Path(args.dest)
    stale = stale_stages()
    if stale:
        raise InputError(f"dvc status: {len(stale)} stage(s) not up to date ({', '.join(stale[:6])}"
                         f"{', ...' if len(stale) > 6 else ''}): the post would show results the code, params or "
                         "submissions no longer give; run `make repro` first")
    params = load_params(args.params)
    commit, date, dirty = git_state(Path("."), exclude=dest)
    provenance = Provenance(dataset_sources(section(params, "data.source")), section(params, "profile"), commit,
                            dirty, date, args.dest)
    post = publish(args.plots, args.metrics, dest, provenance)
    for note in post.notes:
        print(note, file=sys.stderr)
    print(f"published {dest / 'index.qmd'} ({len(post.figures)} figures, {len(post.tables)} tables; "
          f"plain Markdown in {dest / MARKDOWN_DIR / 'index.md'})", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
