"""Which landmark source gives the better breath rate, stated only where a paired interval separates two sources.

Per scene kind, a source's score is its rate MAE (the rate-following ridge estimator, breaths/min: the videos change
rate, which the one-rate-per-window estimators miss by design; a trained source: the mean over its seeds of each
seed's MAE). A source has a rate in a window when it (a trained source: every one of its seeds) gave the ridge a rate
there; its coverage is how many sequences and windows (with ground truth) it has a rate in, a result of its own: a
source that finds no face half the time is not better for being scored on the other half alone.

Two sources are compared only over the windows where both have a rate (`paired_differences`): the difference of their
MAEs there, with a seeded percentile bootstrap of it that respects how the errors cluster: a sequence's windows stay
together (they share faces, breathing and motion), both sources' errors come from the same resampled sequences (the
difference is paired), and a trained source's seeds are resampled too (hierarchically: seeds, then each seed's MAE
over the resampled sequences), since its error moves with the seed and across CPUs as much as between sources. A
source with a rate in fewer than `min_sequences` sequences of a scene is not ranked there, and a pair with fewer
matched sequences gets no interval: a bootstrap over 2 or 3 clusters is their min-max.

Per scene kind three statements, each naming every ranked source's coverage (and seeds) and the sources not ranked:
- the ranking of the untrained sources (ground truth, fixed ROI, whole face, pretrained detectors as they are):
  deterministic where the kernel check finds its numbers identical under every setting (`conclusions.final`);
- the pairs that involve a trained source, blocked while one of its runs did not converge or records no convergence,
  or while it has a single seed; stated as far as every kernel setting agrees;
- the floor: from which nostril noise (the `oracle+Npx` series) the rate gets worse than with the true nostrils
  (`floor_statements`; every level has a rate wherever the true nostrils do, so their own intervals
  (`mae_intervals`) are compared).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermbench.core import conclusions as cc
from thermbench.core import power

ESTIMATOR = "ridge"  # the table's first estimator (Welch and peak counting are the references beside it)
WINDOW = ["sequence", "subject", "t_start"]  # one window of one face, the same for every source
NOISE_SERIES = re.compile(r"oracle\+(\d+(?:\.\d+)?)px")  # ground truth + N px of noise per frame (evaluate.py)


@dataclass
class ConclusionConfig:
    resamples: int  # bootstrap resamples of the sequences (and seeds)
    min_sequences: int  # a source with a rate in fewer sequences of a scene is not ranked; a pair: no interval
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


# ------------------------------------------------------------------------------------------ matched windows (pandas)


def window_errors(part: pd.DataFrame, names) -> pd.DataFrame:
    """|estimate - truth| per window with ground truth (rows, indexed by `WINDOW`) and run (columns), NaN where the
    run has no rate there; every window any run has a row for is a row."""
    scored = part[part["true_bpm"].notna() & part["source"].isin(names)]
    err = (scored[f"{ESTIMATOR}_bpm"] - scored["true_bpm"]).abs().rename("err")
    table = scored.assign(err=err).pivot_table("err", WINDOW, "source", aggfunc="first", dropna=False)
    windows = scored[WINDOW].drop_duplicates().set_index(WINDOW).index
    return table.reindex(index=windows.sort_values(), columns=sorted(names))


def coverage(errors: pd.DataFrame, members: dict) -> pd.Series:
    """Per window, whether the source has a rate there: every one of its runs (a trained source's seeds) has one."""
    return errors[list(members.values())].notna().all(axis=1)


def _sequence_sums(errors: pd.DataFrame, runs: list[str], sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(runs, sequences) sum of |error| and (sequences,) count of the given windows per sequence."""
    seq = errors.index.get_level_values("sequence")
    sums = np.stack([errors[r].groupby(seq).sum().reindex(sequences).to_numpy(np.float64) for r in runs])
    counts = pd.Series(1, index=seq).groupby(level=0).sum().reindex(sequences).to_numpy(np.float64)
    return sums, np.broadcast_to(counts, sums.shape)


def paired_differences(windows: pd.DataFrame, runs: dict[str, dict], cfg: ConclusionConfig, seed: int) -> dict:
    """{scene: {"coverage": {source: {sequences, windows, of_sequences, of_windows, seeds, runs}}, "pairs": {(a, b):
    {a, b, difference, low, high, sequences, windows, mde}}}} for every pair of sources (a before b by name) that both
    have a rate in at least `cfg.min_sequences` sequences: a's and b's MAE over the windows where both have a rate, and
    a 95% interval of a's minus b's from a bootstrap of the matched sequences (generator: `seed` and the scene; a
    trained source's seeds from `seed`, the scene and the source, as in `mae_intervals`); low and high None where
    fewer than `cfg.min_sequences` sequences hold a matched window (the MAEs too where none does); `mde`: the
    smallest difference the pair could have detected at 80% power (`power.mde_mean` of the bootstrap's standard
    error: sequences and a trained source's seeds resampled together). The noisy-oracle series is left out."""
    out: dict = {}
    for scene, part in windows.groupby("scene", sort=True):
        groups = {s: m for s, m in source_runs(part["source"].unique(), runs).items() if not NOISE_SERIES.fullmatch(s)}
        errors = window_errors(part, [n for m in groups.values() for n in m.values()])
        if errors.empty:
            continue
        seq = errors.index.get_level_values("sequence")
        has = {source: coverage(errors, members) for source, members in groups.items()}
        out[scene] = {"coverage": {source: {
            "sequences": int(seq[mask.to_numpy()].nunique()), "windows": int(mask.sum()),
            "of_sequences": int(seq.nunique()), "of_windows": len(errors),
            "seeds": sorted(groups[source]) if None not in groups[source] else [],
            "runs": list(groups[source].values())} for source, mask in sorted(has.items())}, "pairs": {}}
        ranked = sorted(s for s, c in out[scene]["coverage"].items() if c["sequences"] >= cfg.min_sequences)
        for i, a in enumerate(ranked):
            for b in ranked[i + 1:]:
                both = errors[(has[a] & has[b]).to_numpy()]
                sequences = sorted(both.index.get_level_values("sequence").unique())
                if not sequences:  # no window where both have a rate: nothing to compare
                    out[scene]["pairs"][a, b] = {"a": None, "b": None, "difference": None, "low": None,
                                                 "high": None, "sequences": 0, "windows": 0}
                    continue
                mae = {}
                for source in (a, b):
                    members = groups[source]
                    sums, counts = _sequence_sums(both, list(members.values()), sequences)
                    mae[source] = (sums.sum(axis=1) / counts.sum(axis=1)).mean(), sums, counts, members
                low = high = None
                if len(sequences) >= cfg.min_sequences:
                    weights = bootstrap_weights(len(sequences), cfg.resamples,
                                                np.random.default_rng([seed, *scene.encode()]))
                    drawn = []
                    for source in (a, b):
                        _, sums, counts, members = mae[source]
                        run_weights = None if None in members else bootstrap_weights(
                            len(members), cfg.resamples, np.random.default_rng([seed, *scene.encode(),
                                                                                *source.encode()]))
                        drawn.append(bootstrap_mae(sums, counts, weights, run_weights))
                    low, high = percentile_interval(drawn[0] - drawn[1], cfg.confidence)
                    se = float(np.std(drawn[0] - drawn[1], ddof=1))
                out[scene]["pairs"][a, b] = {"a": float(mae[a][0]), "b": float(mae[b][0]),
                                             "difference": float(mae[a][0] - mae[b][0]), "low": low, "high": high,
                                             "sequences": len(sequences), "windows": len(both),
                                             "mde": None if low is None else power.mde_mean(se, cfg.confidence)}
    return out


def scores(intervals: dict, paired: dict, min_sequences: int) -> dict:
    """{scene: {source: {mean, low, high, seed_mae, sequences, windows, of_sequences, of_windows, seeds, ranked}}}: each
    source's MAE over the windows where it has a rate (`seed_mae`: each seed's, their mean `mean`), with its interval
    (`mae_intervals`; None where it scored no window),
    beside its coverage (`paired_differences`); `ranked`: a rate in `min_sequences` sequences or more. The noisy-oracle
    series is left out. The leaderboard's rows: a league table, not a statement (the statements pair the sources)."""
    out: dict = {}
    for scene, part in sorted(paired.items()):
        own = intervals.get(scene, {})
        out[scene] = {source: {**{k: own.get(source, {}).get(k) for k in ("mean", "low", "high", "seed_mae")},
                               **{k: cover[k] for k in ("sequences", "windows", "of_sequences", "of_windows", "seeds")},
                               "ranked": cover["sequences"] >= min_sequences}
                      for source, cover in sorted(part["coverage"].items())}
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


def _too_few(items: dict, min_sequences: int) -> list[str]:
    n = next(iter(items.values()))["sequences"]
    return [f"too few sequences: {n} < {min_sequences}"] if n < min_sequences else []


def coverage_text(cover: dict) -> str:
    """A source's coverage as a statement names it: sequences and windows with a rate, and its seeds."""
    seeds = f", {len(cover['seeds'])} seeds" if cover["seeds"] else ""
    return (f"{cover['sequences']} of {cover['of_sequences']} sequences, {cover['windows']} of {cover['of_windows']} "
            f"windows{seeds}")


def _pair_text(a: str, b: str, pair: dict) -> str:
    first, second = (a, b) if pair["difference"] <= 0 else (b, a)
    sign = 1 if first == a else -1
    low, high = sorted((sign * pair["low"], sign * pair["high"]))
    return (f"{first} {pair['a' if first == a else 'b']:.2f} vs {second} {pair['b' if first == a else 'a']:.2f} on "
            f"{pair['windows']} windows of {pair['sequences']} sequences, difference {sign * pair['difference']:+.2f} "
            f"[{low:+.2f}, {high:+.2f}]")


def paired_ranking(id: str, claim: str, scene: dict, sources: set[str], involving: set[str] | None,
                   min_sequences: int, blockers: list[str], trained: bool) -> cc.Statement:
    """The pairs of `sources` (with at least one of `involving`, None: any) whose paired interval excludes 0, lower
    MAE first, as `conclusions.pair_order` names them; the text gives each named pair's matched MAEs and interval,
    every ranked source's coverage, and the sources not ranked (too few sequences with a rate)."""
    cover = {s: c for s, c in scene["coverage"].items() if s in sources}
    ranked = sorted(s for s, c in cover.items() if c["sequences"] >= min_sequences)
    pairs = {(a, b): p for (a, b), p in scene["pairs"].items() if a in ranked and b in ranked
             and (involving is None or a in involving or b in involving)}
    numbers = {"coverage": cover, "pairs": {f"{a} vs {b}": p for (a, b), p in sorted(pairs.items())}}
    unranked = sorted(set(cover) - set(ranked))
    tail = "; ".join(["coverage (windows with a rate): " + ", ".join(f"{s} {coverage_text(cover[s])}"
                                                                       for s in sorted(cover))]
                     + ([f"not ranked, a rate in fewer than {min_sequences} sequences: " + ", ".join(unranked)]
                        if unranked else []))
    if blockers:
        return cc.Statement(id, claim, cc.NOT_RESOLVED, False, f"{claim}: {cc.NOT_RESOLVED} ({'; '.join(blockers)}; "
                            f"{tail})", numbers, "; ".join(blockers), trained)
    ordered = {(a, b) if p["high"] < 0 else (b, a): (a, b) for (a, b), p in pairs.items()
               if p["low"] is not None and (p["high"] < 0 or p["low"] > 0)}
    verdict = cc.pair_order(set(ordered))
    if not verdict:
        why = (f"fewer than two sources have a rate in {min_sequences} sequences or more" if not pairs
               else "every paired interval includes 0"
               if all(p["low"] is not None for p in pairs.values()) else
               "every paired interval includes 0 or rests on too few matched sequences")
        return cc.Statement(id, claim, cc.NOT_RESOLVED, False, f"{claim}: {cc.NOT_RESOLVED} ({why}; {reach(pairs)}"
                            f"{tail})", numbers, why, trained)
    named = "; ".join(_pair_text(*ordered[pair], pairs[ordered[pair]]) for pair in sorted(ordered))
    open_pairs = {k: p for k, p in pairs.items() if k not in ordered.values()}
    gaps = {f"{a} < {b}": cc.clearance(pairs[ordered[a, b]]["low"], pairs[ordered[a, b]]["high"])
            for a, b in sorted(ordered)}
    return cc.Statement(id, claim, verdict, True, f"{claim}: {verdict} (paired over the windows both have a rate: "
                        f"{named}; every other pair's interval includes 0 or rests on fewer than {min_sequences} "
                        f"matched sequences; {reach(open_pairs)}{tail})", numbers, "", trained, clearance=gaps)


def reach(pairs: dict) -> str:
    """What the pairs left open could have seen: the range of their minimum detectable effects (80% power), breaths
    a minute; each pair's is in the statement's numbers."""
    mdes = sorted(p["mde"] for p in pairs.values() if p.get("mde") is not None)
    if not mdes:
        return ""
    span = f"{mdes[0]:.2f}" if len(mdes) == 1 else f"{mdes[0]:.2f}–{mdes[-1]:.2f}"
    return f"the {len(mdes)} open pair(s) could have seen differences of {span} breaths/min (80% power); "


def statements(paired: dict, intervals: dict, runs: dict[str, dict], min_sequences: int) -> list[cc.Statement]:
    """Per scene kind (lower MAE first; `paired` from `paired_differences`): the ranking of the untrained sources
    (deterministic), the pairs that involve a trained source (blocked by its ranked runs), and the floor
    (`floor_statements`, on `intervals` from `mae_intervals`)."""
    out = []
    for name, scene in sorted(paired.items()):
        cover = scene["coverage"]
        trained = {s for s, c in cover.items() if c["seeds"]}
        untrained = set(cover) - trained
        claim = f"{name}-scene breath-rate MAE ({ESTIMATOR}, lower first)"
        if len(untrained) > 1:
            out.append(paired_ranking(f"breath.paired.{name}.untrained", f"untrained sources by {claim}", scene,
                                      untrained, None, min_sequences, [], False))
        if trained and len(cover) > 1:
            ranked = {s for s in trained if cover[s]["sequences"] >= min_sequences}
            blockers = seed_blockers({s: cover[s]["seeds"] for s in ranked}) + convergence_blockers(
                {run: runs[run]["converged"] for s in sorted(ranked) for run in cover[s]["runs"]})
            out.append(paired_ranking(f"breath.paired.{name}.trained", f"trained sources against every source by "
                                      f"{claim}", scene, set(cover), trained, min_sequences, blockers, True))
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
