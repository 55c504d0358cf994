"""Progress for long work: a live bar on a terminal, a few plain lines in logs (CI, `dvc repro > log`)."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_INTERVAL_S = 30.0  # non-terminal output: at most one progress line per this many seconds


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate `items` with progress on stderr: tqdm's bar on a TTY, else a line every LOG_INTERVAL_S seconds."""
    if sys.stderr.isatty():
        yield from tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr)
        return
    yield from tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, mininterval=LOG_INTERVAL_S,
                    maxinterval=LOG_INTERVAL_S, ascii=True, ncols=80)
