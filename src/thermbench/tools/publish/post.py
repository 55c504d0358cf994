"""The blog post as text: `build` reads plots/ and metrics/ into a `Post` following `post_catalog`, `render` writes it
as a Quarto document (`qmd`) or as plain Markdown (`md`). Pure but for reading those folders; no writes.

Layout of the post: front matter (title, date, description, categories, the listing image); one paragraph naming
the data; then one `##` section per part of the story, each led by its conclusions from `metrics/conclusions.json`
(one sentence each), then its figures and tables in catalog order, figures and tables numbered separately across
the post; a closing provenance section. Report headings sit one level below the section's (`##` -> `###`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from thermbench.breath.ranking import ESTIMATOR
from thermbench.core.io import InputError, read_json
from thermbench.core.plots import data_label
from thermbench.tools.publish.post_catalog import DATASETS, ITEMS, LEFT_OUT, SECTIONS, Item, Section

SOURCES = ("synthetic", "real")
FIGURE_EXTS = (".png", ".svg")  # embedded in this order of preference
TITLE = "Facial landmarks in thermal images: zero-shot models, a tiny finetuned head, MLCM-KD and breath rate"


@dataclass(frozen=True)
class Provenance:
    sources: dict[str, str]  # dataset -> "synthetic" | "real"
    profile: str
    commit: str | None  # short hash; None outside a git repository
    dirty: bool  # `git status --porcelain` lists changes
    date: str | None  # the commit's date, YYYY-MM-DD: the post's date, so one commit gives one post
    dest: str  # the DEST the post was published to, for the command that reproduces it


@dataclass(frozen=True)
class Block:
    kind: str  # "figure", "table" or "text"
    number: int  # per kind, in story order; 0 for text
    caption: str  # plain text (no Markdown), as a reader sees it
    heading: str = ""  # shown one level below the section; "" for none
    body: str = ""  # Markdown of a table or text block
    source: Path | None = None  # figures: the file under plots/ that is copied
    image: str = ""  # figures: its path inside the post


@dataclass
class Post:
    provenance: Provenance
    sections: list[tuple[Section, list[str], list[Block]]]
    notes: list[str] = field(default_factory=list)  # what the post could not place: one line each, for stderr

    @property
    def figures(self) -> list[Block]:
        return [b for _, _, blocks in self.sections for b in blocks if b.kind == "figure"]

    @property
    def tables(self) -> list[Block]:
        return [b for _, _, blocks in self.sections for b in blocks if b.kind == "table"]


def dataset_sources(source: str | dict) -> dict[str, str]:
    """params `data.source` -> {dataset: source}: one source for every dataset, or a mapping naming each."""
    if isinstance(source, str):
        sources = {name: source for name in DATASETS}
    elif isinstance(source, dict):
        missing = [name for name in DATASETS if name not in source]
        if missing:
            raise InputError(f"params.yaml: data.source names no source for {', '.join(missing)}")
        sources = {str(k): v for k, v in source.items()}
    else:
        raise InputError("params.yaml: data.source must be 'synthetic', 'real' or a mapping dataset -> source")
    for name, value in sources.items():
        if value not in SOURCES:
            raise InputError(f"params.yaml: 'data.source.{name}' must be 'synthetic' or 'real', not {value!r}")
    return sources


class Facts(dict):
    """Caption placeholders. `{a+b}` is the data label of datasets a and b: one label when they agree, else each
    dataset with its own. A missing placeholder is an InputError: its number comes from a metrics file not there."""

    def __missing__(self, key: str) -> str:
        names = key.split("+")
        if len(names) > 1 and all(n in DATASETS and n in self for n in names):
            labels = [self[n] for n in names]
            return labels[0] if len(set(labels)) == 1 else "; ".join(f"{DATASETS[n]}: {lab}"
                                                                     for n, lab in zip(names, labels))
        raise InputError(f"a caption needs '{key}', which comes from metrics/ (run `dvc repro` first)")


def read_facts(metrics_dir: Path, sources: dict[str, str]) -> Facts:
    facts = Facts({name: data_label(src) for name, src in sources.items()}, breath_estimator=ESTIMATOR)
    for path in sorted((metrics_dir / "datasets").glob("*.json")):
        for split, n in read_json(path).get("samples", {}).items():
            facts[f"{path.stem}_{split}"] = n
    rates = metrics_dir / "breath" / "rates.json"
    if rates.is_file():
        breath = read_json(rates)
        facts["breath_sequences"] = breath["sequences"]
        facts["breath_window_s"] = f"{breath['window_s']:g}"
    return facts


def split_parts(markdown: str) -> list[tuple[str, str]]:
    """A report's `##` parts as (heading, body); the text before the first `##` has heading "". Its `#` title is
    dropped: the post's section heading replaces it."""
    parts, heading, lines = [], "", []
    for line in markdown.splitlines():
        if line.startswith("## "):
            parts.append((heading, "\n".join(lines).strip()))
            heading, lines = line[3:].strip(), []
        elif not line.startswith("# "):
            lines.append(line)
    parts.append((heading, "\n".join(lines).strip()))
    return parts


def demote(markdown: str, levels: int = 1) -> str:
    """Push every ATX heading `levels` deeper (`### x` -> `#### x`), so report headings nest under the section."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + levels) + " ", markdown, flags=re.M)


def strip_images(markdown: str) -> str:
    """Drop a report's own image lines: their paths are relative to the report, and the post places and captions
    every figure itself."""
    return "\n".join(line for line in markdown.splitlines() if not re.fullmatch(r"\s*!\[[^\]]*\]\([^)]*\)\s*", line))


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def drop_restated(markdown: str, statements: list[str]) -> str:
    """Drop bullet lines that restate one of `statements` (they already lead the section), and the paragraph that
    introduced them when it ends with a colon."""
    known = {_sentence(s) for s in statements}
    kept: list[str] = []
    dropped = False
    for line in markdown.splitlines():
        if line.startswith("- ") and _sentence(line[2:]) in known:
            if not dropped:  # a lead-in paragraph "...:" directly above the first dropped bullet goes too
                while kept and not kept[-1].strip():
                    kept.pop()
                if kept and kept[-1].rstrip().endswith(":"):
                    while kept and kept[-1].strip():
                        kept.pop()
            dropped = True
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def escape(text: str) -> str:
    """Plain text -> Markdown that renders as that text (captions hold `*`, `_`, `<` and the like)."""
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


KINDS = ("Resolved", "Not resolved", "Calibration target, met", "Calibration target, not met")  # in post order


def verdict(statement: dict) -> str:
    """What `metrics/conclusions.json` says a statement is (one of KINDS): one with a `target` is a calibration target
    (a rule the synthetic scenes were chosen to meet), never a finding, however it came out."""
    if statement.get("target"):
        return KINDS[2] if statement["resolved"] else KINDS[3]
    return KINDS[0] if statement["resolved"] else KINDS[1]


def conclusion_sentences(statements: list[dict], reports: tuple[str, ...]) -> list[str]:
    """One sentence per statement of `reports`, led by its verdict (`verdict`), in the order of KINDS (file order
    within each)."""
    mine = sorted((s for s in statements if s["report"] in reports), key=lambda s: KINDS.index(verdict(s)))
    return [f"{verdict(s)}: {_sentence(s['text'])}" for s in mine]


def figure_file(plots_dir: Path, stem: str) -> Path | None:
    for ext in FIGURE_EXTS:
        if (plots_dir / f"{stem}{ext}").is_file():
            return plots_dir / f"{stem}{ext}"
    return None


def _named(heading: str, prefix: str) -> bool:
    """Does a catalog part name (`prefix`; "" = the text before the first heading) pick this heading?"""
    return heading == "" if prefix == "" else heading.startswith(prefix)


def find_part(parts: list[tuple[str, str]], prefix: str) -> tuple[str, str] | None:
    return next(((heading, body) for heading, body in parts if _named(heading, prefix)), None)


def _catalogued() -> tuple[set[str], set[tuple[str, str]]]:
    """The figure stems and (report, part prefix) pairs the catalog places or leaves out on purpose."""
    figures = {i.path for i in ITEMS if i.kind == "figure"} | {k for k in LEFT_OUT if isinstance(k, str)}
    parts = {(i.path, i.part) for i in ITEMS if i.kind in ("report", "text")}
    parts |= {key for key in LEFT_OUT if isinstance(key, tuple)}
    return figures, parts


def unplaced(plots_dir: Path) -> list[str]:
    """Figures, reports and report parts under `plots_dir` that the catalog neither places nor leaves out."""
    figures, parts = _catalogued()
    notes = []
    for path in sorted(p for p in plots_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(plots_dir).as_posix()
        if path.suffix in FIGURE_EXTS and rel[: -len(path.suffix)] not in figures:
            notes.append(f"not in the post (add it to tools/publish/post_catalog.py): plots/{rel}")
        elif path.suffix == ".md" and rel not in LEFT_OUT:
            for heading, body in split_parts(path.read_text()):
                known = any(r == rel and _named(heading, p) for r, p in parts)
                if body and not known:
                    notes.append(f"not in the post (add it to tools/publish/post_catalog.py): plots/{rel}, "
                                 f"part '{heading or '(before the first heading)'}'")
    return notes


def _statements(metrics_dir: Path) -> list[dict]:
    """The statements of `metrics_dir`/conclusions.json; without them the post would drop every verdict unseen, so a
    missing or unreadable file is an InputError."""
    path = metrics_dir / "conclusions.json"
    if not path.is_file():
        raise InputError(f"{path}: not found; the post leads each section with its statements (stage conclusions "
                         "writes it: `make repro`, or `git checkout` the committed one)")
    data = read_json(path)
    statements = data.get("statements") if isinstance(data, dict) else None
    if not isinstance(statements, list) or not all(
            isinstance(s, dict) and {"report", "text", "resolved"} <= set(s) for s in statements):
        raise InputError(f"{path}: expected `statements`, a list of {{report, text, resolved}}; re-run stage "
                         "conclusions (`make repro`)")
    return statements


def build(plots_dir: Path, metrics_dir: Path, provenance: Provenance) -> Post:
    """Read plots/ and metrics/ into the post. Missing folders are an InputError; a catalogued output that is not
    there is left out with a note (a partial `dvc repro` gives a partial post); no output at all is an InputError."""
    for folder, what in ((plots_dir, "plots"), (metrics_dir, "metrics")):
        if not folder.is_dir():
            raise InputError(f"{folder}: {what} folder not found; run `dvc repro` first")
    facts = read_facts(metrics_dir, provenance.sources)
    statements = _statements(metrics_dir)
    post = Post(provenance, [], unplaced(plots_dir))
    placed = {r for s in SECTIONS for r in s.reports}
    post.notes += [f"conclusion of report '{r}' belongs to no section of the post"
                   for r in sorted({s["report"] for s in statements} - placed)]
    numbers = {"figure": 0, "table": 0}
    from_plots = 0  # blocks read from plots/ (the datasets table is made from metrics/)
    for section in SECTIONS:
        sentences = conclusion_sentences(statements, section.reports)
        blocks = []
        for item in (i for i in ITEMS if i.section == section.key):
            block = _block(item, plots_dir, facts, provenance, [s["text"] for s in statements], numbers)
            if isinstance(block, str):
                post.notes.append(block)
            elif block is not None:
                blocks.append(block)
                from_plots += item.kind != "datasets"
        if blocks or sentences:
            post.sections.append((section, sentences, blocks))
    if not from_plots:
        raise InputError(f"{plots_dir}: none of the post's figures or tables is there; run `dvc repro` first")
    return post


def _block(item: Item, plots_dir: Path, facts: Facts, provenance: Provenance, statements: list[str],
           numbers: dict[str, int]) -> Block | str | None:
    """The item as a block; a note (str) when its output is missing; None when it does not apply to this data."""
    if item.synthetic_only and provenance.sources.get(item.synthetic_only) != "synthetic":
        return None
    if item.kind == "figure":
        source = figure_file(plots_dir, item.path)
        if source is None:
            return f"not in plots/ (left out of the post): {item.path}.png"
        numbers["figure"] += 1
        return Block("figure", numbers["figure"], item.caption.format_map(facts), source=source,
                     image=f"figures/{item.path.replace('/', '-')}{source.suffix}")
    if item.kind == "datasets":
        numbers["table"] += 1
        return Block("table", numbers["table"], item.caption.format_map(facts), body=datasets_table(facts, provenance))
    path = plots_dir / item.path
    if not path.is_file():
        return f"not in plots/ (left out of the post): {item.path}"
    found = find_part(split_parts(path.read_text()), item.part)
    if found is None:
        return f"plots/{item.path}: no part headed '{item.part}' (left out of the post)"
    heading, body = found
    body = drop_restated(strip_images(demote(body)), statements)
    if item.kind == "text":
        return Block("text", 0, "", heading=item.title or heading, body=body)
    if item.rows_optional and not has_table(body):  # no rows: no ONNX model entered, say
        return None
    numbers["table"] += 1
    return Block("table", numbers["table"], item.caption.format_map(facts), heading=item.title or heading,
                 body=body)


def has_table(body: str) -> bool:
    return any(line.startswith("|") for line in body.splitlines())


def datasets_table(facts: Facts, provenance: Provenance) -> str:
    """Each dataset's source and samples per split (breath: its sequences)."""
    lines = ["| Dataset | Source | Train | Val | Test |", "|---|---|---:|---:|---:|"]
    for name, title in DATASETS.items():
        if name == "breath":
            counts = ["–", "–", f"{facts['breath_sequences']} sequences" if "breath_sequences" in facts else "–"]
        else:
            counts = [str(facts.get(f"{name}_{split}", "–")) for split in ("train", "val", "test")]
        lines.append(f"| {title} | {provenance.sources[name]} | " + " | ".join(counts) + " |")
    return "\n".join(lines)


def data_summary(sources: dict[str, str]) -> str:
    """'SYNTHETIC data' when every dataset agrees, else each dataset with its label."""
    labels = {data_label(s) for s in sources.values()}
    if len(labels) == 1:
        return labels.pop()
    return ", ".join(f"{DATASETS.get(name, name)}: {data_label(src)}" for name, src in sources.items())


def provenance_lines(p: Provenance) -> list[str]:
    """Markdown bullet lines: the data of each dataset, the profile, the commit, the command that reproduces it."""
    commit = "no git commit" if p.commit is None else f"`{p.commit}`"
    if p.dirty:
        commit += " with uncommitted changes (not in that commit: commit them, then publish again)"
    steps = ["make repro", f"make publish DEST={p.dest}"]
    if p.commit is not None:
        steps.insert(0, f"git checkout {p.commit}")
    data = "; ".join(f"{DATASETS.get(name, name)}: {src}" for name, src in p.sources.items())
    return [f"- Data (params `data.source`): {data}.", f"- Profile: `{p.profile}`.", f"- Commit: {commit}.",
            f"- Reproduce: `{' && '.join(steps)}`."]


def front_matter(post: Post) -> str:
    p = post.provenance
    data = data_summary(p.sources)
    fields = {
        "title": TITLE,
        "date": p.date,
        "description": f"Every figure and table of the thermbench benchmark in the order of the story, on {data} "
                       f"(profile {p.profile}, commit {p.commit or 'none'}"
                       f"{', with uncommitted changes' if p.dirty else ''}).",
        "categories": ["thermal imaging", "facial landmarks", "knowledge distillation", "benchmark"]
                      + sorted({f"{s} data" for s in p.sources.values()}),
        "image": post.figures[0].image if post.figures else None,
    }
    # JSON strings and lists are valid YAML and need no hand quoting.
    return "\n".join(["---"] + [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()
                                if v is not None] + ["---"])


def _figure(block: Block, flavour: str) -> str:
    label = escape(f"Figure {block.number}: {block.caption}")
    if flavour == "qmd":  # an image alone in its paragraph: a figure whose caption is its text
        return f"![{label}]({block.image})"
    # Plain Markdown has no figure syntax: the caption is the line under the image (a backslash hard line break,
    # CommonMark), as readers see it in any generator.
    return f"![Figure {block.number}]({block.image})\\\n*{label}*"


def render(post: Post, flavour: str, marker: str) -> str:
    """The post as Quarto (`qmd`) or plain Markdown (`md`); `marker` (an HTML comment) follows the front matter."""
    data = data_summary(post.provenance.sources)
    out = [front_matter(post), "", marker, "",
           f"All numbers, figures and tables below come from one run of the thermbench pipeline on {data}; the "
           "provenance section at the end says which data, profile and commit, and how to reproduce it. "
           "Figures and tables are numbered in the order of the story.", ""]
    for section, sentences, blocks in post.sections:
        out += [f"## {section.title}", ""]
        if sentences:
            out += ["What the numbers say (`metrics/conclusions.json`):", ""] + [f"- {s}" for s in sentences] + [""]
        for block in blocks:
            if block.heading:
                out += [f"### {block.heading}", ""]
            if block.kind == "figure":
                out += [_figure(block, flavour), ""]
            elif block.kind == "table":
                out += [f"**Table {block.number}:** {escape(block.caption)}", "", block.body, ""]
            elif block.body:
                out += [block.body, ""]
    out += ["## Provenance", ""] + provenance_lines(post.provenance) + [""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "make publish runs it (python -m thermbench.tools.publish.publish)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
