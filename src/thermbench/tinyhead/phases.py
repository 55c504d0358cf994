"""The phases of a TinyHead training curve: where the validation error falls fast, for the report's reading of it."""

from __future__ import annotations

import numpy as np


def descent_phases(loss: list[float], window: int = 5, rate: float = 2.0, min_share: float = 0.1) -> list[dict]:
    """Phases of fast descent in a curve (the blog reads its validation mean error), to test the blog's "two-stage
    convergence" on data, not by eye.

    The log of the curve is smoothed by a centred `window`-epoch moving average, then replaced by its running minimum
    (the best value so far), so spikes cannot create or split phases and the falls add up to the total fall. An
    epoch's fall is fast when it exceeds `rate` times the average fall per epoch. Runs of fast epochs are phases;
    phases holding less than `min_share` of the total fall are dropped. Each phase: first/last epoch counted from 0
    (the position in `loss`) and its share of the fall.
    """
    log = np.log(np.maximum(np.asarray(loss, dtype=np.float64), 1e-12))
    if len(log) < window + 2:
        return []
    smooth = np.convolve(np.pad(log, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
    best = np.minimum.accumulate(smooth)
    fall = -np.diff(best)  # fall[i]: from epoch i to epoch i + 1
    total = best[0] - best[-1]
    if total <= 0:
        return []
    fast = fall > rate * total / len(fall)
    phases, start = [], None
    for i, flag in enumerate(np.append(fast, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            share = float(fall[start:i].sum() / total)
            if share >= min_share:
                phases.append({"first_epoch": start, "last_epoch": i, "share": share})
            start = None
    return phases
