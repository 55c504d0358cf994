"""The README's results block and every number the docs quote from metrics/, rendered: `python -m
thermbench.tools.publish.readme --write` (`make readme`) rewrites them; `--check` fails, listing the lines that differ,
where a page no longer says what metrics/ holds (a test runs it). No such number is typed by hand.

The results block's cells are made by the reports' own formatting functions, a few columns of each report: the nose
on the ThermEval-D test split (zero-shot models and the TinyHead), MLCM-KD's Table I rows, and the breath rate per
source. Each table names the data it rests on. Stage timings are left out: they belong to the machine that measured
them (metrics/timing/); the wall time and disk of the two commands are rendered with that machine
(metrics/timing/make.json, `python -m thermbench.tools.pipeline.timings`).

Elsewhere a number sits between `<!-- make readme: NAME -->` and `<!-- /make readme -->` (inline or over lines), and
NAME is one of the page's renderers in `BLOCKS` (src/thermbench/tools/publish/readme_blocks.py).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

from thermbench.breath.ranking import source_runs
from thermbench.breath.report import _cell as breath_cell
from thermbench.breath.report import _order as breath_order
from thermbench.core.io import InputError, read_json, write_text
from thermbench.core.plots import data_label
from thermbench.core.stage import run as run_tool
from thermbench.mlcmkd.report_tables import UNTRAINED, describe, group_runs, mean_sd, table_i_order, tfake_nme
from thermbench.tinyhead.report import _cell as head_cell
from thermbench.tinyhead.report import _fmt, _seed_cell
from thermbench.tools.publish.readme_blocks import BLOCKS, read_input
from thermbench.zeroshot.registry import MODELS
from thermbench.zeroshot.report import name

START = "<!-- results:start: written by `make readme` from metrics/, do not edit by hand -->"
END = "<!-- results:end -->"
BLOCK = re.compile(r"<!-- make readme: ([\w-]+) -->(.*?)<!-- /make readme -->", re.S)
PCK = 10  # px: the PCK threshold shown, the blog's headline one
SCENES = ("near", "near_sway", "far")
STUDENTS = ("supervised", "ktl", "mcl")


def _label(*sources) -> str:
    """The data label of the metrics behind one table: one label, or each distinct one."""
    return "; ".join(sorted({data_label(s) for s in sources}))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header), *rows]]


def nose_table(metrics: Path) -> list[str]:
    """Zero-shot models (on the full frame, and given the GT Person box) and the TinyHead (given the box), frame px."""
    files = {p.stem: read_input(p) for p in sorted((metrics / "zeroshot").glob("*.json"))}
    if not files:
        raise InputError(f"{metrics / 'zeroshot'}: no metrics (run `make repro` first)")
    head = read_input(metrics / "head" / "thermeval.json")
    rows = []
    for model in [m for m in MODELS if m in files] + sorted(set(files) - set(MODELS)):
        m = files[model]
        if m["status"] != "ok":  # weights not available, say: the reason, no numbers
            rows.append([name(model), m["status"].split(":")[0], "", "", "", ""])
            continue
        full, box = m["full_frame"], m["crop"]["frame_px"]
        rows.append([name(model), _fmt(full["detection_rate"], "pct"), _fmt(full["pck"][f"{PCK}px"], "pct"),
                     _fmt(box["detection_rate"], "pct"), head_cell(m["crop"], "frame_px", "median_px", "px"),
                     head_cell(m["crop"], "frame_px", PCK, "pct")])
    over = head["over_seeds"]
    converged = sum(bool(s["converged"]) for s in head["seeds"].values())
    rows.append([f"TinyHead ({head['n_train_labels']} labels; mean ± sd over {len(head['seeds'])} seeds, {converged} "
                 "converged)", "–", "–",
                 _fmt(head["frame_px"]["detection_rate"], "pct"), _seed_cell(over, "frame_px", "median_px", "px"),
                 _seed_cell(over, "frame_px", PCK, "pct")])
    noses = sorted({m["full_frame"]["n_gt"] for m in files.values() if m["status"] == "ok"})
    title = (f"**Nose on the ThermEval-D test split** ({_label(head['data'], *(m['data'] for m in files.values()))}; "
             f"{', '.join(map(str, noses))} noses in the full frames, {head['frame_px']['n_gt']} GT Person boxes; "
             "errors in frame px; `plots/zeroshot_table.md`, `plots/head/report.md`)")
    return [title, ""] + _table(["model", "full frame: found", f"full frame: PCK@{PCK}", "GT box: found",
                                 "GT box: median error", f"GT box: PCK@{PCK}"], rows)


def mlcmkd_table(metrics: Path) -> list[str]:
    """Table I's rows: T-FAKE test NME-IO and CHARLOTTE Full NME-diag, mean ± sd over seeds, and how many of each
    row's runs converged; the mean-shape baseline; the count of student runs."""
    folder = metrics / "mlcmkd"
    groups = group_runs({p.stem: read_json(p) for p in sorted(folder.rglob("*.json"))})
    summary = read_input(metrics / "mlcmkd_summary.json")
    rows = []
    for key in table_i_order(groups):
        g = groups[key]
        m = next(iter(g.runs.values()))
        if m.get("status", "ok") != "ok":
            rows.append([describe(g, key), m["status"].split(":")[0], "", ""])
            continue
        converged = "–" if g.kind in UNTRAINED else f"{len(g.runs) - len(g.unconverged())} of {len(g.runs)}"
        rows.append([describe(g, key), converged, mean_sd(g.values(tfake_nme)),
                     mean_sd(g.values(lambda r: r["charlotte"]["full"]["nme"]))])
    rows.append(["mean shape of the training crops (no model)", "–", f"{summary['mean_shape_test_nme']:.4f}", ""])
    students = [g for g in groups.values() if g.kind in STUDENTS]
    runs = sum(len(g.runs) for g in students)
    unconverged = sorted(r for g in students for r in g.unconverged())
    return ([f"**MLCM-KD, Table I** ({_label(summary['data'])}; test NME-IO on T-FAKE, NME-diag on CHARLOTTE, "
             "mean ± sd over seeds; `plots/mlcmkd_tables.md`)", ""]
            + _table(["method", "converged", "T-FAKE NME-IO", "CHARLOTTE Full"], rows)
            + ["", f"{runs - len(unconverged)} of the {runs} student runs converged"
               + (f" (not: {', '.join(unconverged)})." if unconverged else ".")])


def _covered(cell: str, score: dict | None) -> str:
    """A breath cell with its coverage: the windows (with ground truth) where the source has a rate, of all."""
    if score is None:
        return cell
    unranked = "" if score["ranked"] else ", not ranked"
    return f"{cell} ({score['windows']}/{score['of_windows']}{unranked})"


def breath_table(metrics: Path) -> list[str]:
    """The ridge estimator's MAE per source and scene kind over the windows where the source has a rate (a trained
    source: mean ± sd over its seeds), with that coverage (metrics/conclusions/breath.json's scores); the noise series
    of the true nostrils is left to the report."""
    rates = read_input(metrics / "breath" / "rates.json")
    scores = read_input(metrics / "conclusions" / "breath.json")["scores"]
    groups = source_runs(rates["sources"], rates["runs"])
    rows = []
    for source in (s for s in breath_order(groups) if not s.startswith("oracle+")):
        runs = [rates["sources"][n] for n in groups[source].values()]
        seeds = "–" if None in groups[source] else str(len(groups[source]))
        rows.append([source, seeds] + [_covered(breath_cell([r[scene]["ridge"].get("mae_bpm") for r in runs]),
                                                scores.get(scene, {}).get(source))
                                       if scene in runs[0] else "–" for scene in SCENES])
    rows += [[source, why.split(":")[0], *([""] * len(SCENES))]  # the reason, no numbers
             for source, why in sorted(rates["unavailable"].items())]
    return ([f"**Breath rate** ({_label(rates['data'])}; MAE of the ridge estimator in breaths/min over "
             f"{rates['sequences']} sequences, each source over the windows where it has a rate, in brackets: those "
             "windows / all windows with ground truth, and \"not ranked\" where it has a rate in too few sequences to "
             "be compared; `plots/breath/figures/summary.md` gives each source's 95% interval and the paired "
             "comparisons)", ""]
            + _table(["source", "seeds", *SCENES], rows))


def render(metrics: Path) -> str:
    """The block, markers included."""
    lines = [START, ""]
    for part in (nose_table, mlcmkd_table, breath_table):
        lines += part(metrics) + [""]
    return "\n".join(lines + [END])


def split(text: str, path: Path) -> tuple[str, str, str]:
    """(before, block, after) of the README text; the block runs from START to END, both included."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start or text.count(START) > 1:
        raise InputError(f"{path}: needs one results block, from the line '{START}' to '{END}'")
    return text[:start], text[start:end + len(END)], text[end + len(END):]


def differences(readme: str, rendered: str) -> list[str]:
    """The lines where the README's block and the rendered one differ: '- ' the README's, '+ ' from metrics/."""
    return [line.rstrip("\n") for line in difflib.ndiff(readme.splitlines(), rendered.splitlines())
            if line[:2] in ("- ", "+ ")]


def render_blocks(text: str, path: Path, renderers: dict, metrics: Path) -> str:
    """`text` with each `<!-- make readme: NAME -->` block's body rendered by `renderers[NAME]`; every renderer's
    block must be on the page, and no other."""
    names = [m.group(1) for m in BLOCK.finditer(text)]
    unknown = sorted(set(names) - set(renderers))
    missing = sorted(set(renderers) - set(names))
    if unknown or missing or len(names) != len(set(names)):
        raise InputError(f"{path}: its `make readme` blocks must be, once each, {', '.join(sorted(renderers))} "
                         f"(unknown: {', '.join(unknown) or 'none'}; missing: {', '.join(missing) or 'none'})")
    return BLOCK.sub(lambda m: f"<!-- make readme: {m.group(1)} -->{renderers[m.group(1)](metrics)}"
                               "<!-- /make readme -->", text)


def rendered_pages(root: Path, readme: Path, metrics: Path) -> dict[Path, tuple[str, str]]:
    """{page: (its text, the text `make readme` makes of it)}: the README (results block and blocks) and the docs
    pages of `BLOCKS`."""
    pages = {}
    for page, renderers in BLOCKS.items():
        path = readme if page == "README.md" else root / page
        text = path.read_text()
        new = render_blocks(text, path, renderers, metrics)
        if page == "README.md":
            before, _, after = split(new, path)
            new = before + render(metrics) + after
        pages[path] = (text, new)
    return pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail, listing the lines that differ from metrics/")
    mode.add_argument("--write", action="store_true", help="rewrite the blocks from metrics/")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository, whose docs/ pages are rendered")
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    args = parser.parse_args(argv)
    pages = rendered_pages(args.root, args.readme, args.metrics)
    if args.write:
        for path, (text, new) in pages.items():
            if text != new:
                write_text(path, new)
            print(f"{path}: {'rewritten' if text != new else 'unchanged'}", file=sys.stderr)
        return
    stale = [(path, differences(text, new)) for path, (text, new) in pages.items() if text != new]
    for path, diff in stale:
        print(f"{path}: differs from {args.metrics}/ (`make readme` rewrites it):", *diff, sep="\n", file=sys.stderr)
    if stale:
        sys.exit(1)


if __name__ == "__main__":
    run_tool(main)
