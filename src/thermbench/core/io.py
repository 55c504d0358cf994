"""File I/O every stage shares: clear input errors, atomic writes, deterministic JSON, strict readers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class InputError(Exception):
    """Bad input that a user can fix: reported as one line, never as a traceback."""


def is_number(value: Any) -> bool:
    """A JSON number: an int or a float, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, or raise InputError naming the file (missing, or not valid JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid JSON (not UTF-8 text)") from None


def read_csv(path: str | Path, columns: tuple[str, ...] = (), dtype: dict | None = None) -> "pd.DataFrame":
    """Read a CSV table (`dtype`: pandas' column types), or raise InputError naming the file (missing, empty, not a
    CSV, or lacking one of `columns`)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    try:
        table = pd.read_csv(path, dtype=dtype)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty (not even a header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a CSV ({str(err).splitlines()[0]})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def _rounded(obj: Any, ndigits: int) -> Any:
    if isinstance(obj, dict):
        return {str(k): _rounded(v, ndigits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v, ndigits) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not np.isfinite(value):
            return None
        return round(value, ndigits)
    if isinstance(obj, np.ndarray):
        return _rounded(obj.tolist(), ndigits)
    return obj


def dumps_json(obj: Any, ndigits: int = 6) -> str:
    """Deterministic JSON: sorted keys, rounded floats, NaN/inf as null, trailing newline."""
    return json.dumps(_rounded(obj, ndigits), sort_keys=True, indent=2) + "\n"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any, ndigits: int = 6) -> None:
    write_text(path, dumps_json(obj, ndigits))


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces `out` only if the block succeeds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the output is an ordinary folder
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
