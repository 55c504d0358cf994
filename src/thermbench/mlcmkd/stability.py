"""Training-stability statistics of a gradient-norm series (paper Table V). Pure numpy."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def grad_norm_stats(norms: Iterable[float]) -> dict[str, float]:
    """Table V metrics of g_1..g_n (n >= 2):

    std (population, ddof 0), cv_percent = 100 std / mean, mean_abs_step_change = mean |g_{t+1} - g_t|,
    r2 = coefficient of determination of the least-squares line g ~ a + b t (t = step index); a constant series is
    fitted exactly, so r2 = 1 there.
    """
    g = np.asarray(list(norms), dtype=np.float64)
    if g.ndim != 1 or g.size < 2 or not np.all(np.isfinite(g)):
        raise ValueError(f"grad_norm_stats: need >= 2 finite values, got shape {g.shape}")
    t = np.arange(g.size, dtype=np.float64)
    slope, intercept = np.polyfit(t, g, 1)
    ss_res = float(np.sum((g - (intercept + slope * t)) ** 2))
    ss_tot = float(np.sum((g - g.mean()) ** 2))
    return {
        "std": float(g.std()),
        "cv_percent": float(100.0 * g.std() / g.mean()),
        "mean_abs_step_change": float(np.mean(np.abs(np.diff(g)))),
        "r2": 1.0 if ss_tot == 0.0 else 1.0 - ss_res / ss_tot,
    }


def early_late_ratio(norms: Iterable[float], share: float = 0.2) -> float:
    """Mean of the first `share` of g_1..g_n over the mean of the last `share` (at least one step each): > 1 when the
    series starts high and settles, which inflates the CV of Table V without any step-to-step volatility."""
    g = np.asarray(list(norms), dtype=np.float64)
    k = max(1, int(round(share * g.size)))
    if g.ndim != 1 or g.size < 2 * k or not np.all(np.isfinite(g)):
        raise ValueError(f"early_late_ratio: need >= {2 * k} finite values, got shape {g.shape}")
    return float(g[:k].mean() / g[-k:].mean())
