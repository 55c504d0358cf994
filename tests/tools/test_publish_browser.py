"""The published post in a real browser: `make publish-check` (pandoc + headless Chromium; out of `make test`).
Publishes the repository's own plots/ and metrics/, renders index.qmd and _markdown/index.md to HTML, loads each, and
fails unless every figure loads and every figure and table caption is shown. Plus fast checks of the probe reading."""

import os
import time
from pathlib import Path

import pytest

from thermbench.tools.publish import browser_check, publish
from thermbench.tools.publish.post import Block, Post, Provenance

REPO = Path(__file__).resolve().parents[2]
PROV = Provenance(dict.fromkeys(("thermeval", "tfake", "charlotte", "breath"), "synthetic"), "default", "abc1234",
                  False, "2026-11-23", "posts/tb")


@pytest.mark.skipif(not os.environ.get("THERMBENCH_BROWSER"), reason="real-browser check: run `make publish-check`")
@pytest.mark.parametrize("page", ["index.qmd", "_markdown/index.md"])
def test_post_loads_in_headless_chromium(page, tmp_path):
    post = publish.publish(REPO / "plots", REPO / "metrics", tmp_path / "post", PROV)
    assert post.figures and post.tables
    start = time.monotonic()
    probe = browser_check.load(tmp_path / "post" / page)
    print(f"{page}: {len(probe['images'])} images, {len(post.figures)} figures and {len(post.tables)} tables "
          f"checked in {time.monotonic() - start:.1f} s")
    assert browser_check.problems(probe, post) == []


def _post():
    figures = [Block("figure", 1, "A <b> & c", image="figures/a.png"), Block("figure", 2, "B", image="figures/b.png"),
               Block("figure", 3, "C", image="figures/c.png")]
    return Post(PROV, [(None, [], figures + [Block("table", 1, "The   table")])])


def test_probe_and_problems():
    dom = ('<html><body><p>x</p><pre id="thermbench-probe">{"images": [{"src": "figures/a.png", "width": 640}, '
           '{"src": "figures/b.png", "width": 0}], "text": "Figure 1: A &lt;b&gt; &amp; c\\nTable 1: The\\ntable"}'
           '</pre></body></html>')
    probe = browser_check.parse_probe(dom)
    assert probe["text"] == "Figure 1: A <b> & c\nTable 1: The\ntable"
    assert browser_check.problems(probe, _post()) == [
        "figures/b.png: did not load", "figures/c.png: not on the page", "caption not shown: Figure 2: B",
        "caption not shown: Figure 3: C"]
    with pytest.raises(AssertionError, match="never reported its load event"):
        browser_check.parse_probe("<html><body></body></html>")
