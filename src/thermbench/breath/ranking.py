"""Which landmark source gives the better breath rate, stated only where the intervals separate the sources.

Per scene kind, a source's score is its rate MAE (the rate-following ridge estimator, breaths/min: the videos change
rate, which the one-rate-per-window estimators miss by design; a trained source: the mean over its seeds of each
seed's MAE). Its 95% interval carries two independent errors:

- the seed spread of a trained source: a t interval over its seeds' MAEs (n - 1 degrees of freedom), since a trained
  source's breath error moves with the seed and across CPUs as much as between sources;
- the sampling error of the few videos: a seeded percentile bootstrap over sequences (a sequence's windows stay
  together: they share faces, breathing and motion) of the seed-mean MAE.

Being independent, their half-widths add in quadrature on each side of the seed-mean MAE (an untrained source has the
bootstrap only). `conclusions.ranking` then orders the sources only where these intervals separate. A ranking that
involves a trained source is blocked while one of its runs did not converge or records no convergence, or while it
has a single seed (no seed spread to measure). The noisy-oracle series (`oracle+Npx`) is not ranked: it calibrates
where a better landmark stops giving a better rate, stated against the oracle's floor by `floor_statements`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermbench.core import conclusions as cc
from thermbench.core.stats import t_interval

ESTIMATOR = "ridge"  # the table's first estimator (Welch and peak counting are the references beside it)
NOISE_SERIES = re.compile(r"oracle\+(\d+(?:\.\d+)?)px")  # ground truth + N px of noise per frame (evaluate.py)


@dataclass
class ConclusionConfig:
    resamples: int = 2000  # bootstrap resamples of the sequences
    confidence: float = 0.95


# --------------------------------------------------------------------------------------------- intervals (numpy)


def bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) counts: how often each of n sequences is drawn in a resample of n drawn with replacement."""
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], rng.integers(0, n, (resamples, n))), 1)
    return counts


def bootstrap_mae(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample, the mean over runs (seeds) of each run's MAE over the resampled sequences' windows.

    sums, counts: (runs, sequences) sum of |error| and number of scored windows per run and sequence; weights:
    (resamples, sequences) from `bootstrap_weights`. NaN where a resample leaves a run without a scored window.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((weights @ sums.T) / (weights @ counts.T)).mean(axis=1)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def combine(point: float, *intervals: tuple[float, float]) -> tuple[float, float]:
    """One interval about `point` from independent ones: on each side, their half-widths in quadrature (a side that
    does not reach past the point counts 0)."""
    below = np.sqrt(sum(max(point - low, 0.0) ** 2 for low, _ in intervals))
    above = np.sqrt(sum(max(high - point, 0.0) ** 2 for _, high in intervals))
    return float(point - below), float(point + above)


# -------------------------------------------------------------------------------------------- sources and scenes


def source_runs(names, runs: dict[str, dict]) -> dict[str, dict[int | None, str]]:
    """{source: {seed: run name}}: a trained run (in `runs`, rates.json's {name: {source, seed, converged}}) under
    its source, an untrained source as its own single run (seed None)."""
    out: dict[str, dict] = {}
    for name in sorted(names):
        run = runs.get(name)
        if run is None:
            out[name] = {None: name}
        else:
            out.setdefault(run["source"], {})[run["seed"]] = name
    return out


def sequence_errors(windows: pd.DataFrame, names: list[str], sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(runs, sequences) sum of |estimate - truth| and count of windows with both, per run (source column) and
    sequence."""
    sums, counts = np.zeros((len(names), len(sequences))), np.zeros((len(names), len(sequences)))
    index = {s: i for i, s in enumerate(sequences)}
    for r, name in enumerate(names):
        w = windows[windows["source"] == name]
        err = (w[f"{ESTIMATOR}_bpm"] - w["true_bpm"]).abs().to_numpy(np.float64)
        ok = np.isfinite(err)
        seq = w["sequence"].map(index).to_numpy()[ok]
        sums[r] = np.bincount(seq, err[ok], minlength=len(sequences))
        counts[r] = np.bincount(seq, minlength=len(sequences))
    return sums, counts


def mae_intervals(windows: pd.DataFrame, runs: dict[str, dict], cfg: ConclusionConfig, seed: int) -> dict:
    """{scene: {source: {mean, low, high, seeds, runs, seed_mae, t, bootstrap}}} over the windows with ground truth;
    a source with a run that scored no window in a scene is left out there. The bootstrap draws the same sequences
    for every source of a scene (its generator: `seed` and the scene's name)."""
    scored = windows[windows["true_bpm"].notna()]
    groups = source_runs(scored["source"].unique(), runs)
    out: dict = {}
    for scene, part in scored.groupby("scene", sort=True):
        sequences = sorted(part["sequence"].unique())
        weights = bootstrap_weights(len(sequences), cfg.resamples, np.random.default_rng([seed, *scene.encode()]))
        out[scene] = {}
        for source, members in groups.items():
            sums, counts = sequence_errors(part, list(members.values()), sequences)
            if (counts.sum(axis=1) == 0).any():
                continue
            trained = None not in members
            mae = sums.sum(axis=1) / counts.sum(axis=1)
            point = float(mae.mean())
            _, seed_low, seed_high = t_interval(mae, cfg.confidence)  # no interval for one seed
            spread = (seed_low, seed_high) if trained and seed_low is not None else None
            boot = percentile_interval(bootstrap_mae(sums, counts, weights), cfg.confidence)
            low, high = combine(point, *[iv for iv in (spread, boot) if iv is not None])
            out[scene][source] = {"mean": point, "low": low, "high": high, "seeds": sorted(members) if trained else [],
                                  "runs": list(members.values()), "seed_mae": mae.tolist(), "t": spread,
                                  "bootstrap": boot}
    return out


# ----------------------------------------------------------------------------------------------------- statements


def convergence_blockers(converged: dict[str, bool | None]) -> list[str]:
    """Why a statement about these trained runs cannot be resolved: {run: converged, None = not recorded}."""
    failed = sorted(name for name, ok in converged.items() if ok is False)
    unknown = sorted(name for name, ok in converged.items() if ok is None)
    return ([f"did not converge: {', '.join(failed)}"] if failed else []) + (
        [f"no convergence record: {', '.join(unknown)}"] if unknown else [])


def seed_blockers(seeds: dict[str, list[int]]) -> list[str]:
    """A trained source with one seed has no seed spread: its interval would claim more than one run can show."""
    single = sorted(source for source, s in seeds.items() if len(s) < 2)
    return [f"one seed only (no seed spread): {', '.join(single)}"] if single else []


def statements(intervals: dict, runs: dict[str, dict]) -> list[cc.Statement]:
    """One ranking of the sources by rate MAE per scene kind (lower first), blocked by its trained sources' runs; the
    noisy-oracle series is left out of it (see `floor_statements`)."""
    out = []
    for scene, items in sorted(intervals.items()):
        items = {source: item for source, item in items.items() if not NOISE_SERIES.fullmatch(source)}
        trained = {source: item for source, item in items.items() if item["seeds"]}
        blockers = seed_blockers({source: item["seeds"] for source, item in trained.items()}) + convergence_blockers(
            {name: runs[name]["converged"] for item in trained.values() for name in item["runs"]})
        out.append(cc.ranking(f"breath.mae_rank.{scene}", f"sources by {scene}-scene breath-rate MAE ({ESTIMATOR}, "
                              "lower first)", {s: (v["mean"], v["low"], v["high"]) for s, v in items.items()},
                              blockers=blockers))
    return out + floor_statements(intervals)


def floor_statements(intervals: dict) -> list[cc.Statement]:
    """Per scene kind, from which nostril noise on the breath rate gets worse than with the true nostrils: the
    smallest N whose oracle+N px interval lies wholly above the oracle's (the estimator's floor). Resolved when a
    level separates; the levels below it are within the floor's reach."""
    out = []
    for scene, items in sorted(intervals.items()):
        levels = sorted((float(m[1]), name) for name in items if (m := NOISE_SERIES.fullmatch(name)))
        if "oracle" not in items or not levels:
            continue
        floor = items["oracle"]
        above = [level for level, name in levels if items[name]["low"] > floor["high"]]
        numbers = {"floor": {k: floor[k] for k in ("mean", "low", "high")},
                   **{name: {k: items[name][k] for k in ("mean", "low", "high")} for _, name in levels}}
        claim = f"{scene}-scene breath-rate MAE ({ESTIMATOR}) against nostril noise: worse than the true nostrils from"
        if above:
            verdict = f"{above[0]:g} px"
            text = (f"{claim} {verdict} (floor {floor['mean']:.2f} [{floor['low']:.2f}, {floor['high']:.2f}] "
                    f"breaths/min; oracle+{above[0]:g}px {items[f'oracle+{above[0]:g}px']['mean']:.2f})")
            out.append(cc.Statement(f"breath.floor.{scene}", claim, verdict, True, text, numbers))
        else:
            why = f"no level up to {levels[-1][0]:g} px lies above the floor's interval"
            out.append(cc.Statement(f"breath.floor.{scene}", claim, cc.NOT_RESOLVED, False,
                                    f"{claim}: {cc.NOT_RESOLVED} ({why})", numbers, why))
    return out
