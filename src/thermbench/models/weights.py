"""Where pretrained weights come from: a local file first, then a hub's cache, downloading only where allowed.
Weights that cannot be had raise WeightsUnavailable with one line saying how to get them; stages print that line
and mark the row "weights not available", never a traceback.
"""

from __future__ import annotations

from pathlib import Path


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
