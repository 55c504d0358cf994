"""Where pretrained weights come from: a local file first, then a hub's cache, downloading only where allowed.
Weights that cannot be had raise WeightsUnavailable with one line saying how to get them; stages print that line
and mark the row "weights not available", never a traceback. A checkpoint named by URL is downloaded once into a
cache and its sha256 pinned beside it (`fetch_checkpoint`, then `checkpoint_of`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from thermbench.core.download import http_download
from thermbench.core.io import InputError, write_text


class WeightsUnavailable(Exception):
    """The model's weights are not on this machine; the message says how to get them."""


def resolve_sapiens2(cfg: dict, allow_download: bool, where: str = "zeroshot.sapiens2") -> Path:
    """Local file first, then the Hugging Face cache (downloading only when allowed). Weights that cannot be had
    raise WeightsUnavailable naming the hub id and `where`.local_path, the params key that takes a local file."""
    local = Path(cfg["local_path"])
    if local.is_file():
        return local
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(cfg["repo_id"], cfg["filename"], local_files_only=not allow_download))
    except Exception as err:  # offline / not cached / gated: all mean "no weights here"
        raise WeightsUnavailable(
            f"weights not available: Sapiens2 {cfg['repo_id']}/{cfg['filename']} on the Hugging Face hub "
            f"({type(err).__name__}); `hf download {cfg['repo_id']} {cfg['filename']}` (accept the licence first) "
            f"or place the file at {where}.local_path = {local}") from err


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file and its sha256."""
    path: Path
    sha256: str

    @property
    def init(self) -> str:
        """How a run that starts from it says so in its config and metrics."""
        return f"backbone of {self.path.name} (sha256 {self.sha256}), head random"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(ref: str) -> bool:
    return urlparse(ref).scheme in ("http", "https", "file")


def fetch_checkpoint(ref: str, cache: Path) -> Path:
    """`ref` a URL (http, https or file), downloaded once into `cache` as the datasets' archives are (a temp name,
    then renamed; a complete file is reused), or a local path."""
    if is_url(ref):
        return http_download(ref, cache)
    if not Path(ref).is_file():
        raise InputError(f"{ref}: not found")
    return Path(ref)


def checkpoint_of(ref: str, path: Path) -> Checkpoint:
    """The file `fetch_checkpoint(ref, ...)` gave and its sha256: pinned where `ref` is a URL (`pinned_sha256`)."""
    return Checkpoint(path, pinned_sha256(path) if is_url(ref) else file_sha256(path))


def pinned_sha256(path: Path) -> str:
    """The sha256 of a downloaded file, pinned in `<file>.sha256` the first time; a file that no longer matches its
    pin is refused. The hash in an OpenMMLab file name is not checked: it need not be a sha256 prefix
    (docs/sources.md)."""
    digest, pin = file_sha256(path), path.with_name(path.name + ".sha256")
    if not pin.is_file():
        write_text(pin, digest + "\n")
    elif pin.read_text().strip() != digest:
        raise InputError(f"{path}: sha256 {digest} differs from the one pinned at its download ({pin}); delete both "
                         "to download it again")
    return digest

