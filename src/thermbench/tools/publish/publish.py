"""Publish the results as a blog post: `python -m thermbench.tools.publish.publish DEST` (`make publish DEST=<dir>`).

DEST becomes a post folder a Quarto blog takes as it is (drop it into `posts/`):

    DEST/index.qmd             front matter (title, date, description, categories, listing image) + the post: a few
                               screens, the question, the key figures and each finding's verdict in one line
    DEST/appendix.qmd          every figure, table and statement in full; the post links to it, and it back
    DEST/figures/*.png         the figures they embed
    DEST/_markdown/            both pages as plain Markdown (index.md, appendix.md), with their own figures/ (Hugo
                               page bundle, Jekyll, pandoc); Quarto skips folders whose name starts with "_", so they
                               are no second post

The story, captions and order are `thermbench.tools.publish.post_catalog`; the text is `thermbench.tools.publish.post`.
No page names a folder of this machine: the reproduce command names DEST as given when it is relative, else by its
folder's name.
DEST is replaced as a whole, so an existing non-empty DEST that this command did not write is refused, not overwritten.
While a stage is not up to date (a changed code file, param, command or submission not yet re-made, or a stage
downstream of one), nothing is published: the refusal names every stale stage. Outputs a fresh clone has not checked
out are no staleness: the committed plots/ and metrics/ match dvc.lock, so a fresh clone publishes.
What the post cannot place (a figure missing from plots/, a new figure the catalog does not know) is named on
stderr, one line each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from thermbench.core.io import InputError, atomic_dir, write_text
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage
from thermbench.tools.publish.post import Post, Provenance, build, dataset_sources, pages, render, reproducible_dest

MARKER = "<!-- written by `python -m thermbench.tools.publish.publish`; replaced on every run -->"
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


def _not_checked_out(path: Path) -> bool:
    """Nothing of a DVC-tracked path is here but the .gitignore files DVC commits beside its outputs (a fresh clone,
    or a clone whose cache was never pulled)."""
    if path.is_dir():
        return all(f.name == ".gitignore" for f in path.rglob("*") if not f.is_dir())
    return not path.exists()


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def stale_stages(repo: Path = Path(".")) -> list[str]:
    """The stages whose committed results the code, params or submissions would now make differently: DVC's status
    of each stage (`Repo.status`) counting a changed command, a changed param, a changed dep that no stage makes
    (code, submissions, source data) or an output or made dep that is here and differs from dvc.lock; then every
    stage downstream of one. An output or made dep that is only not checked out (a fresh clone: "not in cache",
    "deleted", a folder holding only .gitignore) is not staleness: the committed metrics and plots still match
    dvc.lock. None outside a DVC project."""
    if not (repo / "dvc.yaml").is_file():
        return []
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    def changed(path: str, state, outputs: dict) -> bool:
        if isinstance(state, dict):  # a params file: {key: state}
            return True
        if not any(_overlaps(path, out) for out in outputs):
            return True  # code, a submission, source data
        if _not_checked_out(repo / path):
            return False
        # here but not in the cache (a cleared or never-filled cache): stale only where it differs from dvc.lock
        return state != "not in cache" or path not in outputs or bool(outputs[path].workspace_status())

    try:
        with Repo(str(repo)) as project:
            outputs = {str(o): o for s in project.index.stages for o in s.outs}
            stages = {s.name: ([str(d) for d in s.deps], [str(o) for o in s.outs]) for s in project.index.stages}
            names = {s.addressing: s.name for s in project.index.stages}  # addressing: relative to the cwd
            stale = {names[stage] for stage, entries in project.status().items()
                     if any(isinstance(entry, str) or any(changed(path, state, outputs) for part in entry.values()
                                                          for path, state in part.items()) for entry in entries)}
    except DvcException as err:
        raise InputError(f"dvc status failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    grown = True
    while grown:  # downstream of a stale stage: it reads what that stage would now make differently
        made_stale = [out for s in stale for out in stages[s][1]]
        more = {s for s, (deps, _) in stages.items() if s not in stale
                and any(_overlaps(d, out) for d in deps for out in made_stale)}
        grown = bool(more)
        stale |= more
    return sorted(stale)


def _refuse_foreign(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: exists and is not a folder; choose a new or empty folder for the post")
    if dest.is_dir() and any(dest.iterdir()):
        index = dest / "index.qmd"
        if not index.is_file() or MARKER not in index.read_text():
            raise InputError(f"{dest}: exists and was not written by thermbench.tools.publish.publish; "
                             "choose an empty or new folder")


def write_post(post: Post, dest: Path) -> Path:
    """Write the post folder (see the module docstring); return the path of index.qmd."""
    _refuse_foreign(dest)
    try:
        with atomic_dir(dest) as tmp:
            figures = {b.image: b.source for page in pages(post).values() for b in page.figures}
            for folder, flavour in ((tmp, "qmd"), (tmp / MARKDOWN_DIR, "md")):
                for image, source in figures.items():
                    (folder / image).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, folder / image)
                for stem, text in render(post, flavour, MARKER).items():
                    write_text(folder / f"{stem}.{flavour}", text)
    except OSError as err:  # its file name is a temporary one inside DEST's parent: name the folder asked for
        raise InputError(f"{dest}: cannot write the post there ({err.strerror or err}); choose a folder you can "
                         "write") from None
    return dest / "index.qmd"


def publish(plots_dir: Path, metrics_dir: Path, dest: Path, provenance: Provenance) -> Post:
    post = build(plots_dir, metrics_dir, provenance)
    write_post(post, dest)
    return post


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        raise InputError(f"dvc status: {len(stale)} stage(s) not up to date ({', '.join(stale)}): the post would "
                         "show results the code, params or submissions no longer give; run `make repro` first")
    params = load_params(args.params)
    commit, date, dirty = git_state(Path("."), exclude=dest)
    provenance = Provenance(dataset_sources(section(params, "data.source")), section(params, "profile"), commit,
                            dirty, date, reproducible_dest(args.dest))
    post = publish(args.plots, args.metrics, dest, provenance)
    for note in post.notes:
        print(note, file=sys.stderr)
    by_stem = pages(post)
    index, appendix = by_stem["index"], by_stem["appendix"]
    print(f"published {dest / 'index.qmd'} ({len(index.figures)} figures, {len(index.tables)} tables; every one of "
          f"the {len(appendix.figures)} figures and {len(appendix.tables)} tables in {dest / 'appendix.qmd'}; plain "
          f"Markdown in {dest / MARKDOWN_DIR}/)", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
