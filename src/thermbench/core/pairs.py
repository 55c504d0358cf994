"""Every pair of a board compared on the same items: the comparison engine behind the leaderboard's ranks.

An `Entry` is one model's per-item scores: runs x items (a trained model: one row per seed; a model run once: one
row), with what blocks any statement on it (runs that did not converge or failed to train). `compare_board` compares
every pair of entries as one Holm family and returns one `Statement` per pair:

- both trained (two or more seeds each): the paired t test over the seeds both share, on each seed's item mean of A - B
  (the seed is the unit); the test-item bootstrap of the seed-mean per-item difference must agree in sign;
- one trained, one run once: the t test over the trained model's seeds of its item mean less the other's, the bootstrap
  over items agreeing;
- both run once: the items are the unit: McNemar's exact test for yes/no outcomes (a GT nose found within the PCK
  radius), a paired t test over items otherwise, each with the bootstrap interval over items at the same level;
- both run once, one or both trained: the items see one training of each, not what a re-training moves (two
  once-trained models came out resolved in opposite directions under two kernel settings), so the re-training is the
  unit: the item-mean difference of this run and of each kernel setting's re-training, a t test over them (`pool`).
  Until every setting has re-trained them the pair is not resolved, and the item test's reach stands as a lower
  bound on what it could have seen.

Each statement's interval is at its Holm level (1 - alpha / (m - rank + 1)); it is resolved when the Holm-adjusted p is
below alpha, the bootstrap agrees, and nothing blocks it. Every statement also carries what it could have seen: the
minimum detectable effect at this run's seeds and items, its test's level and 80% power (`core.power`), and how the
variance of the difference splits between seeds and test items (`power.variance_split`), or the items alone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from thermbench.core import power, stats
from thermbench.core.conclusions import Statement, difference

POWER = 0.8
ONCE_TRAINED = ("trained once: the test items cannot see what a re-training moves, so the pair is tested over the "
                "kernel check's re-trainings once every setting has made them")


@dataclass(frozen=True)
class Entry:
    """One board row's per-item scores. `runs`: {seed (None for a model run once): per-item values indexed by item
    id}; `blockers`: why no statement on it can be resolved (e.g. "not converged: ktl-dikd-seed2"); `trained`:
    whether it is a trained model (the kernel check applies)."""

    runs: dict
    trained: bool
    blockers: list[str] = field(default_factory=list)

    @property
    def seeded(self) -> bool:
        return len(self.runs) > 1


def _matrix(entry: Entry, seeds: list, items: pd.Index) -> np.ndarray:
    return np.stack([entry.runs[s].reindex(items).to_numpy(np.float64) for s in seeds])


def common_items(a: Entry, b: Entry, binary: bool) -> pd.Index:
    """The items both entries scored in every run, in sorted order: for yes/no outcomes every item either lists (a
    NaN is a miss there), else only the items with a finite value in every run of both."""
    series = [*a.runs.values(), *b.runs.values()]
    if binary:
        return pd.Index(sorted(set.intersection(*(set(s.index) for s in series))))
    finite = [set(s.index[np.isfinite(s.to_numpy(np.float64))]) for s in series]
    return pd.Index(sorted(set.intersection(*finite)))


def paired(a: Entry, b: Entry, outcome, binary: bool) -> dict:
    """The per-item differences of A - B on their common items (`outcome` maps per-item values to what is compared,
    e.g. a hit within the PCK radius): `diff` (runs x items; runs: the shared seeds of two trained models, the trained
    one's seeds against the other, or one row), `unit` (seeds | items) and the test's p value."""
    items = common_items(a, b, binary)
    if a.seeded and b.seeded:
        seeds = sorted(set(a.runs) & set(b.runs))
        diff = outcome(_matrix(a, seeds, items)) - outcome(_matrix(b, seeds, items))
    elif a.seeded or b.seeded:
        seeds = sorted(a.runs if a.seeded else b.runs)
        one = [next(iter((b if a.seeded else a).runs))]
        diff = outcome(_matrix(a, seeds if a.seeded else one, items)) - outcome(_matrix(b, one if a.seeded else seeds,
                                                                                        items))
    else:  # each run once (a trained model of one seed too): their one runs
        seeds = [None]
        diff = outcome(_matrix(a, list(a.runs), items)) - outcome(_matrix(b, list(b.runs), items))
    if diff.shape[1] == 0:
        return {"diff": diff, "unit": "seeds" if len(seeds) > 1 else "items", "seeds": seeds, "p": 1.0}
    if len(seeds) == 1 and (a.trained or b.trained):
        return {"diff": diff, "unit": "retrainings", "seeds": seeds, "p": 1.0}
    if len(seeds) > 1:
        return {"diff": diff, "unit": "seeds", "seeds": seeds, "p": stats.t_p_value(diff.mean(axis=1))}
    if binary:
        row = diff[0]
        return {"diff": diff, "unit": "items", "seeds": seeds,
                "p": stats.mcnemar_exact(int((row > 0).sum()), int((row < 0).sum()))}
    return {"diff": diff, "unit": "items", "seeds": seeds, "p": stats.t_p_value(diff[0])}


def pool(test: dict, replicates: dict[str, list[float]] | None) -> dict:
    """A test with the kernel check's re-trainings (`replicates`: {setting: per-seed differences},
    `KernelCheck.replicates_of`) pooled in. A seeds test: this run and every setting's re-training of the same seeds
    as a settings x seeds layout, tested by `stats.crossed_mean` (a setting re-trains every seed from the same
    once-trained teacher and pretrain, so its shift is shared by all of them and averages out over the settings only;
    a seed's, over the seeds only); "seed_means" each seed's difference averaged over the settings. A re-trainings
    test (a once-trained model's pair): the t test over this run's difference and each setting's, the re-trainings as
    the runs. As it was without replicates for every setting or with another number of seeds."""
    if test["unit"] not in ("seeds", "retrainings") or not replicates:
        return test
    here = test["diff"].mean(axis=1)
    runs = [np.asarray(v, dtype=np.float64) for _, v in sorted(replicates.items())]
    if any(r.shape != here.shape for r in runs):
        return test
    if test["unit"] == "retrainings":
        means = np.concatenate([here, *runs])
        return {**test, "p": stats.t_p_value(means), "pooled": sorted(replicates), "seed_means": means}
    layout = np.stack([here, *runs])
    mean, se, df = stats.crossed_mean(layout)
    return {**test, "p": stats.t_p_value_se(mean, se, df), "pooled": sorted(replicates),
            "seed_means": layout.mean(axis=0), "crossed": {"se": se, "df": df, "n_settings": len(layout)}}


def evidence(p: dict, level: float, binary: bool) -> dict:
    """The interval at `level`, the bootstrap over items, the MDE and the variance split of one pair (with the kernel
    settings' share, `power.kernel_share`, where the test carries the settings' re-trainings: `with_kernel_check`)."""
    ev = _evidence(p, level, binary)
    share = power.kernel_share(ev["per_seed"], p["kernel_runs"]) if p.get("kernel_runs") and "per_seed" in ev \
        else None
    if share is not None:
        ev["variance"] = {**(ev.get("variance") or {}), "kernel": share}
    return ev


def with_kernel_check(test: dict, sid: str, replicates=None, kernel_runs=None) -> dict:
    """`test` with the kernel check's re-trainings of pair `sid`: pooled in where every setting made them (`pool`;
    `replicates`: statement id -> {setting: per-seed differences} or None, `KernelCheck.replicates_of`), and those
    made so far kept for the variance split's kernel share (`kernel_runs`, `KernelCheck.kernel_runs_of`)."""
    tested = pool(test, replicates(sid) if replicates else None)
    runs = kernel_runs(sid) if kernel_runs else None
    return {**tested, "kernel_runs": runs} if runs else tested


def _evidence(p: dict, level: float, binary: bool) -> dict:
    diff = p["diff"]
    n_items = diff.shape[1]
    if n_items == 0:
        return {"mean": float("nan"), "low": None, "high": None, "n_items": 0, "mde": None, "variance": None,
                "n_seeds": len(p["seeds"]) if p["unit"] == "seeds" else 1}
    per_item = diff.mean(axis=0)
    boot = stats.bootstrap_mean(per_item, confidence=level) if n_items > 1 else None
    if p["unit"] == "seeds":
        by_seed = diff.mean(axis=1)
        tested = p.get("seed_means", by_seed)
        split = power.variance_split(diff) if n_items > 1 else None
        sd = float(tested.std(ddof=1))
        if "crossed" in p:
            crossed = p["crossed"]
            mean, low, high = stats.t_interval_se(float(tested.mean()), crossed["se"], crossed["df"], level)
            mde = power.mde_t(crossed["se"], crossed["df"], level, POWER)
        else:
            mean, low, high = stats.t_interval(tested, level)
            mde = power.mde_paired_t(sd, len(tested), level, POWER)
        # this run's own interval's half-width: the unit the vendor margin was measured in (`conclusions.final`)
        run_half = stats.t_interval(by_seed, level)[2] - float(by_seed.mean()) if len(by_seed) > 1 else None
        pooled = {"pooled": p["pooled"], "seed_means": [float(v) for v in tested],
                  **({"crossed": p["crossed"], "run_half": run_half} if "crossed" in p else {})} \
            if "pooled" in p else {}
        return {"mean": mean, "low": low, "high": high, "n_seeds": len(by_seed), "n_items": n_items,
                "per_seed": [float(v) for v in by_seed], "mde": mde, "variance": split, "sd_seeds": sd,
                **({"bootstrap_items": boot} if boot else {}), **pooled}
    if p["unit"] == "retrainings" and "seed_means" in p:
        runs = p["seed_means"]
        mean, low, high = stats.t_interval(runs, level)
        sd = float(runs.std(ddof=1))
        variance = {"retraining": float(runs.var(ddof=1)), "item": float(per_item.var(ddof=1)) if n_items > 1
                    else None, "seed": None}
        return {"mean": mean, "low": low, "high": high, "n_seeds": 1, "n_retrainings": len(runs), "n_items": n_items,
                "per_seed": [float(per_item.mean())], "mde": power.mde_paired_t(sd, len(runs), level, POWER),
                "variance": variance, "pooled": p["pooled"], "seed_means": [float(v) for v in runs],
                **({"bootstrap_items": boot} if boot else {})}
    # a once-trained pair before its re-trainings: its difference kept as a replicate, its items' reach a lower bound
    once = {"per_seed": [float(per_item.mean())], "once_trained": True} if p["unit"] == "retrainings" else {}
    if binary:
        discordant = float((per_item != 0).mean())
        mde = power.mde_mcnemar(n_items, discordant, level, POWER)
        variance = {"item": float(per_item.var(ddof=1)) if n_items > 1 else None, "seed": None,
                    "discordant": discordant}
    else:
        mde = power.mde_mean(boot["se"], level, POWER)
        variance = {"item": float(per_item.var(ddof=1)) if n_items > 1 else None, "seed": None}
    return {"mean": boot["mean"], "low": boot["low"], "high": boot["high"], "n_seeds": 1, "n_items": n_items,
            "bootstrap_items": boot, "mde": mde, "variance": variance, **once}


def compare_board(prefix: str, what: str, entries: dict[str, Entry], outcome=lambda v: v,
                  binary: bool = False, unit: str = "", replicates=None, kernel_runs=None) -> list[Statement]:
    """Every pair of `entries` (names in sorted order, A the first) compared as one Holm family (the pairs with an item
    both rows scored; the others are reported not resolved); statement ids
    `<prefix><A>_vs_<B>`. `what` names the metric in the claims; `outcome` maps per-item values to what is compared
    (the board's metric is the mean of it over the items). `replicates` (statement id -> {setting: per-seed
    differences} or None, e.g. `KernelCheck.replicates_of`): the kernel check's re-trainings pooled in (`pool`);
    `kernel_runs` (statement id -> those made so far, `KernelCheck.kernel_runs_of`): their share of the variance."""
    pairs = list(itertools.combinations(sorted(entries), 2))
    tests = {(a, b): with_kernel_check(paired(entries[a], entries[b], outcome, binary), f"{prefix}{a}_vs_{b}",
                                       replicates, kernel_runs) for a, b in pairs}
    # a pair with no item both scored (a row without per-item scores) is reported, not tested: in the family it would
    # only make the pairs that can be tested harder to resolve
    p = {f"{a}\t{b}": t["p"] for (a, b), t in tests.items() if t["diff"].shape[1]}
    p_holm, levels = stats.holm_adjust(p), stats.holm_levels(p)
    out = []
    for (a, b), test in tests.items():
        key = f"{a}\t{b}"
        p_holm.setdefault(key, 1.0)
        levels.setdefault(key, 1 - stats.ALPHA)
        ev = evidence(test, levels[key], binary)
        blockers = entries[a].blockers + entries[b].blockers
        if ev["n_items"] == 0:
            blockers.append("no item both scored")
        elif test["unit"] == "seeds" and len(test["seeds"]) < 2:
            blockers.append(f"{len(test['seeds'])} paired seed(s)")
        elif test["unit"] == "retrainings" and "pooled" not in test:
            blockers.append(ONCE_TRAINED)
        elif p_holm[key] >= stats.ALPHA:
            blockers.append(f"Holm-adjusted p {p_holm[key]:.3g} >= {stats.ALPHA} over the board's {len(p)} pairs")
        elif test["unit"] in ("seeds", "retrainings") and "bootstrap_items" in ev:
            blockers += bootstrap_blockers(ev["bootstrap_items"], ev["mean"])
        extra = {k: v for k, v in ev.items() if k not in ("mean", "low", "high")}
        extra.update(unit=test["unit"], p=test["p"], p_holm=p_holm[key], level=levels[key], power=POWER)
        statement = difference(f"{prefix}{a}_vs_{b}", f"{a} vs {b} ({what})", a, b, ev["mean"], ev["low"],
                               ev["high"], unit, blockers=blockers, extra=extra,
                               trained=entries[a].trained or entries[b].trained)
        out.append(with_reach(statement, ev, levels[key], unit))
    return out


def bootstrap_blockers(boot: dict, mean: float, items: str = "test-item") -> list[str]:
    """What the bootstrap interval over `items` (`boot`) of a difference whose mean over the runs is `mean` says against
    resolving it: that it includes 0, or that it lies on the other side of 0 from that mean."""
    if boot["low"] <= 0 <= boot["high"]:
        return [f"the {items} bootstrap interval includes 0"]
    if (boot["mean"] > 0) != (mean > 0):
        return [f"the {items} bootstrap interval lies on the other side of 0"]
    return []


def with_reach(statement: Statement, ev: dict, level: float, unit: str = "") -> Statement:
    """A not-resolved statement with what it could have seen (`could_have_seen`) in its numbers (`reach`) and text;
    a resolved one as it is."""
    if statement.resolved:
        return statement
    reach = could_have_seen(ev, level, unit)
    return replace(statement, text=f"{statement.text[:-1]}; could have seen: {reach})",
                   numbers={**statement.numbers, "reach": reach})


def could_have_seen(ev: dict, level: float, unit: str = "") -> str:
    """What a not-resolved comparison could have seen: its MDE at its level and 80% power, and where the variance of
    the difference sits."""
    if ev.get("mde") is None:
        return "no minimum detectable effect (too few runs or items)"
    if "n_retrainings" in ev:
        runs = f"{ev['n_retrainings']} re-trainings"
    elif "crossed" in ev:
        runs = f"{ev['crossed']['n_settings']} kernel settings x {ev['n_seeds']} seeds"
    else:
        runs = f"{ev.get('n_seeds', 1)} seed(s)"
    size = runs + (f" x {ev['n_items']} items" if ev["n_items"] > 1 else "")
    text = (f"minimum detectable effect {ev['mde']:.3g}{unit} at {size}, level {100 * level:.2f}%, "
            f"{100 * POWER:.0f}% power")
    split = ev.get("variance") or {}
    if split.get("retraining") is not None:
        text += f"; variance: re-trainings {split['retraining']:.3g}, items {split['item']:.3g}"
    elif ev.get("once_trained") and split.get("item") is not None:
        text += f"; variance over items {split['item']:.3g}, one training each: a lower bound (no re-training seen)"
    elif split.get("seed") is not None:
        text += (f"; variance: seeds {split['seed']:.3g}, items {split['item']:.3g}, seed x item "
                 f"{split['residual']:.3g}")
    elif split.get("item") is not None:
        text += f"; variance over items {split['item']:.3g} (one run each: no seed share)"
    return text if split.get("retraining") is not None else text + _kernel_text(split.get("kernel"))


def _kernel_text(share: dict | None) -> str:
    """The kernel settings' share of the variance (`power.kernel_share`) in words; "" without one."""
    if not share:
        return ""
    named = ", ".join(share["settings"])
    if "across" in share:
        return f"; across the re-trainings under {named} and here {share['across']:.3g}"
    return f"; kernel settings ({named}): shift {share['setting']:.3g}, seed x setting {share['residual']:.3g}"
