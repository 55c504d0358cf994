"""HTTP downloads that survive interruption: streamed to a temporary name, kept once complete, reused after.

Standard library only, rather than pooch: the datasets publish no hashes to check against (a checkpoint's sha256 is
pinned on first use, models/weights.py), and pooch's HTTP errors would still need turning into one line each."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from thermbench.core.io import InputError
from thermbench.core.progress import progress


def http_download(url: str, download_dir: Path) -> Path:
    """Stream `url` to download_dir/<name> via a temp file; an existing complete file is reused."""
    dest = download_dir / (Path(urlparse(url).path).name or "download.zip")
    if dest.is_file():
        print(f"fetch: using {dest} (already downloaded)", file=sys.stderr)
        return dest
    download_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            chunks = iter(lambda: response.read(1 << 20), b"")
            for chunk in progress(chunks, desc=dest.name, total=total, unit="B", size=len):
                f.write(chunk)
        if total is not None and tmp.stat().st_size != total:
            raise InputError(f"{url}: download truncated ({tmp.stat().st_size} of {total} bytes)")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as err:
        raise InputError(f"{url}: download failed ({err})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest
