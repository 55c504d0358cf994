"""Which landmark source gives the better breath rate, stated only where the intervals separate the sources.

Per scene kind, a source's score is its rate MAE (the rate-following ridge estimator, breaths/min: the videos change
rate, which the one-rate-per-window estimators miss by design; a trained source: the mean over its seeds of each
seed's MAE). Its 95% interval is a seeded percentile bootstrap that respects how the errors cluster: a sequence's
windows stay together (they share faces, breathing and motion), the same resampled sequences for every source of a
scene, and a trained source's seeds are resampled too (hierarchically: seeds, then each seed's MAE over the resampled
sequences), since its error moves with the seed and across CPUs as much as between sources. A scene with fewer than
`min_sequences` sequences gets no interval and no statement ("too few sequences"): a bootstrap over 2 or 3 clusters is
their min-max.

Per scene kind three statements, each stating its number of sequences (and seeds):
- the ranking of the untrained sources (ground truth, fixed ROI, whole face, pretrained detectors as they are):
  deterministic, the same on any CPU;
- the pairs that involve a trained source, blocked while one of its runs did not converge or records no convergence,
  or while it has a single seed; the kernel check applies to these (`conclusions.final`);
- the floor: from which nostril noise (the `oracle+Npx` series) the rate gets worse than with the true nostrils
  (`floor_statements`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermbench.core import conclusions as cc

ESTIMATOR = "ridge"  # the table's first estimator (Welch and peak counting are the references beside it)
NOISE_SERIES = re.compile(r"oracle\+(\d+(?:\.\d+)?)px")  # ground truth + N px of noise per frame (evaluate.py)


@dataclass
class ConclusionConfig:
    resamples: int  # bootstrap resamples of the sequences (and seeds)
    min_sequences: int  # fewer sequences in a scene: no interval, no statement
    confidence: float


# --------------------------------------------------------------------------------------------- intervals (numpy)


def bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) counts: how often each of n sequences is drawn in a resample of n drawn with replacement."""
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], rng.integers(0, n, (resamples, n))), 1)
    return counts


def bootstrap_mae(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray,
                  run_weights: np.ndarray | None = None) -> np.ndarray:
    """Per resample, the mean over runs (seeds) of each run's MAE over the resampled sequences' windows.

    sums, counts: (runs, sequences) sum of |error| and number of scored windows per run and sequence; weights:
    (resamples, sequences) from `bootstrap_weights`; run_weights: (resamples, runs) how often each run is drawn (the
    seeds resampled too), None: every run once. NaN where a resample leaves a drawn run without a scored window.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        per_run = (weights @ sums.T) / (weights @ counts.T)
    if run_weights is None:
        return per_run.mean(axis=1)
    drawn = np.where(run_weights > 0, per_run * run_weights, 0.0)
    return drawn.sum(axis=1) / run_weights.sum(axis=1)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return float(low), float(high)


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
    """{scene: {source: {mean, low, high, sequences, seeds, runs, seed_mae}}} over the windows with ground truth; a
    source with a run that scored no window in a scene is left out there. The bootstrap draws the same sequences for
    every source of a scene (its generator: `seed` and the scene's name) and a trained source's seeds from its own
    (`seed`, the scene, the source); low and high are None where the scene has fewer than `cfg.min_sequences`."""
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
            low = high = None
            if len(sequences) >= cfg.min_sequences:
                rng = np.random.default_rng([seed, *scene.encode(), *source.encode()])
                run_weights = bootstrap_weights(len(members), cfg.resamples, rng) if trained else None
                low, high = percentile_interval(bootstrap_mae(sums, counts, weights, run_weights), cfg.confidence)
            out[scene][source] = {"mean": float(mae.mean()), "low": low, "high": high, "sequences": len(sequences),
                                  "seeds": sorted(members) if trained else [], "runs": list(members.values()),
                                  "seed_mae": mae.tolist()}
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


def _counts(items: dict) -> str:
    """How many sequences (and seeds per trained source) a statement rests on."""
    n = next(iter(items.values()))["sequences"]
    seeds = ", ".join(f"{source} {len(item['seeds'])}" for source, item in sorted(items.items()) if item["seeds"])
    return f"n = {n} sequences" + (f"; seeds: {seeds}" if seeds else "")


def _too_few(items: dict, min_sequences: int) -> list[str]:
    n = next(iter(items.values()))["sequences"]
    return [f"too few sequences: {n} < {min_sequences}"] if n < min_sequences else []


def statements(intervals: dict, runs: dict[str, dict], min_sequences: int) -> list[cc.Statement]:
    """Per scene kind (lower MAE first): the ranking of the untrained sources (deterministic), the pairs that involve
    a trained source (blocked by its runs), and the floor (`floor_statements`). The noisy-oracle series is in none of
    the rankings."""
    out = []
    for scene, items in sorted(intervals.items()):
        items = {source: item for source, item in items.items() if not NOISE_SERIES.fullmatch(source)}
        trained = {source: item for source, item in items.items() if item["seeds"]}
        untrained = {source: item for source, item in items.items() if not item["seeds"]}
        claim = f"{scene}-scene breath-rate MAE ({ESTIMATOR}, lower first)"
        if len(untrained) > 1:
            out.append(cc.ranking(f"breath.mae_rank.{scene}.untrained", f"untrained sources by {claim}",
                                  {s: (v["mean"], v["low"], v["high"]) for s, v in untrained.items()},
                                  blockers=_too_few(untrained, min_sequences), trained=False,
                                  note=_counts(untrained)))
        if trained and len(items) > 1:
            blockers = _too_few(items, min_sequences) + seed_blockers(
                {source: item["seeds"] for source, item in trained.items()}) + convergence_blockers(
                {name: runs[name]["converged"] for item in trained.values() for name in item["runs"]})
            out.append(cc.ranking(f"breath.mae_rank.{scene}.trained", f"trained sources against every source by "
                                  f"{claim}", {s: (v["mean"], v["low"], v["high"]) for s, v in items.items()},
                                  blockers=blockers, involving=set(trained), note=_counts(items)))
    return out + floor_statements(intervals, min_sequences)


def floor_statements(intervals: dict, min_sequences: int) -> list[cc.Statement]:
    """Per scene kind, from which nostril noise on the breath rate gets worse than with the true nostrils: the
    smallest N from which every oracle+N px interval, N and above, lies wholly above the oracle's (the estimator's
    floor). Resolved only where the series is monotone in that sense: every level below N within the floor's reach,
    every level from N on above it. Deterministic: ground truth and seeded noise, no training."""
    out = []
    for scene, items in sorted(intervals.items()):
        levels = sorted((float(m[1]), name) for name in items if (m := NOISE_SERIES.fullmatch(name)))
        if "oracle" not in items or not levels:
            continue
        floor = items["oracle"]
        numbers = {"floor": {k: floor[k] for k in ("mean", "low", "high")}, "sequences": floor["sequences"],
                   **{name: {k: items[name][k] for k in ("mean", "low", "high")} for _, name in levels}}
        claim = f"{scene}-scene breath-rate MAE ({ESTIMATOR}) against nostril noise: worse than the true nostrils from"
        n = f"n = {floor['sequences']} sequences"
        why = "; ".join(_too_few(items, min_sequences))
        if not why:
            above = [items[name]["low"] > floor["high"] for _, name in levels]
            first = above.index(True) if any(above) else None
            if first is None:
                why = f"no level up to {levels[-1][0]:g} px lies above the floor's interval"
            elif not all(above[first:]):
                back = [f"{level:g} px" for (level, _), up in zip(levels[first:], above[first:]) if not up]
                why = (f"not monotone: {levels[first][0]:g} px lies above the floor's interval, "
                       f"{', '.join(back)} within it again")
            else:
                level, name = levels[first]
                verdict = f"{level:g} px"
                text = (f"{claim} {verdict} (floor {floor['mean']:.2f} [{floor['low']:.2f}, {floor['high']:.2f}] "
                        f"breaths/min; oracle+{level:g}px {items[name]['mean']:.2f}; every larger level above too; "
                        f"{n})")
                out.append(cc.Statement(f"breath.floor.{scene}", claim, verdict, True, text, numbers, trained=False))
                continue
        out.append(cc.Statement(f"breath.floor.{scene}", claim, cc.NOT_RESOLVED, False,
                                f"{claim}: {cc.NOT_RESOLVED} ({why}; {n})", numbers, why, trained=False))
    return out
