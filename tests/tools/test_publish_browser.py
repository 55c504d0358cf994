"""The published post in a real browser: `make publish-check` (pandoc + headless Chromium; out of `make test`).
Publishes the repository's own plots/ and metrics/, renders both pages (index and appendix, .qmd and _markdown/.md)
to HTML, loads each, and fails unless every figure loads, every figure and table caption is shown and the page's
screenshot shows it painted. Plus fast checks of the probe and screenshot reading."""

import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from thermbench.tools.publish import browser_check, publish
from thermbench.tools.publish.post import Block, Page, Provenance, pages

REPO = Path(__file__).resolve().parents[2]
PROV = Provenance(dict.fromkeys(("thermeval", "tfake", "charlotte", "breath"), "synthetic"), "default", "abc1234",
                  False, "2026-11-23", "posts/tb")


@pytest.mark.skipif(not os.environ.get("THERMBENCH_BROWSER"), reason="real-browser check: run `make publish-check`")
@pytest.mark.parametrize("page", ["index.qmd", "appendix.qmd", "_markdown/index.md", "_markdown/appendix.md"])
def test_post_loads_in_headless_chromium(page, tmp_path):
    post = publish.publish(REPO / "plots", REPO / "metrics", tmp_path / "post", PROV)
    shown = pages(post)[Path(page).stem]
    assert shown.figures and shown.tables
    shot = tmp_path / "screenshot.png"
    start = time.monotonic()
    probe = browser_check.load(tmp_path / "post" / page, screenshot=shot)
    print(f"{page}: {len(probe['images'])} images, {len(shown.figures)} figures and {len(shown.tables)} tables "
          f"checked in {time.monotonic() - start:.1f} s")
    assert browser_check.problems(probe, shown) == []
    assert browser_check.screenshot_problems(shot) == []


def _page():
    figures = [Block("figure", 1, "A <b> & c", image="figures/a.png"), Block("figure", 2, "B", image="figures/b.png"),
               Block("figure", 3, "C", image="figures/c.png")]
    return Page([(None, [], figures + [Block("table", 1, "The   table")])])


def test_probe_and_problems():
    dom = ('<html><body><p>x</p><pre id="thermbench-probe">{"images": [{"src": "figures/a.png", "width": 640}, '
           '{"src": "figures/b.png", "width": 0}], "text": "Figure 1: A &lt;b&gt; &amp; c\\nTable 1: The\\ntable"}'
           '</pre></body></html>')
    probe = browser_check.parse_probe(dom)
    assert probe["text"] == "Figure 1: A <b> & c\nTable 1: The\ntable"
    assert browser_check.problems(probe, _page()) == [
        "figures/b.png: did not load", "figures/c.png: not on the page", "caption not shown: Figure 2: B",
        "caption not shown: Figure 3: C"]
    with pytest.raises(AssertionError, match="never reported its load event"):
        browser_check.parse_probe("<html><body></body></html>")


def test_screenshot_problems(tmp_path):
    """A page with text and a coloured figure passes; a blank page, text alone, a wrong size or no file do not."""
    def shot(name: str, text: bool, figure: bool, size=browser_check.SCREEN) -> Path:
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        if text:
            draw.rectangle((100, 100, 1100, 700), fill="black")
        if figure:
            draw.rectangle((100, 800, 400, 1100), fill=(31, 119, 180))
        image.save(tmp_path / name)
        return tmp_path / name

    assert browser_check.screenshot_problems(shot("page.png", text=True, figure=True)) == []
    assert browser_check.screenshot_problems(shot("blank.png", text=False, figure=False)) == [
        "blank.png: blank (0.00% of it drawn)", "blank.png: no figure painted (0.000% of it in colour)"]
    assert browser_check.screenshot_problems(shot("text.png", text=True, figure=False)) == [
        "text.png: no figure painted (0.000% of it in colour)"]
    assert browser_check.screenshot_problems(shot("small.png", text=True, figure=True, size=(800, 600))) == [
        "small.png: 800x600 px, not 1280x4000"]
    assert browser_check.screenshot_problems(tmp_path / "none.png") == ["none.png: no screenshot taken"]
