"""Publish the report: `python -m thermbench.tools.publish DEST` (`make publish DEST=<dir>`).

Copies every figure (PNG and SVG) and markdown table under plots/ into DEST, keeping sub-folders, and writes
DEST/index.md, which embeds them with captions naming the dataset (real or SYNTHETIC, from params `data.source`),
the profile and the git commit. DEST is replaced as a whole, so an existing non-empty DEST that this command did
not write is refused rather than overwritten.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from thermbench.core.io import InputError, atomic_dir, write_text
from thermbench.core.plots import data_label
from thermbench.core.stage import load_params, section
from thermbench.core.stage import run as run_stage

MARKER = "<!-- written by `python -m thermbench.tools.publish`; replaced on every run -->"
FIGURE_EXTS = (".png", ".svg")


def git_commit(repo: Path = Path(".")) -> str:
    """Short HEAD hash, or "uncommitted" when the working tree differs from it (or there is no commit at all):
    the published numbers then come from code no commit holds."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    if head.returncode != 0 or dirty.returncode != 0 or dirty.stdout.strip():
        return "uncommitted"
    return head.stdout.strip()


def collect(plots_dir: Path) -> tuple[list[Path], list[Path]]:
    """(figure stems, tables), relative to `plots_dir`, sorted. A figure is a PNG and/or SVG sharing a stem."""
    if not plots_dir.is_dir():
        raise InputError(f"{plots_dir}: plots folder not found; run `dvc repro` first")
    files = sorted(p.relative_to(plots_dir) for p in plots_dir.rglob("*") if p.is_file())
    figures = sorted({p.with_suffix("") for p in files if p.suffix in FIGURE_EXTS})
    tables = [p for p in files if p.suffix == ".md"]
    if not figures and not tables:
        raise InputError(f"{plots_dir}: no figures (.png/.svg) or tables (.md) to publish; run `dvc repro` first")
    return figures, tables


def _title(rel: Path) -> str:
    return rel.with_suffix("").as_posix().replace("_", " ")


def index_markdown(figures: list[Path], tables: list[Path], plots_dir: Path, dataset: str, profile: str,
                   commit: str) -> str:
    context = f"dataset: {dataset}; profile: {profile}; commit: {commit}"
    lines = [MARKER, "", "# thermbench report", "", f"Generated from `plots/` ({context}).", ""]
    for i, stem in enumerate(figures, start=1):
        present = [p for p in (stem.with_suffix(".png"), stem.with_suffix(".svg")) if (plots_dir / p).is_file()]
        lines += [f"## Figure {i}: {_title(stem)}", "", f"![{_title(stem)}]({present[0].as_posix()})", ""]  # PNG first
        links = " · ".join(f"[{p.suffix[1:].upper()}]({p.as_posix()})" for p in present)
        lines += [f"*Figure {i}: {_title(stem)} ({context}). {links}*", ""]
    for i, table in enumerate(tables, start=1):
        body = (plots_dir / table).read_text().rstrip("\n")
        lines += [f"## Table {i}: {_title(table)}", "", body, "",
                  f"*Table {i}: {_title(table)} ({context}). [markdown]({table.as_posix()})*", ""]
    return "\n".join(lines)


def publish(plots_dir: Path, dest: Path, dataset: str, profile: str, commit: str) -> Path:
    """Copy the figures and tables into `dest` and write `dest/index.md`; return the index path."""
    if dest.exists() and any(dest.iterdir()):
        index = dest / "index.md"
        if not index.is_file() or not index.read_text().startswith(MARKER):
            raise InputError(f"{dest}: exists and was not written by thermbench.tools.publish; "
                             "choose an empty or new folder")
    figures, tables = collect(plots_dir)
    with atomic_dir(dest) as tmp:
        for stem in figures:
            for ext in FIGURE_EXTS:
                if (plots_dir / stem.with_suffix(ext)).is_file():
                    (tmp / stem).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(plots_dir / stem.with_suffix(ext), tmp / stem.with_suffix(ext))
        for table in tables:
            (tmp / table).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(plots_dir / table, tmp / table)
        write_text(tmp / "index.md", index_markdown(figures, tables, plots_dir, dataset, profile, commit))
    return dest / "index.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--plots", type=Path, default=Path("plots"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    params = load_params(args.params)
    index = publish(args.plots, args.dest, data_label(section(params, "data.source")), section(params, "profile"),
                    git_commit())
    print(f"published {index}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
