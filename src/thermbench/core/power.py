"""Power of the comparisons `stats` makes: the smallest effect each test detects, where the variance behind a
difference sits (seeds, test items, CPU kernel settings), and a simulation of a whole verdict rule. Pure numpy/scipy.

The minimum detectable effect (MDE) of a test at confidence `level` (two-sided; a Holm level such as 1 - 0.05/3 is
passed as it is) and `power` is the smallest absolute true effect the test rejects 0 for with probability `power`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize, stats

from thermbench.core.stats import (
    ALPHA,
    bootstrap_mean,
    crossed_mean,
    crossed_se,
    mcnemar_exact,
    mean_squares,
    t_interval,
    t_interval_se,
)


def _check_power(level: float, power: float) -> None:
    """A power at or below the test's size (1 - level) is reached by a zero effect: no MDE to solve for."""
    if not 1 - level < power < 1:
        raise ValueError(f"power {power} must lie in (1 - level, 1) = ({1 - level:g}, 1)")


def mde_paired_t(sd: float, n: int, level: float = 1 - ALPHA, power: float = 0.8) -> float | None:
    """MDE of the two-sided one-sample t test on `n` paired differences of standard deviation `sd` (`mde_t` at se
    sd / sqrt(n), n - 1 degrees of freedom). None for n < 2 or a non-finite sd."""
    if n < 2 or not np.isfinite(sd):
        return None
    return mde_t(abs(sd) / np.sqrt(n), n - 1, level, power)


def mde_t(se: float, df: float, level: float = 1 - ALPHA, power: float = 0.8) -> float:
    """MDE of a two-sided t test of an estimate with standard error `se` on `df` degrees of freedom, exactly: the
    noncentrality delta with P(|T'| > t_crit) = power, T' ~ t'(df, delta), as an effect delta * se. (The lower tail
    is taken as sf(t_crit) at -delta: scipy's nct.cdf returns NaN far in its left tail.)"""
    _check_power(level, power)
    crit = stats.t.ppf(0.5 + level / 2, df)

    def shortfall(nc: float) -> float:
        return stats.nct.sf(crit, df, nc) + stats.nct.sf(crit, df, -nc) - power

    high = crit + stats.norm.ppf(power) + 1.0
    while shortfall(high) < 0:
        high *= 2
    return float(optimize.brentq(shortfall, 0.0, high, xtol=1e-10) * se)


def mde_mean(se: float, level: float = 1 - ALPHA, power: float = 0.8) -> float:
    """Normal-approximation MDE of an estimate with standard error `se` (e.g. a bootstrap over test items):
    (z_{1 - (1 - level)/2} + z_power) * se."""
    _check_power(level, power)
    return float((stats.norm.ppf(0.5 + level / 2) + stats.norm.ppf(power)) * se)


def mde_mcnemar(n: int, discordant: float, level: float = 1 - ALPHA, power: float = 0.8) -> float | None:
    """MDE of the exact two-sided McNemar test (`stats.mcnemar_exact`, rejecting at p < 1 - level) as a difference
    in proportions (a_only - b_only) / n, for `n` items of which a share `discordant` only one of the two got.

    Exact given the discordant count, taken at its expectation m = round(discordant * n): a_only ~ Binomial(m, p),
    p solved for the power of the test's rejection region, the effect being m (2p - 1) / n. None when no split of m
    discordant items can reject (m too small for the level)."""
    _check_power(level, power)
    m = int(round(discordant * n))
    # p falls as a_only nears m/2 (symmetric in a_only <-> m - a_only): the region is a_only < c or a_only > m - c.
    c = bisect.bisect_left(range(m // 2 + 1), True, key=lambda k: mcnemar_exact(k, m - k) >= 1 - level)
    if c == 0:
        return None

    def shortfall(p: float) -> float:
        return float(stats.binom.cdf(c - 1, m, p) + stats.binom.sf(m - c, m, p)) - power

    return float(m * (2 * optimize.brentq(shortfall, 0.5, 1.0, xtol=1e-12) - 1) / n)


def _complete_columns(values: np.ndarray) -> np.ndarray:
    """The columns of a 2-D array without a non-finite value."""
    v = np.asarray(values, dtype=np.float64)
    return v[:, np.isfinite(v).all(axis=0)]


def _components(x: np.ndarray, row: str, column: str) -> dict:
    """Method-of-moments variance components of a two-way random-effects layout without replication (rows x
    columns, `stats.mean_squares`). Negative estimates are clipped at 0 and named in "clipped"."""
    r, c = x.shape
    if r < 2 or c < 2:
        raise ValueError(f"a two-way split needs at least 2 x 2 complete values, got {r} x {c}")
    ms_row, ms_col, ms_res = mean_squares(x)
    raw = {row: (ms_row - ms_res) / c, column: (ms_col - ms_res) / r}
    return {**{k: max(v, 0.0) for k, v in raw.items()}, "residual": ms_res,
            "clipped": sorted(k for k, v in raw.items() if v < 0)}


def variance_split(values: np.ndarray) -> dict:
    """Where the variance of a per-item metric difference (seeds x items; items with a NaN dropped) sits: seed
    effects, item effects and their interaction ("residual"), with the variance of the mean each interval sees.

    "var_of_mean_over_seeds" = seed + residual / n_items: the variance across seeds of one seed's item mean, which
    the t interval over seeds measures. "var_of_mean_over_items" = (item + residual / n_seeds) / n_items: the
    variance of the mean of the seed-mean per-item differences, which the bootstrap over items measures. Both from
    the clipped components."""
    x = _complete_columns(values)
    split = _components(x, "seed", "item")
    s, i = x.shape
    return {**split, "n_seeds": s, "n_items": i,
            "var_of_mean_over_seeds": split["seed"] + split["residual"] / i,
            "var_of_mean_over_items": (split["item"] + split["residual"] / s) / i}


def variance_split_runs(groups: dict[str, np.ndarray]) -> dict:
    """Where the variance of a per-run scalar sits when the same seeds are re-run under several CPU kernel settings
    ({setting: values over seeds, same seed order}; seeds with a NaN dropped): seed effects, setting effects and
    their interaction ("residual"), by the same two-way split (settings x seeds)."""
    x = _complete_columns(np.stack([np.asarray(groups[k], dtype=np.float64) for k in sorted(groups)]))
    return {**_components(x, "setting", "seed"), "n_settings": x.shape[0], "n_seeds": x.shape[1]}


def kernel_share(here, runs: dict) -> dict | None:
    """How much of a pair's difference moves with the CPU kernels: this run's per-seed differences (`here`) and each
    kernel setting's re-training of the same seeds (`runs`, {setting: per-seed differences}; a setting with another
    number of seeds left out). Over two or more seeds, the settings x seeds split of `variance_split_runs` (this run
    as one more setting): "setting" a shift every seed shares, "residual" each seed's own move; with one run a
    setting (a model trained once), the variance across the re-trainings ("across"). None without a setting."""
    here = np.asarray(here, dtype=np.float64)
    kept = {s: np.asarray(v, dtype=np.float64) for s, v in sorted(runs.items()) if len(v) == len(here)}
    if not kept:
        return None
    if len(here) == 1:
        return {"settings": list(kept), "across": float(np.concatenate([here, *kept.values()]).var(ddof=1))}
    return {"settings": list(kept), **variance_split_runs({"": here, **kept})}


def mde_from_split(split: dict, n_seeds: int, n_items: int, level: float = 1 - ALPHA, power: float = 0.8) -> dict:
    """MDEs of a design with `n_seeds` seeds and `n_items` test items, from the components of `variance_split`: of
    the t test over seeds (per-seed sd sqrt(seed + residual / n_items)) and, by the normal approximation, of the
    bootstrap over items (se sqrt((item + residual / n_seeds) / n_items)). More items shrink the former only through
    the residual; more seeds, as 1 / sqrt(n_seeds)."""
    sd = float(np.sqrt(split["seed"] + split["residual"] / n_items))
    se = float(np.sqrt((split["item"] + split["residual"] / n_seeds) / n_items))
    return {"n_seeds": n_seeds, "n_items": n_items,
            "sd_seeds": sd, "mde_seeds": mde_paired_t(sd, n_seeds, level, power),
            "se_items": se, "mde_items": mde_mean(se, level, power)}


def paired_rule(matrix: np.ndarray, level: float = 1 - ALPHA, bootstrap_check: bool = True, margin: float = 0.0,
                n_boot: int = 500, settings: int = 1) -> int:
    """The project's verdict on a seeds x items matrix of per-item differences A - B (items with a NaN dropped): +1
    (A > B) or -1 (A < B) when resolved, else 0. Resolved when the t interval at `level` of the per-seed item means
    excludes 0 with a clearance of at least `margin` of its half-widths (|mean| - half >= margin * half, as
    `conclusions.clearance` measures it) and, with `bootstrap_check`, the 95% bootstrap over items (`n_boot`
    resamples, seed 0) of the seed-mean per-item differences excludes 0 on the same side. With `settings` > 1 the
    rows are that many kernel settings' re-trainings of the same seeds stacked in blocks, this run's first, and the
    interval is `stats.crossed_mean`'s over the settings x seeds item means (`pairs.pool`); its margin is counted in
    half-widths of the first block's own t interval, as `conclusions.final` counts a pooled statement's."""
    x = _complete_columns(matrix)
    if settings > 1:
        blocks = np.array_split(x, settings)
        mean, se, df = crossed_mean(np.stack([b.mean(axis=1) for b in blocks]))
        mean, low, high = t_interval_se(mean, se, df, level)
        run_mean, _, run_high = t_interval(blocks[0].mean(axis=1), level)
        unit = None if run_high is None else run_high - run_mean
    else:
        mean, low, high = t_interval(x.mean(axis=1), level)
        unit = None
    if low is None:
        return 0
    half = high - mean
    clear = abs(mean) - half
    if clear <= 0 or clear < margin * (half if not unit else unit):
        return 0
    if bootstrap_check:
        boot = bootstrap_mean(x.mean(axis=0), n_boot)
        if boot["low"] <= 0 <= boot["high"] or (boot["mean"] > 0) != (mean > 0):
            return 0
    return int(np.sign(mean))


def mde_crossed(seed: float, setting: float, residual: float, n_settings: int, n_seeds: int,
                level: float = 1 - ALPHA, power: float = 0.8) -> float:
    """MDE of `stats.crossed_mean`'s t test for a design of `n_settings` x `n_seeds` runs with these variance
    components (`variance_split_runs`), at the mean squares they lead to on average."""
    se, df = crossed_se(residual + n_seeds * setting, residual + n_settings * seed, residual, n_settings, n_seeds)
    return mde_t(se, df, level, power)


def _scaled(v: np.ndarray, var: float) -> np.ndarray:
    """`v` rescaled to a mean square of `var` (zeros for var 0)."""
    return v * np.sqrt(var / np.mean(v ** 2)) if var > 0 else np.zeros_like(v)


def simulate_rule(rule: Callable[[np.ndarray], int], residuals: np.ndarray, effects: Sequence[float], reps: int,
                  seed: int, seeds: int | None = None, settings: int = 1, setting: float = 0.0) -> dict[float, float]:
    """Share of simulated designs a verdict `rule` (matrix -> +1, -1 or 0, as `paired_rule`) resolves, per effect
    added to every cell; every effect sees the same replicates. At effect 0 a resolution either way counts (the
    rule's effective level); otherwise only one in the effect's direction (its power).

    The null world is fitted to `residuals`, a seeds x items matrix of per-item differences (items with a NaN
    dropped; its mean is not used), by `variance_split`'s components, and keeps its shape: a replicate has normal
    seed effects (variance "seed"), the item effects of items drawn with replacement (shrunk to variance "item"), and
    for each cell an interaction drawn from its item's column of interactions (scaled to variance "residual").
    Not a plain bootstrap of rows and columns: that counts the interaction three times (once in the row means, once
    in the column means, once in the cells; Owen 2007, "The pigeonhole bootstrap"), and its repeated seeds (5 seeds
    give 3.4 distinct on average) shrink the t interval, so that a t rule's level came out near 0.14 instead of 0.05
    on pure noise of 5 seeds x 100 items. `seeds`: the number of rows of the simulated design (default: as many as
    `residuals` has), e.g. the runs of every CPU kernel setting stacked in `settings` blocks; each block shares a
    normal shift of variance `setting` (what a setting's re-training of the once-trained models moves every seed by,
    `kernel_share`), and its seeds are drawn afresh."""
    x = _complete_columns(residuals)
    split = _components(x, "seed", "item")
    grand, rows, cols = x.mean(), x.mean(axis=1), x.mean(axis=0)
    item_effects = _scaled(cols - grand, split["item"])
    cells = _scaled(x - rows[:, None] - cols[None, :] + grand, split["residual"])
    s, i = x.shape
    rows = seeds or s
    blocks = np.repeat(np.arange(settings), [len(b) for b in np.array_split(np.arange(rows), settings)])
    rng = np.random.default_rng(seed)
    hits = np.zeros(len(effects))
    for _ in range(reps):
        items = rng.integers(0, i, i)
        world = (rng.normal(0.0, np.sqrt(split["seed"]), (rows, 1)) + item_effects[items]
                 + cells[rng.integers(0, s, (rows, i)), items])
        if setting > 0:
            world = world + rng.normal(0.0, np.sqrt(setting), settings)[blocks][:, None]
        for j, effect in enumerate(effects):
            verdict = rule(world + effect)
            hits[j] += verdict != 0 if effect == 0 else verdict == np.sign(effect)
    return {float(e): float(h / reps) for e, h in zip(effects, hits)}


def mde_of_rule(rule: Callable[[np.ndarray], int], residuals: np.ndarray, grid: Sequence[float], reps: int,
                seed: int, power: float = 0.8, seeds: int | None = None, settings: int = 1,
                setting: float = 0.0) -> dict:
    """{"mde": the smallest positive effect of `grid` that `rule` resolves (in its direction) in at least a share
    `power` of `simulate_rule`'s replicates, None if none does; "curve": the share per effect of `grid`}."""
    curve = simulate_rule(rule, residuals, grid, reps, seed, seeds, settings, setting)
    return {"mde": min((e for e, share in curve.items() if e > 0 and share >= power), default=None), "curve": curve}
