"""The page of `dvc plots show` and `dvc plots diff` draws every chart without a network (tools/publish/plots_html.py).

The committed .dvc/config names the committed .dvc/plots_page.html, which holds the pinned Vega, Vega-Lite and
Vega-Embed with their licences and no slot for DVC's CDN scripts. End to end: a small DVC repository with the project's
config, page and Vega-Lite templates, `dvc plots show` and `dvc plots diff` in it, and node, with no browser and no
network, runs each page's inlined libraries and renders each chart's spec from the page to SVG headless: every row of
the data is a mark in it. Without node (CI may lack it) that test is skipped, saying so.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import configobj
import pytest

from thermbench.tools.publish import plots_html
from thermbench.tools.publish.plots_html import LIBRARIES, PAGE_PATH, VEGA_LICENSE, check, parse

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")

# Runs a page's scripts in node as a browser would, in order: the libraries (they set globalThis.vega, .vegaLite and
# .vegaEmbed), then each chart's script, with vegaEmbed caught to keep its spec; then compiles each Vega-Lite spec and
# renders its Vega view to SVG headless (renderer 'none': no DOM, no canvas). No window object: the zoom-and-pan
# params listen to window events, which a headless view has none of.
RENDER_JS = r"""
const fs = require("fs"), vm = require("vm");
const html = fs.readFileSync(process.argv[2], "utf8");
const sandbox = {console, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, URL,
                 URLSearchParams, TextEncoder, TextDecoder, structuredClone, performance};
const context = vm.createContext(sandbox);
const charts = [], libraries = [];
let embedVersion = null;
for (const [, attrs, code] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  const library = /data-library="([^"]+)"/.exec(attrs);
  if (library) libraries.push(library[1]);
  else if (embedVersion === null) {  // the first chart's script: the libraries have all run
    if (typeof sandbox.vegaEmbed !== "function") throw new Error("no vegaEmbed after the page's libraries");
    embedVersion = sandbox.vegaEmbed.version;
    sandbox.vegaEmbed = (el, spec) => charts.push({el, spec});
  }
  vm.runInContext(code, context, {filename: library ? library[1] : "chart"});
}
(async () => {
  const {vega, vegaLite} = sandbox;
  const out = {libraries, vega: vega.version, vegaLite: vegaLite.version, vegaEmbed: embedVersion, charts: []};
  for (const {el, spec} of charts) {
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), {renderer: "none"});
    out.charts.push({el, svg: await view.toSVG()});
    view.finalize();
  }
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(String(e && e.stack || e).slice(0, 2000)); process.exit(1); });
"""

ROWS = [  # decimals, as the stages write them (DVC hands a CSV's values to the spec as strings)
    {"x": "1.5", "y": "0.12", "model": "dwpose", "protocol": "full_frame", "seed": "0"},
    {"x": "2.5", "y": "0.47", "model": "dwpose", "protocol": "full_frame", "seed": "0"},
    {"x": "3.5", "y": "0.63", "model": "mediapipe", "protocol": "gt_box", "seed": "1"},
    {"x": "4.5", "y": "0.91", "model": "mediapipe", "protocol": "gt_box", "seed": "1"},
]
TEMPLATES = ["linear", "by_seed", "by_model", "bland_altman", "abs_error"]  # DVC's linear, then the project's
SERIES = {"linear": 1, "by_seed": 2, "by_model": 2}  # lines a revision draws (one file; a seed, a model each)


def _page() -> str:
    config = configobj.ConfigObj(str(ROOT / ".dvc" / "config"))
    name = config["plots"]["html_template"]
    assert not os.path.isabs(name), "an absolute path is this machine's: .dvc/config names the page relative to .dvc/"
    assert (ROOT / ".dvc" / name).resolve() == (ROOT / PAGE_PATH).resolve()
    return (ROOT / PAGE_PATH).read_text(encoding="utf-8")


def test_the_committed_config_names_the_committed_page_of_the_pinned_libraries():
    page = _page()
    assert subprocess.run(["git", "check-ignore", "-q", str(PAGE_PATH)], cwd=ROOT).returncode == 1  # committed
    assert check(page) == []
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # DVC's CDN <script> tags go there
    assert not re.search(r"<script\b[^>]*\bsrc\s*=|<link\b[^>]*\bhref\s*=", page)  # nothing loaded from elsewhere
    texts, licences = parse(page)
    assert list(texts) == [lib.name for lib in LIBRARIES] and licences["vega"] == VEGA_LICENSE
    assert all("Redistribution and use in source and binary forms" in text for text in licences.values())


def test_check_names_what_differs_from_the_pinned_libraries(monkeypatch):
    page = _page()
    vega = next(lib for lib in LIBRARIES if lib.name == "vega")
    assert check(page.replace("t.zoomLinear=", "t.zoomLinear2=", 1))[0].startswith(
        f"vega@{vega.version}: build/vega.min.js is not the pinned file")
    assert check(page.replace("{plot_divs}", "")) == [
        "the page differs from what --write writes around the same libraries"]
    assert check(page.replace("Copyright (c) 2015-2023,", "Copyright (c) 2015-2024,", 1)) == [
        "the page's Vega licence differs from VEGA_LICENSE"]
    monkeypatch.chdir(ROOT)
    plots_html.main(["--check"])  # the committed page, as the command checks it: no exit


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """{("show" | "diff", template): the chart's SVG}, and the libraries node ran, from a small DVC repository."""
    if not NODE:
        pytest.skip("node not found: the pages' charts are rendered with node (no browser here); install Node.js")
    tmp = tmp_path_factory.mktemp("plots_page")
    repo = tmp / "repo"
    repo.mkdir()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

    def run(*cmd, cwd=repo):
        done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"`{' '.join(cmd)}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return done.stdout

    dvc = (sys.executable, "-m", "dvc")
    run("git", "init", "-q")
    run(*dvc, "init", "-q")
    shutil.copy2(ROOT / ".dvc" / "config", repo / ".dvc" / "config")  # the project's: html_template and all
    shutil.copy2(ROOT / PAGE_PATH, repo / PAGE_PATH)
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")

    def write_csv(rows):
        (repo / "data.csv").write_text("\n".join([",".join(ROWS[0]), *(",".join(r.values()) for r in rows)]) + "\n")

    write_csv(ROWS)
    plots = [{t: {"template": t, "x": "x", "y": {"data.csv": "y"}}} for t in TEMPLATES]
    (repo / "dvc.yaml").write_text(json.dumps({"plots": plots}, indent=1))  # JSON is YAML
    run("git", "add", "-A")
    run("git", "commit", "-qm", "plots")
    write_csv([{**r, "y": str(round(float(r["y"]) + 0.05, 2))} for r in ROWS])  # the workspace moved: a diff
    run(*dvc, "plots", "show", "-o", "show")
    run(*dvc, "plots", "diff", "HEAD", "-o", "diff")
    out = {}
    for kind in ("show", "diff"):
        # Opened from another folder: nothing the page needs lies beside it.
        page = tmp / f"elsewhere-{kind}" / "page.html"
        page.parent.mkdir()
        shutil.copy2(repo / kind / "index.html", page)
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<script\b[^>]*\bsrc\s*=|<link\b[^>]*\bhref\s*=", html), "the page loads a file"
        assert not re.search(r"src\s*=\s*[\"']?https?:", html), "the page loads a script from the network"
        js = tmp / "render.js"
        js.write_text(RENDER_JS)
        rendered = json.loads(run(NODE, str(js), str(page), cwd=tmp))
        assert rendered["libraries"] == [f"{lib.name}@{lib.version}" for lib in LIBRARIES]
        assert [rendered["vega"], rendered["vegaLite"], rendered["vegaEmbed"]] == [lib.version for lib in LIBRARIES]
        for chart in rendered["charts"]:
            out[kind, chart["el"].lstrip("#")] = chart["svg"]
    return out


def _points(svg: str) -> list[str]:
    """The aria-labels of the drawn points (a symbol with a path), one a data row and revision."""
    return re.findall(r'<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="point"[^>]*? d="M',
                      svg)


def _lines(svg: str) -> set[str]:
    """The drawn lines' paths (at least one segment), each once (a layer may draw a line twice)."""
    return set(re.findall(r'aria-roledescription="line mark" d="(M[^"]*L[^"]*)"', svg))


@pytest.mark.parametrize("kind", ["show", "diff"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_chart_of_show_and_diff_draws_every_row_offline(drawn, template, kind):
    svg = drawn[kind, template]
    revisions = 2 if kind == "diff" else 1
    if template == "linear":  # a line per revision through every row, no points
        lines = _lines(svg)
        assert len(lines) == revisions and all(line.count("L") == len(ROWS) - 1 for line in lines), lines
        return
    points = _points(svg)
    assert len(points) == len(ROWS) * revisions, points
    assert all("NaN" not in p for p in points), points
    if template in SERIES:
        assert len(_lines(svg)) == SERIES[template] * revisions
    if template == "by_model":  # each revision's own values, at the data's rows
        revs = {"workspace": "0.17", "HEAD": "0.12"} if kind == "diff" else {"workspace": "0.17"}
        assert sorted(p for p in points if p.startswith("x: 1.5;")) == sorted(
            f"x: 1.5; y: {y}; model: dwpose; protocol: full_frame; rev: {rev}" for rev, y in revs.items())
