"""Does the published post work in a real browser? pandoc renders a page of the post (index or appendix, .qmd or
_markdown/.md) to HTML, headless Chromium loads it, and a small script in the page records, once everything has
loaded, each image's natural width (0: it did not load) and the page's visible text. `problems` compares that with
the page: every figure loads and every figure and table caption is on the page. Chromium also screenshots the page's
first screens, and `screenshot_problems` says whether that picture shows a page at all: its size, something drawn,
and colour (the figures are in colour; text alone is black on white). Run by `make publish-check`
(tests/tools/test_publish_browser.py); pandoc and Chromium are system tools, so this stays out of `make test`.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from thermbench.core.io import InputError
from thermbench.tools.publish.post import Page

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SCREEN = (1280, 4000)  # the screenshot's size: the page's first screens, its opening figure among them
DRAWN = 0.01  # of the screenshot's pixels at least this share differs from the page's background...
COLOURED = 0.001  # ...and at least this share is coloured (a channel spread over COLOUR_SPREAD): a figure painted
COLOUR_SPREAD = 60
PROBE_ID = "thermbench-probe"
# Runs after the load event (every image settled); the result goes into the DOM, which --dump-dom prints.
PROBE = f"""<script>
window.addEventListener("load", function () {{
  var images = Array.prototype.map.call(document.images, function (img) {{
    return {{src: img.getAttribute("src"), width: img.naturalWidth}};
  }});
  var out = document.createElement("pre");
  out.id = "{PROBE_ID}";
  out.textContent = JSON.stringify({{images: images, text: document.body.innerText}});
  document.body.appendChild(out);
}});
</script>"""


def tool(*names: str) -> str:
    for name in names:
        if shutil.which(name):
            return shutil.which(name)
    raise InputError(f"{names[0]} not found: `make publish-check` installs it (apt-get install pandoc chromium)")


def render_html(page: Path, out: Path) -> None:
    """pandoc: the page's Markdown -> standalone HTML at `out`, images resolved against the page's folder."""
    header = out.with_suffix(".head.html")
    header.write_text(f'<base href="{page.parent.resolve().as_uri()}/">\n{PROBE}\n')
    # -smart: quotes and dashes stay as written, so captions compare character for character.
    subprocess.run([tool("pandoc"), "-f", "markdown-smart", "-t", "html5", "--standalone", "--metadata",
                    "pagetitle=thermbench post", "-H", str(header), "-o", str(out), str(page)],
                   check=True, capture_output=True, text=True)


def _chromium(html_file: Path, profile: Path, budget_ms: int, *args: str) -> list[str]:
    # a fresh profile per run: no state from, or into, any other browser run
    return [tool(*BROWSERS), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *args, html_file.as_uri()]


def load(page: Path, screenshot: Path | None = None, budget_ms: int = 20000, timeout_s: int = 120) -> dict:
    """Render `page` and load it in headless Chromium; return the probe's record {images: [...], text: str}. With
    `screenshot`, also save a PNG of the page's first SCREEN px there, once its images have loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        html_file = Path(tmp) / "page.html"
        render_html(page, html_file)
        result = subprocess.run(_chromium(html_file, Path(tmp) / "profile", budget_ms, "--dump-dom"),
                                capture_output=True, text=True, timeout=timeout_s)
        if screenshot is not None:
            subprocess.run(_chromium(html_file, Path(tmp) / "profile-shot", budget_ms, "--hide-scrollbars",
                                     f"--window-size={SCREEN[0]},{SCREEN[1]}", f"--screenshot={screenshot}"),
                           capture_output=True, text=True, timeout=timeout_s)
    return parse_probe(result.stdout)


def parse_probe(dom: str) -> dict:
    match = re.search(rf'<pre id="{PROBE_ID}">(.*?)</pre>', dom, flags=re.S)
    if match is None:
        raise AssertionError("the page never reported its load event (no probe in the dumped DOM)")
    return json.loads(html.unescape(match.group(1)))


def _flat(text: str) -> str:
    return " ".join(text.split())


def problems(probe: dict, page: Page) -> list[str]:
    """What a reader of the loaded page would miss: a figure that did not load or is not on the page, a caption
    that is not shown. Empty when the page is whole."""
    widths = {img["src"]: img["width"] for img in probe["images"]}
    found = []
    for figure in page.figures:
        if figure.image not in widths:
            found.append(f"{figure.image}: not on the page")
        elif not widths[figure.image]:
            found.append(f"{figure.image}: did not load")
    text = _flat(probe["text"])
    captions = [f"Figure {b.number}: {b.caption}" for b in page.figures]
    captions += [f"Table {b.number}: {b.caption}" for b in page.tables]
    found += [f"caption not shown: {c}" for c in captions if _flat(c) not in text]
    return found


def screenshot_problems(png: Path) -> list[str]:
    """What is wrong with a page's screenshot: none taken, not SCREEN in size, blank (under DRAWN of it differs from
    the background, its top-left pixel), or without colour (under COLOURED of it: no figure painted). Empty when it
    shows a page."""
    if not png.is_file():
        return [f"{png.name}: no screenshot taken"]
    with Image.open(png) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    if rgb.shape[:2] != SCREEN[::-1]:
        return [f"{png.name}: {rgb.shape[1]}x{rgb.shape[0]} px, not {SCREEN[0]}x{SCREEN[1]}"]
    drawn = float(np.any(rgb != rgb[0, 0], axis=-1).mean())
    coloured = float((rgb.max(axis=-1) - rgb.min(axis=-1) > COLOUR_SPREAD).mean())
    found = []
    if drawn < DRAWN:
        found.append(f"{png.name}: blank ({drawn:.2%} of it drawn)")
    if coloured < COLOURED:
        found.append(f"{png.name}: no figure painted ({coloured:.3%} of it in colour)")
    return found


def main(argv: list[str] | None = None) -> None:
    from thermbench.tools import library_help

    library_help.main(__doc__, "make publish-check runs it", argv)


if __name__ == "__main__":
    from thermbench.core.stage import run

    run(main)
