"""An ordered map over worker processes, for stages whose items are independent (renders seeded by their index).

DVC runs stages one at a time, so a stage may use every core. Results come back in input order, and each item
draws from its own seed, so the output does not depend on the number of workers. Workers are spawned (not forked):
a fork would copy the parent's OpenCV/OpenMP thread pools, which can hang the child. A worker that dies (a crash,
the OOM killer) fails the map: `multiprocessing.Pool` would replace it and wait for its lost item forever.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

from thermbench.core.progress import progress

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered_map(fn: Callable[[T], R], items: Iterable[T], desc: str, workers: int | None = None,
                unit: str = "it") -> Iterator[R]:
    """Yield `fn(item)` for each item, in order, computed by `workers` processes (None = every available core;
    1 = in this process). `fn` must be picklable: a module-level function or a functools.partial of one."""
    items = list(items)
    workers = min(available_cores() if workers is None else workers, len(items))
    if workers <= 1:
        yield from progress(map(fn, items), desc, total=len(items), unit=unit)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from progress(pool.map(fn, items), desc, total=len(items), unit=unit)
