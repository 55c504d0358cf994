"""The HTML template of `dvc plots show` and `dvc plots diff`: a page that draws its charts without a network.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so offline it stays blank. The committed
.dvc/plots_page.html holds the three libraries inlined, and the committed .dvc/config names it
(`plots.html_template`, a path relative to .dvc/), so plain `dvc plots show` and `dvc plots diff` write a
dvc_plots/index.html that needs nothing but itself, wherever the file is opened from (`--html-template PATH` takes
another page).

The libraries are committed, inside that page, rather than made by `make setup`: no PyPI package ships the browser
builds of Vega 5, Vega-Lite 5 and Vega-Embed 6 (altair_viewer has Vega-Lite 4; vl-convert-python, 84 MB, makes one
bundle whose window.vega and window.vegaLite are null, so its libraries could not be tested), and a committed page
works in a fresh clone, with any DVC, before any set-up. They are the npm registry's files, the same that DVC's CDN
links serve, pinned below by version, tarball integrity and the SHA-256 of what is inlined (each file less its last
`//# sourceMappingURL` line): Vega 5, Vega-Lite 5 and Vega-Embed 6 as in DVC's own page, at their newest 5.x, 5.x
and 6.x, for DVC's specs and the templates in .dvc/plots/ are Vega-Lite v5. All three are BSD-3-Clause (University
of Washington Interactive Data Lab); the page carries each licence in a comment before its script (Vega's from its
repository at the tag: its npm tarball has none).

The page keeps dvc-render's `{plot_divs}` (a <div> per chart, each with a script calling `vegaEmbed`) and
`{refresh_tag}`; it has no `{scripts}`, the slot where DVC puts its CDN <script> tags.

    python -m thermbench.tools.publish.plots_html --check  # exit 1 unless the committed page is the pinned libraries'
    python -m thermbench.tools.publish.plots_html --write  # rebuild it from the npm registry (needs npm, after a pin)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from thermbench.core.io import InputError, write_text
from thermbench.core.stage import run as run_tool

PAGE_PATH = Path(".dvc/plots_page.html")


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    build: str      # the browser (UMD) build in the npm tarball; it sets window.<global>
    integrity: str  # the npm tarball's, as the registry gives it
    sha256: str     # of the inlined text: the build less its last `//# sourceMappingURL` line


# In load order: Vega-Lite's build reads window.vega, Vega-Embed's both.
LIBRARIES = (
    Library("vega", "5.33.1", "build/vega.min.js",
            "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
            "135831f62920743d4467bec0df2d78eedd16fa3444077419f1dfc9aa0d55e6da"),
    Library("vega-lite", "5.23.0", "build/vega-lite.min.js",
            "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
            "9525bc3368d62c580e8fcbf5db63c4a95c04052fe32ced063817c677cc98801c"),
    Library("vega-embed", "6.29.0", "build/vega-embed.min.js",
            "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
            "16512fd17119051ee3f859467e174fe1503ff86c0a4743aaf8b7c10da3dd83e0"),
)

# Vega's LICENSE at its tag v5.33.1 (the npm tarball of vega has no LICENSE file; vega-lite's and vega-embed's do).
VEGA_LICENSE = """\
Copyright (c) 2015-2023, University of Washington Interactive Data Lab
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors
  may be used to endorse or promote products derived from this software
  without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")  # what dvc-render replaces anywhere in the page
HEAD = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
    <!--
    dvc plots show / dvc plots diff, drawn without a network: Vega, Vega-Lite and Vega-Embed are inlined below.
    Each is its npm package's browser build as published, dependencies included (the d3 modules, ISC, among
    others). Written by `python -m thermbench.tools.publish.plots_html --write` (thermbench); do not edit by hand.
    -->
"""
LIBRARY = """    <!--
    {name} {version} ({build} of the npm package {name}@{version}, {integrity}), BSD-3-Clause:

{licence}
    -->
    <script type="text/javascript" data-library="{name}@{version}">
{text}
    </script>
"""
TAIL = """    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""
SCRIPT = re.compile(r'<script type="text/javascript" data-library="([^"]+)">\n(.*?)\n    </script>', re.S)


def inlined(build: str) -> str:
    """A build file's text as the page holds it: without its last `//# sourceMappingURL` line (nothing to fetch)."""
    return re.sub(r"\n?//# sourceMappingURL=\S*\s*$", "", build).rstrip("\n")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render(texts: dict[str, str], licences: dict[str, str]) -> str:
    """The page from each library's inlined text and licence ({name: text}), checked against the pins."""
    parts = [HEAD]
    for lib in LIBRARIES:
        text = texts[lib.name]
        if sha256(text) != lib.sha256:
            raise InputError(f"{lib.name}@{lib.version}: {lib.build} is not the pinned file (sha256 {sha256(text)})")
        # Inlined, the text must neither end its <script> element early nor hold a placeholder dvc-render fills.
        bad = [s for s in ("</script", "<!--", *PLACEHOLDERS) if s in text.lower()]
        if bad:
            raise InputError(f"{lib.name}@{lib.version}: its build holds {', '.join(bad)}; it cannot be inlined")
        licence = "\n".join(f"    {line}".rstrip() for line in licences[lib.name].strip("\n").splitlines())
        parts.append(LIBRARY.format(name=lib.name, version=lib.version, build=lib.build, integrity=lib.integrity,
                                    licence=licence, text=text))
    parts.append(TAIL)
    return "".join(parts)


def parse(page: str) -> tuple[dict[str, str], dict[str, str]]:
    """({name: inlined text}, {name: licence}) of a page `render` wrote."""
    texts, licences = {}, {}
    for lib in LIBRARIES:
        found = [m for m in SCRIPT.finditer(page) if m.group(1) == f"{lib.name}@{lib.version}"]
        if len(found) != 1:
            raise InputError(f"the page holds no script of {lib.name}@{lib.version}")
        texts[lib.name] = found[0].group(2)
        notice = re.search(r"<!--\n    " + re.escape(f"{lib.name} {lib.version} (") + r"[^\n]*\n\n(.*?)\n    -->",
                           page, re.S)
        if not notice:
            raise InputError(f"the page holds no licence of {lib.name}@{lib.version}")
        licences[lib.name] = "\n".join(line[4:] for line in notice.group(1).splitlines()) + "\n"
    return texts, licences


def check(page: str) -> list[str]:
    """What keeps `page` from being the pinned libraries' page ([] where it is)."""
    try:
        texts, licences = parse(page)
        expected = render(texts, licences)
    except InputError as e:
        return [str(e)]
    if expected != page:
        return ["the page differs from what --write writes around the same libraries"]
    if licences["vega"] != VEGA_LICENSE:
        return ["the page's Vega licence differs from VEGA_LICENSE"]
    return []


def fetch(work: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each pinned library's inlined text and licence, from the npm registry (`npm pack`, into `work`)."""
    npm = shutil.which("npm")
    if not npm:
        raise InputError("npm not found: --write takes the libraries from the npm registry")
    texts, licences = {}, {}
    for lib in LIBRARIES:
        done = subprocess.run([npm, "pack", f"{lib.name}@{lib.version}", "--json", "--pack-destination", str(work)],
                              cwd=work, capture_output=True, text=True)
        if done.returncode:
            raise InputError(f"npm pack {lib.name}@{lib.version}: {done.stderr.strip()[-300:]}")
        tarball = work / json.loads(done.stdout)[0]["filename"]
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if integrity != lib.integrity:
            raise InputError(f"{tarball.name}: integrity {integrity}, pinned {lib.integrity}")
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
            texts[lib.name] = inlined(tar.extractfile(f"package/{lib.build}").read().decode("utf-8"))
            licences[lib.name] = (tar.extractfile("package/LICENSE").read().decode("utf-8")
                                  if "package/LICENSE" in names else VEGA_LICENSE)
    return texts, licences


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    parser.add_argument("--page", type=Path, default=PAGE_PATH)
    args = parser.parse_args(argv)
    if args.write:
        with tempfile.TemporaryDirectory() as work:
            write_text(args.page, render(*fetch(Path(work))))
        return
    if not args.page.is_file():
        raise InputError(f"{args.page}: not found")
    problems = check(args.page.read_text(encoding="utf-8"))
    if problems:
        print(f"{args.page}: {problems[0]} (`python -m thermbench.tools.publish.plots_html --write`)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run_tool(main)
