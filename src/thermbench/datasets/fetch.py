"""Download a real dataset into data/raw/<dataset>: Kaggle (ThermEval-D), HTTP zips (FaceSynthetics, COCO 2017 images)
and folders that must be downloaded by hand (Google Drive: T-FAKE thermal, CHARLOTTE, the COCO-WholeBody annotations;
iBUG's click-through agreement: 300W).

Archives are kept in `download_dir` (outside DVC outputs, written via a temp name), so an interrupted or repeated
run does not download them again. The dataset is unpacked into a temporary sibling of `out`, its layout checked,
and only then moved into place with a completion marker; a run with the same sources and a marker is skipped.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from thermbench.core.download import http_download
from thermbench.core.io import InputError, write_json
from thermbench.datasets.registry import layout

MARKER = ".fetch_complete.json"
KAGGLE_HELP = (
    "Kaggle credentials not found: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), "
    "or put kaggle.json in ~/.kaggle/ (token from https://www.kaggle.com/settings/api)"
)


def validate_layout(dataset: str, root: Path, label: str) -> None:
    missing = [pattern for pattern in layout(dataset) if next(root.glob(pattern), None) is None]
    if missing:
        raise InputError(f"{label}: not a {dataset} layout, nothing matches {', '.join(missing)}")


def find_root(dataset: str, top: Path, max_depth: int = 3) -> Path:
    """The shallowest folder under `top` that holds the layout's first entry (archives often add wrapper folders)."""
    anchor = layout(dataset)[0]
    for depth in range(max_depth + 1):
        for candidate in sorted(top.glob("/".join(["*"] * depth))) if depth else [top]:
            if candidate.is_dir() and next(candidate.glob(anchor), None) is not None:
                return candidate
    return top


def kaggle_download(ref: str, download_dir: Path) -> Path:
    """Download the Kaggle dataset `owner/slug` as a zip into download_dir; return the zip path."""
    dest = download_dir / f"{ref.split('/')[1]}.zip"
    if dest.is_file():
        print(f"fetch: using {dest} (already downloaded)", file=sys.stderr)
        return dest
    try:
        # The kaggle package authenticates at import and prints help text (1.x raises OSError, newer ones SystemExit).
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
    except (Exception, SystemExit):
        raise InputError(KAGGLE_HELP) from None
    part = download_dir / f".{ref.split('/')[1]}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    print(f"fetch: downloading Kaggle dataset {ref}", file=sys.stderr)
    try:
        api.dataset_download_files(ref, path=str(part), quiet=True, unzip=False)
        os.replace(next(part.glob("*.zip")), dest)
    except Exception as err:  # network, permission or licence-acceptance errors from the Kaggle API
        raise InputError(f"kaggle dataset {ref}: download failed ({err})") from None
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return dest


def unpack(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # zipfile drops absolute and '..' parts of member names
    except zipfile.BadZipFile:
        raise InputError(f"{archive}: not a valid zip archive (delete it to download again)") from None


def check_manual(manual: dict) -> None:
    """A hand-downloaded folder must exist; otherwise say in one line where to get it and where to put it."""
    src = Path(manual["dir"])
    if not src.is_dir() or next(src.iterdir(), None) is None:
        raise InputError(
            f"{src}: not found or empty; {manual['what']} cannot be downloaded automatically: "
            f"get it from {manual['url']} and unpack it into {src}"
        )


def is_complete(dataset: str, out: Path, cfg: dict) -> bool:
    marker = out / MARKER
    if not marker.is_file() or json.loads(marker.read_text()) != json.loads(json.dumps(cfg)):
        return False
    validate_layout(dataset, out, str(out))
    return True


def fetch(dataset: str, out: str | Path, cfg: dict) -> None:
    """Fill `out` with `dataset` from the sources in `cfg` (params.yaml fetch.<dataset>), atomically."""
    out = Path(out)
    if layout(dataset) is None:
        raise InputError(f"params.yaml: no download route for dataset '{dataset}'")
    if is_complete(dataset, out, cfg):
        print(f"fetch: {out} is complete, skipping", file=sys.stderr)
        return
    if "manual" in cfg:
        check_manual(cfg["manual"])  # before any long download
    download_dir = Path(cfg.get("download_dir", f"downloads/{dataset}"))
    archives = [http_download(url, download_dir) for url in cfg.get("urls", [])]
    if "kaggle" in cfg:
        archives.append(kaggle_download(cfg["kaggle"], download_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.fetch.") as work:
        unpacked = Path(work) / "unpacked"
        unpacked.mkdir()
        for archive in archives:
            unpack(archive, unpacked)
        root = find_root(dataset, unpacked)
        if "manual" in cfg:
            shutil.copytree(cfg["manual"]["dir"], root / cfg["manual"].get("into", "."), dirs_exist_ok=True)
            root = find_root(dataset, root)  # a hand-downloaded folder may bring its own wrapper
        sources = [str(a) for a in archives] + ([cfg["manual"]["dir"]] if "manual" in cfg else [])
        validate_layout(dataset, root, " + ".join(sources))
        write_json(root / MARKER, cfg)
        if out.exists():
            shutil.rmtree(out)
        os.replace(root, out)
    print(f"fetch: {dataset} ready in {out}", file=sys.stderr)
