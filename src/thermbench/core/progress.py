"""Progress for long work: a live bar on a terminal, a few plain lines in logs (CI, `dvc repro > log`).

tqdm in a pipe still writes carriage-return frames, which pile up in a log file as one endless line; off a terminal
this module writes whole lines instead, and only for loops that run long enough to need them.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")

LOG_INTERVAL_S = 30.0  # off a terminal: at most one line per this many seconds, the first after as long


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it", leave: bool = True,
             size: Callable[[T], int] | None = None, stream: TextIO | None = None) -> Iterator[T]:
    """Iterate `items`, reporting progress on `stream` (default stderr).

    On a terminal: tqdm's bar (`leave=False` clears it when done). Elsewhere: one line like
    `desc: 120/400 it (30%), 31 s` every LOG_INTERVAL_S seconds while the loop runs, and a closing
    `desc: 400/400 it, done in 95 s` only if at least one such line was written: a short loop writes nothing.
    `size(item)` is how much one item advances the count (bytes of a downloaded chunk, say); default 1.
    `total` defaults to len(items) where items has a length (and `size` is not given).
    """
    stream = sys.stderr if stream is None else stream
    if total is None and size is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if stream.isatty():
        from tqdm import tqdm  # here: a bare GPU machine (make gpu-check) runs the training loop without tqdm

        with tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", leave=leave, file=stream) as bar:
            for item in items:
                yield item
                bar.update(size(item) if size else 1)
        return

    start = last = time.monotonic()
    done, lines = 0, 0
    for item in items:
        yield item
        done += size(item) if size else 1
        now = time.monotonic()
        if now - last >= LOG_INTERVAL_S:
            last, lines = now, lines + 1
            stream.write(f"{desc}: {_count(done, total, unit)}, {now - start:.0f} s\n")
            stream.flush()
    if lines:
        stream.write(f"{desc}: {_count(done, total, unit)}, done in {time.monotonic() - start:.0f} s\n")
        stream.flush()


def _count(done: int, total: int | None, unit: str) -> str:
    if total:
        return f"{done}/{total} {unit} ({100 * done / total:.0f}%)"
    return f"{done} {unit}"
