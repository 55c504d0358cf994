"""Intervals for comparisons over seeds and over test images: paired t, Holm across a family, the bootstrap. Pure numpy.

Two sources of error sit behind every trained number: the seed (initial weights, batches, augmentation; and a CPU's
float kernels, which act like another seed) and the finite test set. A difference is called resolved only when it
stands against both: the t interval over seeds (Holm-corrected across the comparisons of one table) and a bootstrap
over test images of the seed-mean difference.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05
BOOTSTRAP = 2000


def t_interval(values: np.ndarray, confidence: float = 1 - ALPHA) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of a two-sided t interval of the mean of `values` (n - 1 degrees of freedom); no interval
    (None, None) for fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if v.size < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def t_p_value(values: np.ndarray) -> float:
    """Two-sided p of a one-sample t test of mean 0 (1.0 for fewer than 2 values; 0 or 1 for a constant series)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return 1.0
    sd = v.std(ddof=1)
    if sd == 0:
        return 1.0 if v.mean() == 0 else 0.0
    t = v.mean() / (sd / np.sqrt(v.size))
    return float(2 * stats.t.sf(abs(t), v.size - 1))


def holm_adjust(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values of one family (step-down, monotone, capped at 1): a comparison is rejected
    at level alpha exactly when its adjusted p is below alpha."""
    names = sorted(p_values, key=lambda n: (p_values[n], n))
    m, running, out = len(names), 0.0, {}
    for i, name in enumerate(names):
        running = max(running, min(1.0, (m - i) * p_values[name]))
        out[name] = running
    return out


def holm_levels(p_values: dict[str, float], alpha: float = ALPHA) -> dict[str, float]:
    """The confidence level of each comparison's interval under Holm: 1 - alpha / (m - rank + 1), rank by p."""
    names = sorted(p_values, key=lambda n: (p_values[n], n))
    return {name: 1 - alpha / (len(names) - i) for i, name in enumerate(names)}


def bootstrap_mean(values: np.ndarray, n: int = BOOTSTRAP, seed: int = 0,
                   confidence: float = 1 - ALPHA) -> dict[str, float]:
    """Percentile bootstrap of the mean of per-image `values` (NaNs dropped): {mean, low, high, se}, resampling images
    with replacement `n` times from a seeded generator."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("bootstrap_mean: no finite values")
    idx = np.random.default_rng(seed).integers(0, v.size, size=(n, v.size))
    means = v[idx].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"mean": float(v.mean()), "low": float(low), "high": float(high), "se": float(means.std(ddof=1))}


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided p of the exact McNemar test of paired yes/no outcomes: a binomial test of the discordant pairs
    (`a_only`: items only A got, `b_only`: only B) against 1/2; 1.0 when there is none."""
    n = a_only + b_only
    return float(stats.binomtest(a_only, n, 0.5).pvalue) if n else 1.0
