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
    if v.size < 2:
        return float(v.mean()), None, None
    return t_interval_se(float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)), v.size - 1, confidence)


def t_interval_se(mean: float, se: float, df: float, confidence: float = 1 - ALPHA) -> tuple[float, float, float]:
    """(mean, low, high) of a two-sided t interval of an estimate with standard error `se` on `df` degrees of
    freedom."""
    half = float(stats.t.ppf(0.5 + confidence / 2, df) * se)
    return mean, mean - half, mean + half


def t_p_value(values: np.ndarray) -> float:
    """Two-sided p of a one-sample t test of mean 0 (1.0 for fewer than 2 values; 0 or 1 for a constant series)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return 1.0
    return t_p_value_se(float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)), v.size - 1)


def t_p_value_se(mean: float, se: float, df: float) -> float:
    """Two-sided p of a t test of mean 0 for an estimate with standard error `se` on `df` degrees of freedom (0 or 1
    for se 0)."""
    if se == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean / se), df))


def mean_squares(x: np.ndarray) -> tuple[float, float, float]:
    """(rows, columns, residual) mean squares of a two-way layout without replication (a 2-D array, at least 2 x 2):
    E[MS_rows] = residual + columns * row variance, E[MS_columns] = residual + rows * column variance,
    E[MS_residual] = residual (the interaction)."""
    r, c = x.shape
    grand, rows, cols = x.mean(), x.mean(axis=1), x.mean(axis=0)
    ms_row = c * float(((rows - grand) ** 2).sum()) / (r - 1)
    ms_col = r * float(((cols - grand) ** 2).sum()) / (c - 1)
    ms_res = float(((x - rows[:, None] - cols[None, :] + grand) ** 2).sum()) / ((r - 1) * (c - 1))
    return ms_row, ms_col, ms_res


def crossed_se(ms_row: float, ms_col: float, ms_res: float, r: int, c: int) -> tuple[float, float]:
    """(se, df) of the grand mean of an r x c layout with both rows and columns random, from its mean squares
    (`crossed_mean`)."""
    terms = [(ms, df) for ms, df in ((ms_row, r - 1), (ms_col, c - 1)) if ms > ms_res]
    terms.append((ms_res * (1 - len(terms)), (r - 1) * (c - 1)))  # -MS_res with both above it, 0 with one, +MS_res
    total = sum(ms for ms, _ in terms)
    df = total ** 2 / sum(ms ** 2 / df for ms, df in terms if ms) if total > 0 else float((r - 1) * (c - 1))
    return float(np.sqrt(total / (r * c))), float(df)


def crossed_mean(x: np.ndarray) -> tuple[float, float, float]:
    """(mean, se, df) of the grand mean of a two-way layout whose rows and columns are both random draws, such as
    kernel settings x seeds: a setting's shift is shared by every seed it re-trained, so it averages out over the
    settings only, a seed's over the seeds only. Var(mean) = row / r + column / c + residual / (r c), from the
    method-of-moments components (each clipped at 0), i.e. (max(MS_rows, MS_res) + max(MS_columns, MS_res) - MS_res)
    / (r c); its degrees of freedom by Satterthwaite's approximation over the mean squares it is made of."""
    x = np.asarray(x, dtype=np.float64)
    r, c = x.shape
    if r < 2 or c < 2:
        raise ValueError(f"a crossed mean needs at least 2 x 2 values, got {r} x {c}")
    se, df = crossed_se(*mean_squares(x), r, c)
    return float(x.mean()), se, df


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
