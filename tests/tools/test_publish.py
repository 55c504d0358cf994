"""Publishing: the post's story order, numbering, captions, heading levels, conclusions, provenance and front
matter, on tiny hand-made plots/ and metrics/ folders; the shape of the post on the committed results (a few screens,
a handful of figures and tables, one line per finding) and its appendix (everything); the post folder it writes, with
no path of this machine in it; the git state it reports."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thermbench.core.io import InputError
from thermbench.tools.publish import post as post_mod
from thermbench.tools.publish import publish
from thermbench.tools.publish.post import Page, Provenance, pages
from thermbench.tools.publish.post_catalog import ITEMS, SECTIONS

REPO = Path(__file__).resolve().parents[2]
SYNTH = {"thermeval": "synthetic", "tfake": "synthetic", "charlotte": "synthetic", "breath": "synthetic"}
PROV = Provenance(SYNTH, "smoke", "abc1234", False, "2026-11-23", "posts/tb")

ZEROSHOT_MD = """# Zero-shot nose localisation (SYNTHETIC data)

## Full frame, multi-person (frame px)

| Model | PCK |
|---|---|
| dlib | 4% |

### A note under the table

Fine print.
"""

HEAD_MD = """# TinyHead (SYNTHETIC data)

| Metric | TinyHead |
|---|---|
| PCK@10px | 55% |

## Conclusions

- TinyHead vs dlib68: not resolved (few crops).

## Training curves

Two stages, or more:

- Seed 0: three phases.

![training](training.png)

## Notes

- Units differ.
"""

BREATH_MD = """Breath rate (SYNTHETIC data)

| source | MAE |
|---|---|
| oracle | 2.8 |

Conclusions (95% interval, CPU kernels checked: none):

- Sources by far-scene MAE: not resolved (did not converge).
"""

LEADERBOARD_MD = """# Leaderboards (SYNTHETIC data)

Every model, ranked.

## ThermEval nose (thermeval_nose)

full-frame PCK@10px, higher is better.

| rank | model |
|---|---|
| 1 | dlib68 |

Not resolved (1 pairs): dlib68 vs mediapipe.
"""


def _statement(id_, report, claim, text, verdict, resolved, **rest):
    return {"id": id_, "report": report, "claim": claim, "text": text, "verdict": verdict, "resolved": resolved,
            **rest}


STATEMENTS = [
    _statement("head.vs_dlib68", "head", "TinyHead vs dlib68", "TinyHead vs dlib68: not resolved (few crops)",
               "not resolved", False, why="few crops (16 of 80)",
               numbers={"mean": 6.178, "low": 3.31, "high": 9.18, "mde": 4.176}),
    _statement("breath.far", "breath", "sources by far-scene MAE",
               "sources by far-scene MAE: not resolved (did not converge)", "not resolved", False,
               why="did not converge"),
    _statement("breath.oracle", "breath", "oracle vs whole face", "oracle < whole face (-8.4 [-9, -7])",
               "oracle < whole face", True, numbers={"mean": -8.4, "low": -9.0, "high": -7.0}),
    _statement("mlcmkd.teacher", "mlcmkd", "teacher check", "teacher check missed (ratio 0.86, target <= 0.6)",
               "missed", True),
    _statement("zeroshot.part3", "zeroshot", "blog part 3: A vs B", "blog part 3: A > B (p = 0.04)", "A > B", True,
               target="A above B"),
    _statement("boards.nose.dlib68_vs_mediapipe", "boards", "dlib68 vs mediapipe (PCK@10px)",
               "dlib68 vs mediapipe (PCK@10px): not resolved (not kernel-checked) (here dlib68 > mediapipe)",
               "not resolved", False, resolved_here=True, verdict_here="dlib68 > mediapipe",
               why="not kernel-checked (no check made for these params)"),
]


@pytest.fixture
def repo_out(tmp_path):
    """plots/ with a few catalogued outputs (and one the catalog does not know), metrics/ with what captions need."""
    plots, metrics = tmp_path / "plots", tmp_path / "metrics"
    for rel, content in {"synth_examples.png": b"png", "zeroshot_pck.svg": b"<svg/>", "extra_figure.png": b"png",
                         "breath/figures/signals.png": b"png", "breath/figures/signals.svg": b"<svg/>"}.items():
        (plots / rel).parent.mkdir(parents=True, exist_ok=True)
        (plots / rel).write_bytes(content)
    (plots / "zeroshot_table.md").write_text(ZEROSHOT_MD)
    (plots / "head").mkdir()
    (plots / "head/report.md").write_text(HEAD_MD)
    (plots / "breath/figures/summary.md").write_text(BREATH_MD)
    (plots / "leaderboard.md").write_text(LEADERBOARD_MD)
    (plots / "conclusions.md").write_text("# Conclusions\n\n| a |\n|---|\n| 1 |\n")  # left out on purpose
    (metrics / "datasets").mkdir(parents=True)
    (metrics / "breath").mkdir()
    for name, samples in (("thermeval", {"train": 40, "val": 15, "test": 80, "unused": 86}),
                          ("tfake", {"train": 400, "val": 100, "test": 100}), ("charlotte", {"test": 420})):
        (metrics / "datasets" / f"{name}.json").write_text(json.dumps({"samples": samples}))
    (metrics / "breath/rates.json").write_text(json.dumps({"sequences": 7, "window_s": 30.0}))
    (metrics / "conclusions.json").write_text(json.dumps({"statements": STATEMENTS}))
    return plots, metrics


def test_story_order_numbering_and_captions(repo_out):
    plots, metrics = repo_out
    post = post_mod.build(plots, metrics, PROV)
    appendix = Page(post.sections)
    assert [s.key for s, _, _ in post.sections] == ["data", "zeroshot", "finetune", "mlcmkd", "breath", "leaderboard"]
    # Figures numbered across the page in story order; an SVG-only figure is embedded as SVG; files are flattened.
    assert [(b.number, b.image) for b in appendix.figures] == [
        (1, "figures/synth_examples.png"), (2, "figures/zeroshot_pck.svg"), (3, "figures/breath-figures-signals.png")]
    assert [b.number for b in appendix.tables] == [1, 2, 3, 4, 5]
    # Captions come from the catalog with the metrics filled in, never from the file name.
    t1, t2, t3, t4, t5 = appendix.tables
    assert t1.caption.startswith("Where each dataset of this post comes from")
    assert t2.caption.startswith("Zero-shot nose localisation on the full ThermEval-D test frames")
    assert "chosen on the 15 validation crops" in t3.caption and "on the 80 ThermEval-D test crops" in t3.caption
    assert t4.caption.startswith("Breath rate from each landmark source's nostril ROI on 7 sequences, 30 s windows")
    assert t5.caption.startswith("ThermEval nose: every built-in and submitted model") and "a rank range" in t5.caption
    assert all(b.caption.endswith("(SYNTHETIC data).") for b in appendix.figures[1:] + appendix.tables[1:])
    # Report headings one level below the section; the report's own title and image lines dropped.
    assert t2.heading == "Full frame, multi-person (frame px)"
    assert t2.body == "| Model | PCK |\n|---|---|\n| dlib | 4% |\n\n#### A note under the table\n\nFine print."
    curves = next(b for _, _, blocks in post.sections for b in blocks if b.heading == "Training curves")
    assert curves.kind == "text" and curves.body == "Two stages, or more:\n\n- Seed 0: three phases."
    # A statement already leading the section is not repeated in its report, nor is the "...:" line above it.
    assert t4.body == "Breath rate (SYNTHETIC data)\n\n| source | MAE |\n|---|---|\n| oracle | 2.8 |"
    # What the catalog knows but plots/ lacks, and what plots/ has but the catalog lacks, is named.
    assert "not in plots/ (left out of the post): zeroshot_detection.png" in post.notes
    assert "plots/head/report.md: no part headed 'Convergence' (left out of the post)" in post.notes
    assert "not in the post (add it to tools/publish/post_catalog.py): plots/extra_figure.png" in post.notes
    assert not any("conclusions.md" in n for n in post.notes)


def test_the_post_shows_what_the_catalog_puts_in_it_numbered_afresh(repo_out):
    """The post (index) holds the sections with a question, the blocks the catalog shows in each (a leaderboard table
    in the zero-shot part, though the appendix places it last), a report's first table only, numbered afresh."""
    index = pages(post_mod.build(*repo_out, PROV))["index"]
    assert [s.key for s, _, _ in index.sections] == ["data", "zeroshot", "finetune", "mlcmkd", "breath"]
    assert [(b.number, b.image) for b in index.figures] == [
        (1, "figures/synth_examples.png"), (2, "figures/zeroshot_pck.svg")]
    assert [(b.number, b.caption[:14]) for b in index.tables] == [(1, "Where each dat"), (2, "ThermEval nose")]
    assert index.tables[1].body == "| rank | model |\n|---|---|\n| 1 | dlib68 |"
    assert [b.kind for _, _, blocks in index.sections for b in blocks] == ["table", "figure", "figure", "table"]


def test_conclusions_lead_each_section_resolved_first(repo_out):
    post = post_mod.build(*repo_out, PROV)
    lines = {s.key: [post_mod.statement_line(x) for x in statements] for s, statements, _ in post.sections}
    assert lines["breath"] == ["Resolved: Oracle < whole face (-8.4 [-9, -7]). (`breath.oracle`)",
                               "Not resolved: Sources by far-scene MAE: not resolved (did not converge). "
                               "(`breath.far`)"]
    assert lines["finetune"] == ["Not resolved: TinyHead vs dlib68: not resolved (few crops). (`head.vs_dlib68`)"]
    assert lines["mlcmkd"] == ["Resolved: Teacher check missed (ratio 0.86, target <= 0.6). (`mlcmkd.teacher`)"]
    assert lines["zeroshot"] == ["Calibration target, met: Blog part 3: A > B (p = 0.04). (`zeroshot.part3`)"]
    assert lines["data"] == []


def test_findings_one_short_line_each(repo_out):
    """The post's findings: the verdict in bold, the claim, a short form of the numbers; what stops a verdict and what
    the run saw or could have seen; a calibration target never called resolved. The answer counts them per part."""
    qmd = post_mod.render(post_mod.build(*repo_out, PROV), "qmd", publish.MARKER)["index"]
    assert [line for line in qmd.splitlines() if line.startswith("- **") and " — " in line] == [
        r"- **Calibration target, met** — Blog part 3: A vs B: A \> B",
        r"- **Not resolved** — TinyHead vs dlib68: Δ +6.2 \[+3.3, +9.2\]; few crops; could have seen ≥ 4.2",
        r"- **Resolved** — Teacher check: missed",
        r"- **Resolved** — Oracle vs whole face: Δ -8.4 \[-9.0, -7.0\]; oracle \< whole face",
        r"- **Not resolved** — Sources by far-scene MAE: did not converge",
    ]
    answer = qmd.split("## The answer")[1].split("## Provenance")[0]
    assert [line for line in answer.splitlines() if line.startswith("- ")] == [
        "- **Zero-shot bake-off (blog parts 1 and 3)**: 1 of 1 calibration targets met.",
        "- **A tiny head on a frozen backbone (blog part 2)**: 0 of 1 findings resolved.",
        "- **MLCM-KD: RGB-to-thermal distillation, then compression**: 1 of 1 findings resolved.",
        "- **Breath rate from the nostril landmarks**: 1 of 2 findings resolved.",
        "- **Leaderboard per task** (appendix): 0 of 1 findings resolved; 1 more held in this run alone "
        "(1 not kernel-checked).",
    ]
    assert "dlib68 vs mediapipe" not in qmd.split("## The answer")[0]  # the leaderboard's statements: appendix only


def test_finding_helpers():
    assert [post_mod.short(x) for x in (-0.004018, 0.0003644, 6.178, 123.4, 0.0, -7.658e-05)] == [
        "-0.0040", "+0.00036", "+6.2", "+123", "0", "-0.000077"]
    assert post_mod.short(0.00297, sign=False) == "0.0030"
    assert post_mod.delta({"mean": -0.5, "low": -1, "high": 0.25, "mde": 1}) == "Δ -0.50 [-1.0, +0.25]"
    assert post_mod.delta({"floor": {"mean": 1.7}}) == ""
    assert post_mod.short_why({"why": "not kernel-checked (conclusions/kernel_check.json holds none)"}) == (
        "not kernel-checked")
    assert post_mod.short_why({"why": "Holm-adjusted p 0.598 >= 0.05; the bootstrap interval includes 0"}) == (
        "Holm-adjusted p 0.598 >= 0.05")
    assert post_mod.clip("a bb ccc dddd", 9) == "a bb …" and post_mod.clip("a bb", 9) == "a bb"
    assert post_mod.first_table("Intro.\n\n| a |\n|---|\n| 1 |\n\nNote.\n\n| b |\n|---|") == "| a |\n|---|\n| 1 |"
    assert post_mod.first_table("No rows.") == "No rows."
    held = _statement("x", "breath", "trained sources by near-scene MAE (ridge, lower first)", "t", "not resolved",
                      False, resolved_here=True, why="not kernel-checked (none)",
                      verdict_here="; ".join(f"source_{i} < dlib_hog, fixed_roi, whole_face" for i in range(9)))
    line = post_mod.finding(held)
    assert len(line) <= post_mod.FINDING_CHARS and line.endswith(" …") and "\n" not in line
    assert line.startswith(r"- **Not resolved** — Trained sources by near-scene MAE (ridge, lower first): not "
                           r"kernel-checked; here source\_0 \< dlib\_hog")


def test_the_committed_post_states_what_the_committed_conclusions_state(tmp_path):
    """The appendix built from the committed plots/ and metrics/ states every statement of metrics/conclusions.json
    in full with its id, under its verdict: a calibration target is never called resolved, nothing is dropped or
    added. The post gives each statement of its parts one finding line under the same verdict."""
    statements = json.loads((REPO / "metrics/conclusions.json").read_text())["statements"]
    post = post_mod.build(REPO / "plots", REPO / "metrics", PROV)
    rendered = post_mod.render(post, "qmd", publish.MARKER)
    lines = [line[2:] for line in rendered["appendix"].splitlines()
             if line.startswith("- ") and line[2:].startswith(post_mod.KINDS)]
    expected, findings = [], []
    shown = {r for s in SECTIONS if s.question for r in s.reports}
    for s in statements:
        kind = ("Calibration target, met" if s["resolved"] else "Calibration target, not met") if s.get("target") \
            else ("Resolved" if s["resolved"] else "Not resolved")
        text = s["text"].strip().rstrip(".")
        expected.append(f"{kind}: {text[:1].upper()}{text[1:]}. (`{s['id']}`)")
        if s["report"] in shown:
            findings.append(kind)
    assert sorted(lines) == sorted(expected)
    index_findings = [line[4:].split("**")[0] for line in rendered["index"].splitlines() if line.startswith("- **")
                      and line[4:].split("**")[0] in post_mod.KINDS]
    assert sorted(index_findings) == sorted(findings)
    captions = {b.image: b.caption for b in Page(post.sections).figures}
    for stem in ("bland_altman", "mae_vs_error"):  # their titles print breath.ranking.ESTIMATOR: so do the captions
        caption = captions[f"figures/breath-figures-{stem}.png"]
        assert f"{post_mod.ESTIMATOR} estimator" in caption or f"MAE ({post_mod.ESTIMATOR})" in caption
        assert "Welch" not in caption and "near and far" not in caption
    targets = [s for s in statements if s.get("target")]
    assert targets and not any(f"Resolved: {s['text'][:1].upper()}{s['text'][1:40]}" in rendered["appendix"]
                               for s in targets)


def test_missing_or_unreadable_conclusions_stop_the_post(repo_out):
    plots, metrics = repo_out
    (metrics / "conclusions.json").write_text('{"statements": [{"text": "x"}]}')
    with pytest.raises(InputError, match=r"expected `statements`, a list of \{id, claim, report, text, verdict, "
                                         r"resolved\}"):
        post_mod.build(plots, metrics, PROV)
    (metrics / "conclusions.json").write_text("{not json")
    with pytest.raises(InputError, match=r"conclusions.json: not valid JSON"):
        post_mod.build(plots, metrics, PROV)
    (metrics / "conclusions.json").unlink()
    with pytest.raises(InputError, match=r"conclusions.json: not found; the post leads each section with its "):
        post_mod.build(plots, metrics, PROV)


def test_render_qmd_and_md(repo_out):
    post = post_mod.build(*repo_out, PROV)
    qmd = post_mod.render(post, "qmd", publish.MARKER)
    md = post_mod.render(post, "md", publish.MARKER)
    assert qmd["appendix"].splitlines()[:8] == [
        "---",
        f'title: "Appendix: {post_mod.TITLE}"',
        'date: "2026-11-23"',
        'description: "Every figure, table and statement behind the post, on SYNTHETIC data (profile smoke, commit '
        'abc1234)."',
        'categories: ["thermal imaging", "facial landmarks", "knowledge distillation", "benchmark", '
        '"synthetic data"]',
        'image: "figures/synth_examples.png"',
        "---",
        "",
    ]
    for text in (*qmd.values(), *md.values()):  # what Quarto reads
        front = yaml.safe_load(text.split("---")[1])
        assert front["date"] == "2026-11-23" and front["image"] == "figures/synth_examples.png"
        assert {"title", "description", "categories"} <= set(front)
        assert text.split("---", 2)[2].lstrip().startswith(publish.MARKER + "\n\n> **SYNTHETIC data.** Every dataset")
    assert yaml.safe_load(qmd["index"].split("---")[1])["title"] == post_mod.TITLE
    headings = [line for line in qmd["appendix"].splitlines() if line.startswith("#")]
    assert headings == ["## The data", "## Zero-shot bake-off (blog parts 1 and 3)",
                        "### Full frame, multi-person (frame px)", "#### A note under the table",
                        "## A tiny head on a frozen backbone (blog part 2)",
                        "### TinyHead against the zero-shot models",
                        "### Training curves", "### Where the blog's part-2 code and text differ",
                        "## MLCM-KD: RGB-to-thermal distillation, then compression",
                        "## Breath rate from the nostril landmarks", "## Leaderboard per task",
                        "### ThermEval nose (thermeval_nose)", "## Provenance"]
    assert [line for line in qmd["index"].splitlines() if line.startswith("#")] == [
        "## The data", "## Zero-shot bake-off (blog parts 1 and 3)",
        "## A tiny head on a frozen backbone (blog part 2)",
        "## MLCM-KD: RGB-to-thermal distillation, then compression", "## Breath rate from the nostril landmarks",
        "## The answer", "## Provenance"]
    caption, table = Page(post.sections).figures[1].caption, Page(post.sections).tables[1].caption
    assert f"![Figure 2: {post_mod.escape(caption)}](figures/zeroshot_pck.svg)" in qmd["appendix"]
    assert f"![Figure 2](figures/zeroshot_pck.svg)\\\n*Figure 2: {post_mod.escape(caption)}*" in md["appendix"]
    assert f"**Table 2:** {post_mod.escape(table)}\n\n| Model | PCK |" in qmd["appendix"]
    assert "![Figure 2: " not in md["appendix"] and md["appendix"].split("---", 2)[2].count("**Table 4:**") == 1
    # Each page links the other as a file of its own flavour beside it.
    assert "[the appendix](appendix.qmd)" in qmd["index"] and "[the post](index.qmd)" in qmd["appendix"]
    assert "[the appendix](appendix.md)" in md["index"] and "[the post](index.md)" in md["appendix"]
    assert "(appendix.qmd)" not in md["index"] and "(index.qmd)" not in md["appendix"]


def test_the_data_notice_names_the_synthetic_datasets():
    assert post_mod.data_notice(dict.fromkeys(SYNTH, "real")).startswith("> **Real data.** Every dataset")
    mixed = post_mod.data_notice({**SYNTH, "thermeval": "real", "breath": "real"})
    assert mixed.startswith("> **SYNTHETIC data.** T-FAKE, CHARLOTTE-ThermalFace are synthetic: scenes")
    assert post_mod.data_notice({**SYNTH, "tfake": "real", "charlotte": "real", "breath": "real"}).startswith(
        "> **SYNTHETIC data.** ThermEval-D is synthetic")


LINK = re.compile(r"(!?)\[(?:\\.|[^\]\\])*\]\(([^)\s]+)\)")  # a Markdown link or image: (bang, target)
PAGE_FILES = ("index.qmd", "appendix.qmd", "_markdown/index.md", "_markdown/appendix.md")


def _tables(markdown: str) -> int:
    """The Markdown tables of a page: runs of lines starting with '|'."""
    lines = markdown.splitlines()
    return sum(line.startswith("|") and not (i and lines[i - 1].startswith("|")) for i, line in enumerate(lines))


def test_the_committed_post_is_a_blog_post_and_its_appendix_holds_everything(tmp_path):
    """On the committed results: the post is a few screens (<= 260 lines, 4-6 figures, <= 4 tables), each finding
    one short line with its verdict; the appendix holds every statement (id and text) and every table the catalog
    places. Each page's front matter is what Quarto reads, every image and relative link resolves in its folder
    (Quarto itself is not installed here: this is the structure it needs)."""
    dest = tmp_path / "post"
    post = publish.publish(REPO / "plots", REPO / "metrics", dest, PROV)
    index, appendix = (dest / "index.qmd").read_text(), (dest / "appendix.qmd").read_text()
    assert len(index.splitlines()) <= 260
    assert 4 <= len(re.findall(r"^!\[", index, flags=re.M)) <= 6
    assert _tables(index) <= 4
    kinds = tuple(f"- **{kind}** — " for kind in post_mod.KINDS)
    blocks = re.findall(r"^Findings:\n\n(.*?)(?:\n\n|\Z)", index, flags=re.M | re.S)
    findings = [line for block in blocks for line in block.splitlines()]
    assert findings and all(line.startswith(kinds) and len(line) <= post_mod.FINDING_CHARS for line in findings)
    assert len(findings) == sum(len(statements) for _, statements, _ in pages(post)["index"].sections)

    statements = json.loads((REPO / "metrics/conclusions.json").read_text())["statements"]
    assert all(f"(`{s['id']}`)" in appendix and s["text"].strip().rstrip(".")[1:] in appendix for s in statements)
    catalogued = [post_mod.find_part(post_mod.split_parts((REPO / "plots" / i.path).read_text()), i.part)
                  for i in ITEMS if i.kind == "report" and (REPO / "plots" / i.path).is_file()]
    tables = [post_mod.first_table(body) for _, body in filter(None, catalogued) if post_mod.has_table(body)]
    assert len(tables) + 1 == len(Page(post.sections).tables)  # and the datasets table, made from metrics/
    assert all(table in appendix for table in tables) and "| Dataset | Source | Train | Val | Test |" in appendix
    assert all(f"**Table {b.number}:** {post_mod.escape(b.caption)}" in appendix for b in Page(post.sections).tables)

    for page in PAGE_FILES:
        folder, text = (dest / page).parent, (dest / page).read_text()
        front = yaml.safe_load(text.split("---")[1])
        assert isinstance(front["title"], str) and isinstance(front["description"], str)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", front["date"]) and "synthetic data" in front["categories"]
        assert (folder / front["image"]).is_file()
        links = [(bang, target) for bang, target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:|#", target)]
        assert links and all((folder / target).is_file() for _, target in links), page
        assert all(target.startswith("figures/") for bang, target in links if bang)
    assert ("", "appendix.qmd") in LINK.findall(index) and ("", "index.qmd") in LINK.findall(appendix)


def test_no_page_names_a_folder_of_this_machine(tmp_path, monkeypatch, capsys):
    """`make publish DEST=<absolute path>`: no page, in either flavour, holds DEST, the repository's root or the home
    folder; the reproduce command names DEST by its folder's name."""
    monkeypatch.setattr(publish, "stale_stages", lambda: [])  # whether dvc.lock is up to date is another test's
    monkeypatch.chdir(REPO)
    dest = tmp_path / "site" / "posts" / "thermbench"
    publish.main([str(dest)])
    assert "published" in capsys.readouterr().err
    machine = {str(tmp_path), str(tmp_path.resolve()), str(REPO), str(Path.home())}
    for page in PAGE_FILES:
        text = (dest / page).read_text()
        assert [path for path in machine if path in text] == [], page
        assert " && make publish DEST=thermbench`." in text


def test_reproducible_dest():
    assert post_mod.reproducible_dest("posts/tb") == "posts/tb"
    assert post_mod.reproducible_dest("post") == "post"
    assert post_mod.reproducible_dest("/tmp/x/posts/tb") == "tb"
    assert post_mod.reproducible_dest("../site/posts/tb") == "tb"


def test_provenance_lines():
    assert post_mod.provenance_lines(PROV) == [
        "- Data (params `data.source`): ThermEval-D: synthetic; T-FAKE: synthetic; CHARLOTTE-ThermalFace: synthetic; "
        "breath-rate videos: synthetic.",
        "- Profile: `smoke`.",
        "- Commit: `abc1234`.",
        "- Reproduce: `git checkout abc1234 && make repro && make publish DEST=posts/tb`.",
    ]
    dirty = Provenance({**SYNTH, "breath": "real"}, "paper", "abc1234", True, "2026-11-23", "out")
    lines = post_mod.provenance_lines(dirty)
    assert lines[0].endswith("breath-rate videos: real.")
    assert lines[2] == ("- Commit: `abc1234` with uncommitted changes (not in that commit: commit them, then publish "
                        "again).")
    none = Provenance(SYNTH, "default", None, True, None, "out")
    assert post_mod.provenance_lines(none)[2:] == [
        "- Commit: no git commit with uncommitted changes (not in that commit: commit them, then publish again).",
        "- Reproduce: `make repro && make publish DEST=out`."]
    assert post_mod.data_summary(dirty.sources) == (
        "ThermEval-D: SYNTHETIC data, T-FAKE: SYNTHETIC data, CHARLOTTE-ThermalFace: SYNTHETIC data, "
        "breath-rate videos: real data")


def test_dataset_sources_string_or_mapping():
    assert post_mod.dataset_sources("real") == dict.fromkeys(SYNTH, "real")
    mapping = {"thermeval": "real", "tfake": "synthetic", "charlotte": "synthetic", "breath": "real"}
    assert post_mod.dataset_sources(mapping) == mapping
    with pytest.raises(InputError, match="names no source for breath"):
        post_mod.dataset_sources({"thermeval": "real", "tfake": "real", "charlotte": "real"})
    with pytest.raises(InputError, match="'data.source.tfake' must be 'synthetic' or 'real', not 'kaggle'"):
        post_mod.dataset_sources({**mapping, "tfake": "kaggle"})


def test_facts_join_labels_and_name_what_is_missing():
    facts = post_mod.Facts(tfake="SYNTHETIC data", charlotte="SYNTHETIC data", thermeval="real data")
    assert "{tfake+charlotte}".format_map(facts) == "SYNTHETIC data"
    assert "{thermeval+tfake}".format_map(facts) == "ThermEval-D: real data; T-FAKE: SYNTHETIC data"
    with pytest.raises(InputError, match="a caption needs 'breath_sequences'"):
        "{breath_sequences}".format_map(facts)


def test_markdown_helpers():
    assert post_mod.split_parts("# T\n\nintro\n\n## A b\n\nx\n## C\n") == [("", "intro"), ("A b", "x"), ("C", "")]
    assert post_mod.demote("# a\n## b\n###### c\n#no\n") == "## a\n### b\n###### c\n#no\n"
    assert post_mod.strip_images("a\n![x](y.png)\n b ![x](y) c") == "a\n b ![x](y) c"
    assert post_mod.escape("NME <= 0.1 *x* a_b [c] |") == r"NME \<= 0.1 \*x\* a\_b \[c\] \|"
    text = "Intro.\n\nThe statements:\n\n- A holds.\n- b holds\n- C is new.\n\nAfter."
    assert post_mod.drop_restated(text, ["a holds", "B holds"]) == "Intro.\n\n- C is new.\n\nAfter."


def test_write_post_folder_replaces_its_own_and_refuses_others(repo_out, tmp_path):
    dest = tmp_path / "site" / "posts" / "tb"
    post = post_mod.build(*repo_out, PROV)
    index = publish.write_post(post, dest)
    assert index == dest / "index.qmd"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "_markdown/appendix.md", "_markdown/figures/breath-figures-signals.png", "_markdown/figures/synth_examples.png",
        "_markdown/figures/zeroshot_pck.svg", "_markdown/index.md", "appendix.qmd",
        "figures/breath-figures-signals.png", "figures/synth_examples.png", "figures/zeroshot_pck.svg", "index.qmd"]
    assert (dest / "figures/zeroshot_pck.svg").read_text() == "<svg/>"
    assert publish.MARKER in index.read_text() and publish.MARKER in (dest / "appendix.qmd").read_text()
    (dest / "stale.txt").write_text("from an earlier run")
    publish.write_post(post, dest)  # its own folder: replaced as a whole
    assert not (dest / "stale.txt").exists()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="was not written by thermbench.tools.publish.publish"):
        publish.write_post(post, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        publish.write_post(post, tmp_path / "a_file")


def test_bad_input_is_one_line_and_exit_2(repo_out, tmp_path, capsys, monkeypatch):
    plots, metrics = repo_out
    (tmp_path / "params.yaml").write_text("profile: smoke\ndata:\n  source: synthetic\n")
    monkeypatch.chdir(tmp_path)
    for argv, message in (([str(tmp_path / "out"), "--plots", "nowhere"], "nowhere: plots folder not found"),
                          ([str(tmp_path / "out"), "--metrics", "nowhere"], "nowhere: metrics folder not found"),
                          (["", "--plots", str(plots)], "DEST is empty")):
        with pytest.raises(SystemExit) as exit_:
            publish.run_stage(lambda: publish.main(argv))
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    empty = tmp_path / "empty_plots"
    empty.mkdir()
    with pytest.raises(InputError, match="none of the post's figures or tables is there"):
        post_mod.build(empty, metrics, PROV)


def test_git_state_clean_dirty_excluded_and_none(tmp_path):
    assert publish.git_state(tmp_path) == (None, None, True)  # not a repository
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run(git + ["init", "-q"], check=True)
    assert publish.git_state(tmp_path) == (None, None, True)  # no commit yet
    (tmp_path / "a.txt").write_text("1")
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    head, date = subprocess.run(git + ["log", "-1", "--format=%h %cs"], capture_output=True,
                                text=True).stdout.split()
    assert publish.git_state(tmp_path) == (head, date, False)
    (tmp_path / "post").mkdir()
    (tmp_path / "post" / "index.qmd").write_text("x")
    assert publish.git_state(tmp_path) == (head, date, True)  # an untracked folder is a change...
    assert publish.git_state(tmp_path, exclude=tmp_path / "post") == (head, date, False)  # ...but not the post's own
    (tmp_path / "a.txt").write_text("2")
    assert publish.git_state(tmp_path, exclude=tmp_path / "post") == (head, date, True)


def test_catalog_covers_the_committed_outputs():
    """Every figure and report part the pipeline has written to plots/ has its place in the post (or a reason to be
    left out), every report of metrics/conclusions.json leads a section, and each catalogued report part that holds
    a table is captioned as one while prose parts hold none. What the post (index) shows is a figure or a table,
    in a section that asks a question."""
    plots = REPO / "plots"
    assert post_mod.unplaced(plots) == []
    statements = json.loads((REPO / "metrics/conclusions.json").read_text())["statements"]
    assert {s["report"] for s in statements} <= {r for s in SECTIONS for r in s.reports}
    asking = {s.key for s in SECTIONS if s.question}
    assert all(item.post in asking and item.kind != "text" for item in ITEMS if item.post)
    for item in ITEMS:
        if item.kind in ("report", "text") and (plots / item.path).is_file():
            found = post_mod.find_part(post_mod.split_parts((plots / item.path).read_text()), item.part)
            assert found is not None, (item.path, item.part)
            has_table = post_mod.has_table(found[1])
            assert has_table == (item.kind == "report") or (item.rows_optional and not has_table), (item.path,
                                                                                                   item.part)


def test_real_data_per_dataset(repo_out):
    """A mapping data.source: each caption names its own dataset's data; the synthetic-world figure drops out when
    T-FAKE is real, and the numbering closes up."""
    sources = {"thermeval": "real", "tfake": "real", "charlotte": "synthetic", "breath": "synthetic"}
    post = post_mod.build(*repo_out, Provenance(sources, "paper", "abc1234", False, "2026-11-23", "out"))
    figures = Page(post.sections).figures
    assert [(b.number, b.image) for b in figures] == [
        (1, "figures/zeroshot_pck.svg"), (2, "figures/breath-figures-signals.png")]
    assert figures[0].caption.endswith("(real data).")
    assert figures[1].caption.endswith("(SYNTHETIC data).")
    assert [b.image for b in pages(post)["index"].figures] == ["figures/zeroshot_pck.svg"]
    assert "{tfake+charlotte}".format_map(post_mod.read_facts(repo_out[1], sources)) == (
        "T-FAKE: real data; CHARLOTTE-ThermalFace: SYNTHETIC data")


def test_data_label_names_each_dataset_where_sources_differ():
    from thermbench.core.plots import data_label

    assert data_label({"thermeval": "synthetic", "tfake": "synthetic"}) == "SYNTHETIC data" == data_label("synthetic")
    assert data_label({"tfake": "real", "charlotte": "real"}) == "real data"
    assert data_label({"thermeval": "real", "breath": "synthetic", "tfake": "synthetic", "charlotte": "synthetic"}) \
        == "SYNTHETIC breath videos, SYNTHETIC CHARLOTTE, SYNTHETIC T-FAKE, real ThermEval-D"


MAKE = """import pathlib, sys
n = sys.argv[1]
pathlib.Path("data/made").mkdir(parents=True, exist_ok=True)
pathlib.Path("data/made/a.txt").write_text(n)
pathlib.Path("data/preds").mkdir(parents=True, exist_ok=True)
pathlib.Path("data/preds/x.csv").write_text(n * 2)
"""
REPORT = """import pathlib
pathlib.Path("metrics/made.json").write_text('{"made": "' + pathlib.Path("data/made/a.txt").read_text() + '"}')
"""


def _run(repo: Path, *cmd: str) -> subprocess.CompletedProcess:
    done = subprocess.run(list(cmd), cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    return done


def test_a_fresh_clone_publishes_and_an_edit_to_a_stage_is_refused(repo_out, tmp_path, monkeypatch, capsys):
    """A two-stage DAG: `make` writes cached outputs (a file, and one inside a folder the next stage reads whole),
    `report` reads them into a git-tracked metric. Its clone has neither cached output (DVC: "deleted", and the folder
    with only DVC's .gitignore: "modified"), yet nothing in it is stale; an edit to a stage's code is, with every stage
    downstream of it, each named."""
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    shutil.copytree(repo_out[0], origin / "plots")
    shutil.copytree(repo_out[1], origin / "metrics")
    (origin / "make.py").write_text(MAKE)
    (origin / "report.py").write_text(REPORT)
    (origin / "params.yaml").write_text("profile: smoke\nn: a\ndata:\n  source: synthetic\n")
    (origin / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "make": {"cmd": f"{sys.executable} make.py ${{n}}", "deps": ["make.py"], "params": ["n"],
                 "outs": ["data/made", "data/preds/x.csv"]},
        "report": {"cmd": f"{sys.executable} report.py", "deps": ["report.py", "data/made", "data/preds"],
                   "outs": [{"metrics/made.json": {"cache": False}}]}}}))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in ([*git, "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                [sys.executable, "-m", "dvc", "repro", "-q"], [*git, "add", "-A"], [*git, "commit", "-qm", "made"]):
        _run(origin, *cmd)
    _run(tmp_path, *git, "clone", "-q", str(origin), str(clone))
    assert not (clone / "data/made").exists() and [p.name for p in (clone / "data/preds").iterdir()] == [".gitignore"]
    assert "deleted" in _run(clone, sys.executable, "-m", "dvc", "status").stdout  # DVC alone calls it changed

    assert publish.stale_stages(clone) == []
    monkeypatch.chdir(clone)
    publish.main([str(tmp_path / "post")])
    assert (tmp_path / "post/index.qmd").is_file()
    assert "published" in capsys.readouterr().err

    (clone / "report.py").write_text(REPORT + "# a comment is an edit\n")
    assert publish.stale_stages(clone) == ["report"]
    (clone / "make.py").write_text(MAKE + "# so is this\n")
    assert publish.stale_stages(clone) == ["make", "report"]  # report reads what make would now write
    with pytest.raises(InputError, match=r"^dvc status: 2 stage\(s\) not up to date \(make, report\): "):
        publish.main([str(tmp_path / "post2")])
    assert not (tmp_path / "post2").exists()
    _run(clone, *git, "checkout", "-q", "--", "make.py", "report.py")
    (clone / "params.yaml").write_text("profile: smoke\nn: b\ndata:\n  source: synthetic\n")
    assert publish.stale_stages(clone) == ["make", "report"]


def test_the_committed_results_are_what_the_committed_code_makes(tmp_path):
    """This repository as a fresh clone has it (its tracked files, no DVC outputs): no stage is stale, so
    `make publish` publishes there. A dep edited after its stage ran (code, params, conclusions/kernel_check.json)
    without the stage run again fails here, naming the stage."""
    from thermbench.tools.gates.regression import copy_worktree

    copy_worktree(REPO, tmp_path)
    _run(tmp_path, sys.executable, "-m", "dvc", "config", "core.no_scm", "true")  # the copy is no git repository
    assert publish.stale_stages(tmp_path) == []
