"""The blog post as text: `build` reads plots/ and metrics/ into a `Post` following `post_catalog`, `render` writes its
two pages as Quarto documents (`qmd`) or as plain Markdown (`md`). Pure but for reading those folders; no writes.

The post (`index`) is a few screens long: front matter (title, date, description, categories, the listing image);
which data, the question; then one `##` section per part of the story that has a question in the catalog, each with
its key figures and tables (a report's first table only) and its findings from `metrics/conclusions.json`, one short
line each with its verdict; the answer (the verdicts counted per part); provenance. It links to the `appendix`.

The appendix holds everything: one `##` section per part of the story, each led by its statements in full (verdict,
sentence, id), then its figures and tables in catalog order; a closing provenance section. Figures and tables are
numbered separately on each page. Report headings sit one level below the section's (`##` -> `###`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from thermbench.breath.ranking import ESTIMATOR
from thermbench.core.io import InputError, read_json
from thermbench.core.plots import data_label
from thermbench.tools.publish.post_catalog import DATASETS, ITEMS, LEFT_OUT, QUESTION, SECTIONS, Item, Section

SOURCES = ("synthetic", "real")
FIGURE_EXTS = (".png", ".svg")  # embedded in this order of preference
TITLE = "Facial landmarks in thermal images: zero-shot models, a tiny finetuned head, MLCM-KD and breath rate"
FINDING_CHARS = 200  # a finding's line in the post: one line a reader takes in at a glance; in full in the appendix
STATEMENT_KEYS = ("id", "claim", "report", "text", "verdict", "resolved")  # what every statement carries


@dataclass(frozen=True)
class Provenance:
    sources: dict[str, str]  # dataset -> "synthetic" | "real"
    profile: str
    commit: str | None  # short hash; None outside a git repository
    dirty: bool  # `git status --porcelain` lists changes
    date: str | None  # the commit's date, YYYY-MM-DD: the post's date, so one commit gives one post
    dest: str  # DEST as the command that reproduces the post names it: never an absolute path (`reproducible_dest`)


@dataclass(frozen=True)
class Block:
    kind: str  # "figure", "table" or "text"
    number: int  # per kind, in story order; 0 for text
    caption: str  # plain text (no Markdown), as a reader sees it
    heading: str = ""  # shown one level below the section; "" for none
    body: str = ""  # Markdown of a table or text block
    source: Path | None = None  # figures: the file under plots/ that is copied
    image: str = ""  # figures: its path inside the post
    post: str = ""  # the section of the post (index) that shows it too; "" = the appendix only


@dataclass
class Page:
    """One page: its sections as (section, its statements from metrics/conclusions.json, its blocks)."""

    sections: list[tuple[Section, list[dict], list[Block]]]

    @property
    def figures(self) -> list[Block]:
        return [b for _, _, blocks in self.sections for b in blocks if b.kind == "figure"]

    @property
    def tables(self) -> list[Block]:
        return [b for _, _, blocks in self.sections for b in blocks if b.kind == "table"]


@dataclass
class Post:
    provenance: Provenance
    sections: list[tuple[Section, list[dict], list[Block]]]  # every section in full: the appendix
    notes: list[str] = field(default_factory=list)  # what the post could not place: one line each, for stderr


def reproducible_dest(dest: str) -> str:
    """DEST as the reproduce command names it: as given when it is a relative path below the working folder
    (posts/tb), else only the folder's name, since an absolute or `..` path names this machine's folders."""
    path = Path(dest)
    return dest if not path.is_absolute() and ".." not in path.parts else path.name


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


def section_statements(statements: list[dict], reports: tuple[str, ...]) -> list[dict]:
    """The statements of `reports`, in the order of KINDS (file order within each)."""
    return sorted((s for s in statements if s["report"] in reports), key=lambda s: KINDS.index(verdict(s)))


def statement_line(statement: dict) -> str:
    """A statement in full, as the appendix lists it: led by its verdict (`verdict`), its id after it."""
    return f"{verdict(statement)}: {_sentence(statement['text'])} (`{statement['id']}`)"


def short(x: float, sign: bool = True) -> str:
    """`x` to two significant digits, never in e-notation: a reader compares these by eye."""
    if x == 0:
        return "0"
    return f"{x:{'+' if sign else ''}.{max(0, 1 - math.floor(math.log10(abs(x))))}f}"


def delta(numbers: dict) -> str:
    """'Δ -0.0047 [-0.0089, -0.00057]': the difference a statement rests on and its interval (`mean`, `low`, `high`
    of its numbers); "" for a statement that rests on no single difference (a ranking, a floor)."""
    if not all(isinstance(numbers.get(k), (int, float)) for k in ("mean", "low", "high")):
        return ""
    return f"Δ {short(numbers['mean'])} [{short(numbers['low'])}, {short(numbers['high'])}]"


def short_why(statement: dict) -> str:
    """What stops a statement's verdict, its first clause only ("not kernel-checked"; the rest is in the appendix)."""
    return re.split(r" \(|; ", statement.get("why") or "", maxsplit=1)[0]


def clip(line: str, limit: int) -> str:
    """`line` cut at its last space before `limit`, an ellipsis marking the cut: a word or an escape stays whole."""
    return line if len(line) <= limit else line[:line.rfind(" ", 0, limit - 1)] + " …"


def finding(statement: dict) -> str:
    """A statement as one short Markdown line: its verdict in bold, its claim, the difference it rests on; then the
    direction it resolves, or what stops it and what this run alone saw (or could have seen: the minimum detectable
    effect at 80% power). At most FINDING_CHARS; `statement_line` is the statement in full."""
    numbers = statement.get("numbers") or {}
    outcome = [delta(numbers)]
    if statement["resolved"]:
        outcome.append(statement["verdict"])
    else:
        outcome.append(short_why(statement))
        if statement.get("resolved_here"):
            outcome.append(f"here {statement['verdict_here']}")
        elif isinstance(numbers.get("mde"), (int, float)):
            outcome.append(f"could have seen ≥ {short(numbers['mde'], sign=False)}")
    said = "; ".join(part for part in outcome if part)
    claim = statement["claim"][:1].upper() + statement["claim"][1:]
    return clip(f"- **{verdict(statement)}** — {escape(claim)}" + (f": {escape(said)}" if said else ""),
                FINDING_CHARS)


def tally(statements: list[dict]) -> str:
    """A section's verdicts counted: findings resolved of all, those that held in this run alone with what stops
    each (short), and calibration targets apart, since they are no findings."""
    findings = [s for s in statements if not s.get("target")]
    targets = [s for s in statements if s.get("target")]
    parts = []
    if findings:
        parts.append(f"{sum(s['resolved'] for s in findings)} of {len(findings)} findings resolved")
        held = Counter(short_why(s) for s in findings if s.get("resolved_here") and not s["resolved"])
        if held:
            parts.append(f"{sum(held.values())} more held in this run alone ("
                         + ", ".join(f"{n} {why}" if why else str(n) for why, n in held.most_common()) + ")")
    if targets:
        parts.append(f"{sum(s['resolved'] for s in targets)} of {len(targets)} calibration targets met")
    return "; ".join(parts)


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
            isinstance(s, dict) and set(STATEMENT_KEYS) <= set(s) for s in statements):
        raise InputError(f"{path}: expected `statements`, a list of {{{', '.join(STATEMENT_KEYS)}}}; re-run stage "
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
        mine = section_statements(statements, section.reports)
        blocks = []
        for item in (i for i in ITEMS if i.section == section.key):
            block = _block(item, plots_dir, facts, provenance, [s["text"] for s in statements], numbers)
            if isinstance(block, str):
                post.notes.append(block)
            elif block is not None:
                blocks.append(block)
                from_plots += item.kind != "datasets"
        if blocks or mine:
            post.sections.append((section, mine, blocks))
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
                     image=f"figures/{item.path.replace('/', '-')}{source.suffix}", post=item.post)
    if item.kind == "datasets":
        numbers["table"] += 1
        return Block("table", numbers["table"], item.caption.format_map(facts), body=datasets_table(facts, provenance),
                     post=item.post)
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
                 body=body, post=item.post)


def has_table(body: str) -> bool:
    return any(line.startswith("|") for line in body.splitlines())


def first_table(body: str) -> str:
    """The first Markdown table of a report part, without the prose and further tables around it; a part without a
    table (a report that had no rows to show) as it is, since its prose says so."""
    lines = body.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return body
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def story(post: Post) -> Page:
    """The post's own page: each section with a question in the catalog, its statements, and the blocks the catalog
    shows in it (wherever the appendix places them; a table cut to its first table), numbered afresh."""
    numbers = {"figure": 0, "table": 0}
    statements = {section.key: mine for section, mine, _ in post.sections}
    shown = [b for _, _, blocks in post.sections for b in blocks if b.post]
    sections = []
    for section in (s for s in SECTIONS if s.question):
        blocks = []
        for block in (b for b in shown if b.post == section.key):
            numbers[block.kind] += 1
            blocks.append(replace(block, number=numbers[block.kind],
                                  body=first_table(block.body) if block.kind == "table" else block.body))
        if blocks or statements.get(section.key):
            sections.append((section, statements.get(section.key, []), blocks))
    return Page(sections)


def pages(post: Post) -> dict[str, Page]:
    """The post's pages by file stem: the post itself, and the appendix holding every section in full."""
    return {"index": story(post), "appendix": Page(post.sections)}


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


def data_notice(sources: dict[str, str]) -> str:
    """The first thing each page says, as a quote: which datasets are synthetic, and that their numbers are no
    results on the real data; or that every dataset is real."""
    synthetic = [DATASETS.get(name, name) for name, src in sources.items() if src == "synthetic"]
    if not synthetic:
        return "> **Real data.** Every dataset of this post is the real one (params `data.source`)."
    which = ("Every dataset of this post is" if len(synthetic) == len(sources)
             else f"{', '.join(synthetic)} {'is' if len(synthetic) == 1 else 'are'}")
    return (f"> **SYNTHETIC data.** {which} synthetic: scenes this project renders offline in the real datasets' "
            "formats (params `data.source`). Their numbers exercise the whole pipeline against exact ground truth; "
            "they are not results on the real data.")


def front_matter(post: Post, page: Page, title: str, description: str) -> str:
    p = post.provenance
    fields = {
        "title": title,
        "date": p.date,
        "description": f"{description}, on {data_summary(p.sources)} (profile {p.profile}, commit "
                       f"{p.commit or 'none'}{', with uncommitted changes' if p.dirty else ''}).",
        "categories": ["thermal imaging", "facial landmarks", "knowledge distillation", "benchmark"]
                      + sorted({f"{s} data" for s in p.sources.values()}),
        "image": page.figures[0].image if page.figures else None,
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


def _blocks(blocks: list[Block], flavour: str, headings: bool) -> list[str]:
    out = []
    for block in blocks:
        if headings and block.heading:
            out += [f"### {block.heading}", ""]
        if block.kind == "figure":
            out += [_figure(block, flavour), ""]
        elif block.kind == "table":
            out += [f"**Table {block.number}:** {escape(block.caption)}", "", block.body, ""]
        elif block.body:
            out += [block.body, ""]
    return out


def render_index(post: Post, page: Page, flavour: str, marker: str) -> str:
    """The post itself: the question, each part's figures, tables and findings (one short line each), the answer."""
    appendix = f"[the appendix](appendix.{flavour})"
    out = [front_matter(post, page, TITLE, "The question, the key figures and every finding's verdict"), "",
           marker, "", data_notice(post.provenance.sources), "", QUESTION, "",
           "Each part below shows its key figure, then its findings from `metrics/conclusions.json`, one line each: "
           "**Resolved** where this run tells the two sides apart, **Not resolved** where it cannot, with what stops "
           "it and what it saw or could have seen (Δ: the difference, with its interval). Every figure, table and "
           f"statement in full: {appendix}.", ""]
    for section, statements, blocks in page.sections:
        out += [f"## {section.title}", "", section.question, ""] + _blocks(blocks, flavour, headings=False)
        if statements:
            out += ["Findings:", ""] + [finding(s) for s in statements] + [""]
    counted = [(section, statements) for section, statements, _ in post.sections if statements]
    out += ["## The answer", "", f"What this run on {data_summary(post.provenance.sources)} resolves, part by part:",
            ""] + [f"- **{section.title}**{'' if section.question else ' (appendix)'}: {tally(statements)}."
                   for section, statements in counted] + [
            "", f"Each statement in full, with its test and numbers, and every table of the run: {appendix}.", "",
            "## Provenance", ""] + provenance_lines(post.provenance) + [""]
    return "\n".join(out)


def render_appendix(post: Post, page: Page, flavour: str, marker: str) -> str:
    """Everything: every section, each led by its statements in full, with every figure and table of the catalog."""
    data = data_summary(post.provenance.sources)
    out = [front_matter(post, page, f"Appendix: {TITLE}", "Every figure, table and statement behind the post"), "",
           marker, "", data_notice(post.provenance.sources), "",
           f"The appendix of [the post](index.{flavour}): every figure, table and statement of one run of the "
           f"thermbench pipeline on {data}; the provenance section at the end says which data, profile and commit, "
           "and how to reproduce it. Figures and tables are numbered in the order of the story.", ""]
    for section, statements, blocks in page.sections:
        out += [f"## {section.title}", ""]
        if statements:
            out += ["What the numbers say (`metrics/conclusions.json`):", ""]
            out += [f"- {statement_line(s)}" for s in statements] + [""]
        out += _blocks(blocks, flavour, headings=True)
    out += ["## Provenance", ""] + provenance_lines(post.provenance) + [""]
    return "\n".join(out)


def render(post: Post, flavour: str, marker: str) -> dict[str, str]:
    """Both pages as Quarto (`qmd`) or plain Markdown (`md`), by file stem; `marker` (an HTML comment) follows each
    front matter. Their links to each other name the file of the same flavour beside them."""
    by_stem = pages(post)
    return {"index": render_index(post, by_stem["index"], flavour, marker),
            "appendix": render_appendix(post, by_stem["appendix"], flavour, marker)}


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "make publish runs it (python -m thermbench.tools.publish.publish)", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
