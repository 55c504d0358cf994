"""TinyHead vs each zero-shot model on the same test crops, as statements (`thermbench.core.conclusions`).

A difference counts as separated only if it holds both ways the numbers vary: over training seeds (a 95% t interval
of the TinyHead's per-seed values against the zero-shot model's, which is deterministic) and over test crops (a seeded
95% paired bootstrap of the seed-mean per-crop value minus the zero-shot one). The statement's interval is the hull of
the two, which excludes 0 only when both do. A statement is blocked when a run it rests on did not converge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thermbench.core import power, stats
from thermbench.core.conclusions import Statement, difference
from thermbench.core.pairs import with_reach

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 2000  # the ends' resampling noise: sd ~1.5-1.7% of the interval's width (80 normal or
#                             exponential values, 200 bootstrap seeds), small beside the margins a verdict needs
BOOTSTRAP_SEED = 0
PCK_PX = 10  # the blog's headline threshold (crop px)
HEAD = "TinyHead"


def zeroshot_crop_errors(records: list[dict], crop_size: int) -> pd.Series:
    """sample_id -> crop-px error of the zero-shot stage's crop records (NaN: no prediction), as
    `thermbench.zeroshot.evaluate.crop_metrics` scores them: both points scaled per axis by crop size / box size."""
    errors = {}
    for r in records:
        if r["pred"] is None:
            errors[r["sample_id"]] = np.nan
        else:
            scale = crop_size / np.asarray(r["box"][2:], dtype=np.float64)
            errors[r["sample_id"]] = float(np.linalg.norm((np.asarray(r["pred"]) - np.asarray(r["gt"])) * scale))
    return pd.Series(errors, dtype=np.float64)


def separated(id: str, claim: str, model: str, head: np.ndarray, zeroshot: np.ndarray, unit: str,
              blockers: list[str]) -> Statement:
    """TinyHead - `model` from `head` (seeds x paired crops) and `zeroshot` (paired crops) values of one metric."""
    if zeroshot.size < 2:
        mean = float(head.mean() - zeroshot.mean()) if zeroshot.size else float("nan")
        return difference(id, claim, HEAD, model, mean, None, None, unit,
                          blockers=[*blockers, f"{zeroshot.size} paired test crop(s), too few to compare"])
    per_seed = head.mean(axis=1) - zeroshot.mean()
    seeds = stats.t_interval(per_seed, LEVEL)[1:]
    boot = stats.bootstrap_mean(head.mean(axis=0) - zeroshot, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, LEVEL)
    crops = (boot["low"], boot["high"])
    low, high = (None, None) if seeds[0] is None else (min(seeds[0], crops[0]), max(seeds[1], crops[1]))
    # what it could have seen: the larger of the two tests' minimum detectable effects (the hull needs both)
    mdes = [power.mde_paired_t(float(per_seed.std(ddof=1)), len(per_seed), LEVEL) if len(per_seed) > 1 else None,
            power.mde_mean(boot["se"], LEVEL)]
    reach = {"mde": max((m for m in mdes if m is not None), default=None), "n_seeds": len(per_seed),
             "n_items": zeroshot.size,
             "variance": power.variance_split(head - zeroshot[None, :]) if len(per_seed) > 1 else None}
    statement = difference(id, claim, HEAD, model, float(per_seed.mean()), low, high, unit, blockers=blockers,
                           extra={"seed_interval": list(seeds), "crop_interval": list(crops),
                                  "per_seed": per_seed.tolist(), "zeroshot": float(zeroshot.mean()),
                                  "n_seeds": len(per_seed), "n_crops": zeroshot.size, "mde": reach["mde"],
                                  "variance": reach["variance"]})
    return with_reach(statement, reach, LEVEL, unit)


def versus(model: str, head_errors: pd.DataFrame, zeroshot_errors: pd.Series, blockers: list[str]) -> list[Statement]:
    """TinyHead vs `model` on the test crops both ran: the mean error on the crops `model` found (its table value is a
    mean over those) and PCK@10 with a miss failing, both crop px. `head_errors`: seeds x sample_id;
    `zeroshot_errors`: sample_id -> error (NaN: no prediction)."""
    ids = [s for s in head_errors.columns if s in zeroshot_errors.index]
    head, zeroshot = head_errors[ids].to_numpy(dtype=np.float64), zeroshot_errors[ids].to_numpy(dtype=np.float64)
    found = np.isfinite(zeroshot)
    return [
        separated(f"head.vs_{model}.mean_crop_px",
                  f"{HEAD} vs {model}: test mean error (crop px) on the {found.sum()} test crops {model} found",
                  model, head[:, found], zeroshot[found], " crop px", blockers),
        separated(f"head.vs_{model}.pck{PCK_PX}_crop_px",
                  f"{HEAD} vs {model}: test PCK@{PCK_PX}px (crop px) on {len(ids)} test crops, a miss failing",
                  model, hit_percent(head), hit_percent(zeroshot), " points", blockers),
    ]


def hit_percent(errors: np.ndarray) -> np.ndarray:
    """100 where an error is within PCK_PX, else 0 (a miss, NaN, fails): a mean of these is PCK in percent."""
    return 100.0 * (np.nan_to_num(errors, nan=np.inf) <= PCK_PX)


def unconverged_runs(convergence: dict) -> tuple[list[str], list[str]]:
    """The runs that did not converge (the metrics' convergence block), each named as `run_label` names it, as
    (those a TinyHead-vs-zero-shot comparison rests on: the main runs, its numbers, and the val sweep's, the choice
    of maps; the others: the label-curve heads, which take no part in it). The report's convergence sentence and the
    statements' blockers both come from this one split."""
    labels = [(name, run_label(name, convergence["runs"][name])) for name in convergence["not_converged"]]
    rest_on = [label for name, label in labels if name.startswith(("main", "sweep_"))]
    return rest_on, [label for name, label in labels if not name.startswith(("main", "sweep_"))]


def run_label(name: str, record: dict) -> str:
    """A run's name, with "(failed to train)" where its best validation was its first."""
    return f"{name} (failed to train)" if record.get("failed_to_train") else name


def convergence_blockers(convergence: dict) -> list[str]:
    """What blocks every TinyHead-vs-zero-shot statement: the runs it rests on that did not converge."""
    rest_on, _ = unconverged_runs(convergence)
    return [f"TinyHead run(s) not converged: {', '.join(rest_on)}"] if rest_on else []
