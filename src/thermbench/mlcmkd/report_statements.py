"""MLCM-KD report statements: paired differences between methods (Holm within each table, bootstrap over test
images), rank orders, the teacher and mean-shape checks, each as a qualitative statement with its numbers
(`thermbench.core.conclusions`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from thermbench.core import pairs, power, stats
from thermbench.core.conclusions import (
    NOT_RESOLVED,
    Statement,
    clearance,
    difference,
    final,
    ranking,
    sentence,
    settings_compared,
)
from thermbench.core.nme import mean_shape_nme
from thermbench.mlcmkd.report_tables import Group, fmt, grad_stat, paper_rows, tfake_nme
from thermbench.mlcmkd.settings import DIKD, FD_LD, SHORT, TABLE_III, TABLE_IV, TABLE_V, KTLParams
from thermbench.models.run_layout import SCRATCH

TEACHER_TARGET = 0.6  # teacher RGB NME-IO <= 0.6 x the supervised thermal student's (the premise of distilling from it)


@dataclass(frozen=True)
class Comparison:
    """A - B on one metric, paired by student seed."""
    id: str
    label: str      # "DIKD − FD+LD"
    a: str          # group keys
    b: str
    name_a: str     # names in verdicts
    name_b: str
    metric: Callable[[dict], float] = tfake_nme
    what: str = "T-FAKE test NME-IO"


def display(key: str, ktl: KTLParams | None = None) -> str:
    """A group's name in statements: a KTL variant by the paper's short name of its flag set (`settings.SHORT`),
    MCL as MCL, anything else by its key."""
    group, _, name = key.partition("-")
    if group == "ktl" and ktl is not None and name in ktl.variants:
        return SHORT.get(ktl.variants[name], name)
    return "MCL" if group == "mcl" else key


def families(groups: dict[str, Group], ktl: KTLParams, ktl_arch: str, mcl_arch: str) -> dict[str, list[Comparison]]:
    """The comparisons of each table, each a Holm family. Table I: every KTL method and MCL against the supervised
    student of its size, and the from-scratch pair; Tables III/IV: every KTL variant against FD+LD."""
    sup, sup_t = f"supervised-{ktl_arch}", f"supervised-{mcl_arch}"
    base, base_name, dikd = ktl.name_of(FD_LD), SHORT[FD_LD], ktl.name_of(DIKD)
    out: dict[str, list[Comparison]] = {"table_i": [], "table_iii_iv": []}
    keys = dict.fromkeys(key for table in (TABLE_III, TABLE_IV) for _, key, _ in paper_rows(table, ktl))
    for key in keys:
        variant = key.removeprefix("ktl-")
        if key in groups and sup in groups and not any(c.a == key for c in out["table_i"]):
            out["table_i"].append(Comparison(f"mlcmkd.tfake.{variant}_vs_supervised",
                                             f"{display(key, ktl)} − supervised", key, sup, display(key, ktl),
                                             f"supervised RTMPose-{ktl_arch}"))
        if variant != base and key in groups and f"ktl-{base}" in groups and \
                not any(c.a == key for c in out["table_iii_iv"]):
            out["table_iii_iv"].append(Comparison(f"mlcmkd.tfake.{variant}_vs_{base}",
                                                  f"{display(key, ktl)} − {base_name}", key, f"ktl-{base}",
                                                  display(key, ktl), base_name))
    for key in sorted(k for k, g in groups.items() if g.kind == "mcl"):
        if sup_t in groups:
            out["table_i"].append(Comparison(f"mlcmkd.tfake.{key}_vs_supervised_{mcl_arch}",
                                             f"MCL − supervised-{mcl_arch}", key, sup_t, f"MCL ({groups[key].variant})",
                                             f"supervised RTMPose-{mcl_arch}"))
    pair = (f"ktl-{dikd}{SCRATCH}", f"{sup}{SCRATCH}")
    if dikd and all(k in groups for k in pair):
        out["table_i"].append(Comparison(f"mlcmkd.tfake.{dikd}_vs_supervised_from_scratch",
                                         f"{SHORT[DIKD]} − supervised, both from random weights", *pair,
                                         f"{SHORT[DIKD]} from scratch", "supervised from scratch"))
    return {k: v for k, v in out.items() if v}


def compare_family(groups: dict[str, Group], family: list[Comparison], per_image: bool = True,
                   replicates=None, kernel_runs=None) -> tuple[list[Statement], list[list[str]]]:
    """Each comparison's statement and table row, by the board engine (`core.pairs`) where both methods have their
    per-image T-FAKE NMEs: resolved when every run of both methods converged, the paired t test over seeds rejects 0
    after Holm's correction across the family, and (`per_image`) the bootstrap interval over test images of the
    seed-mean difference, at the same level, excludes 0 on the same side. A statement left open says what it could
    have seen (its minimum detectable effect and variance split). `replicates` (statement id -> {setting: per-seed
    differences} or None, `KernelCheck.replicates_of`): the kernel check's re-trainings pooled in (`pairs.pool`);
    `kernel_runs` (`KernelCheck.kernel_runs_of`): those made so far, for the variance split's kernel share."""
    tests = {c.id: pairs.with_kernel_check(_paired(groups[c.a], groups[c.b], c.metric, per_image), c.id, replicates,
                                           kernel_runs) for c in family}
    p = {cid: t["p"] for cid, t in tests.items()}
    p_holm, levels = stats.holm_adjust(p), stats.holm_levels(p)
    statements, rows = [], []
    for c in family:
        test, level = tests[c.id], levels[c.id]
        ev = pairs.evidence(test, level, binary=False)
        mean, low, high = ev["mean"], ev["low"], ev["high"]
        unconverged = groups[c.a].unconverged() + groups[c.b].unconverged()
        blockers = [f"not converged: {', '.join(unconverged)}"] if unconverged else []
        n = ev.get("n_seeds", 0)
        boot = ev.get("bootstrap_items")
        if n < 2:
            blockers.append(f"{n} paired seed(s)")
        elif p_holm[c.id] >= stats.ALPHA:
            blockers.append(f"Holm-adjusted p {p_holm[c.id]:.3f} >= {stats.ALPHA}")
        if boot:
            blockers += pairs.bootstrap_blockers(boot, mean, "test-image")
        extra = {k: v for k, v in ev.items() if k not in ("mean", "low", "high")}
        extra.update(p=p[c.id], p_holm=p_holm[c.id], level=level,
                     **({"board": board_id(c.a, c.b), "groups": [c.a, c.b]} if c.metric is tfake_nme else {}))
        statement = difference(c.id, f"{c.name_a} vs {c.name_b} ({c.what})", c.name_a, c.name_b, mean, low, high,
                               blockers=blockers, extra=extra)
        statements.append(pairs.with_reach(statement, ev, level))
        span = "–" if low is None else f"[{low:+.4g}, {high:+.4g}]"
        mde = ev.get("mde")
        rows.append([c.label, str(n), f"{mean:+.4g}", span, f"{100 * level:.1f}%", f"{p[c.id]:.3f}",
                     f"{p_holm[c.id]:.3f}", "–" if boot is None else f"[{boot['low']:+.4f}, {boot['high']:+.4f}]",
                     "–" if mde is None else f"{mde:.4g}", statements[-1].verdict])
    return statements, rows


def board_id(a: str, b: str) -> str:
    """The T-FAKE leaderboard's statement on the same two groups (stage board_pairs: every pair of its rows, names in
    sorted order): where a table's comparison and the board's pair meet."""
    first, second = sorted((a, b))
    return f"boards.landmarks68_tfake.{first}_vs_{second}"


def _paired(a: Group, b: Group, metric, per_image: bool) -> dict:
    """The paired test of A - B: on the per-image T-FAKE NMEs of the seeds both have (the board engine's), or, without
    them (`per_image` False, or not read), on `metric` per seed alone."""
    if per_image and a.per_image is not None and b.per_image is not None:
        entries = [pairs.Entry({s: pd.Series(row) for s, row in zip(sorted(g.runs), g.per_image)}, True)
                   for g in (a, b)]
        return pairs.paired(*entries, lambda v: v, binary=False)
    va, vb = a.by_seed(metric), b.by_seed(metric)
    seeds = sorted(set(va) & set(vb))
    diff = np.array([[va[s] - vb[s]] for s in seeds]).reshape(len(seeds), 1)
    return {"diff": diff, "unit": "seeds", "seeds": seeds, "p": stats.t_p_value(diff[:, 0])}


COMPARISON_HEADER = ["Difference", "Seeds", "Mean", "t interval (Holm level)", "Level", "p", "p Holm",
                     "Bootstrap over test images (Holm level)", "Minimum detectable effect (80% power)", "Verdict here"]


def rank_statement(groups: dict[str, Group], ktl: KTLParams, keys: list[str], id: str,
                   claim: str) -> Statement | None:
    """Rank order of methods by T-FAKE NME with a 95% interval per method: the wider of the t interval over seeds
    and the bootstrap over test images of its seed mean; blocked by runs that did not converge."""
    present = [k for k in keys if k in groups]
    if len(present) < 2:
        return None
    items = {}
    for k in present:
        g = groups[k]
        mean, low, high = stats.t_interval(g.values(tfake_nme))
        half = 0.0 if low is None else (high - low) / 2
        if g.per_image is not None:
            boot = stats.bootstrap_mean(np.nanmean(g.per_image, axis=0))
            half = max(half, (boot["high"] - boot["low"]) / 2)
        items[display(k, ktl)] = (mean, mean - half, mean + half)
    blocked = sorted(r for k in present for r in groups[k].unconverged())
    return ranking(id, claim, items, blockers=[f"not converged: {', '.join(blocked)}"] if blocked else None)


def rank_statements(groups: dict[str, Group], ktl: KTLParams) -> list[Statement]:
    """The order of Table III's and of Table IV's methods by T-FAKE NME-IO: one statement for both where the params
    run the same methods of the two tables (then their orders are one claim)."""
    iii = [k for _, k, _ in paper_rows(TABLE_III, ktl) if k in groups]
    iv = [k for _, k, _ in paper_rows(TABLE_IV, ktl) if k in groups]
    if set(iii) == set(iv):
        ranks = [rank_statement(groups, ktl, iii, "mlcmkd.rank.table_iii",
                                "Table III order by T-FAKE NME-IO, lower first (Table IV's methods run here are the "
                                "same)")]
    else:
        ranks = [rank_statement(groups, ktl, iii, "mlcmkd.rank.table_iii",
                                "Table III order by T-FAKE NME-IO, lower first"),
                 rank_statement(groups, ktl, iv, "mlcmkd.rank.table_iv",
                                "Table IV order by T-FAKE NME-IO, lower first")]
    return [r for r in ranks if r]


def table_v_family(groups: dict[str, Group], ktl: KTLParams) -> list[Comparison]:
    """Table V as one Holm family: the grad-norm CV of +RI, +FI and DIKD against FD+LD, over every logged step and
    after the warm-up (the paper's claim is about the training trajectory; the first steps from a fresh head are a
    start-up transient)."""
    base, base_name = ktl.name_of(FD_LD), SHORT[FD_LD]
    family = []
    for part, label in (("grad_norm", "all logged steps"), ("grad_norm_after_warmup", "after warm-up")):
        for _, key, flags in paper_rows(TABLE_V, ktl):
            if flags == FD_LD:
                continue
            if all(k in groups and all(part in m["training"] for m in groups[k].runs.values())
                   for k in (key, f"ktl-{base}")):
                family.append(Comparison(f"mlcmkd.cv.{part}.{key.removeprefix('ktl-')}_vs_{base}",
                                         f"CV {display(key, ktl)} − {base_name} ({label})", key, f"ktl-{base}",
                                         display(key, ktl), base_name,
                                         lambda m, part=part: grad_stat(m, "cv_percent", part),
                                         f"grad-norm CV %, {label}"))
    return family


def teacher_check(groups: dict[str, Group], student_arch: str) -> tuple[str, dict, list[Statement]]:
    """The teacher's RGB NME-IO beside the supervised thermal student's, against the 0.6x target. The ratio's interval
    comes from the t interval of the students' seed mean (the teacher is one run): "met" when it lies at or below the
    target, "missed" when above, otherwise not resolved, so a ratio near 0.6 does not flip with a CPU's kernels."""
    t, s = groups.get("teacher"), groups.get(f"supervised-{student_arch}")
    if t is None or s is None:
        return "Teacher check: the teacher or the supervised student was not trained.\n", {}, []
    m = t.runs[next(iter(t.runs))]
    rgb, thermal = m["tfake_rgb"]["nme"], m["tfake"]["nme"]
    sup, sup_low, sup_high = stats.t_interval(s.values(tfake_nme))
    ratio = rgb / sup
    low, high = (None, None) if sup_low is None or sup_low <= 0 else (rgb / sup_high, rgb / sup_low)
    claim = f"RGB teacher NME-IO within {TEACHER_TARGET} x the supervised thermal RTMPose-{student_arch}'s"
    numbers = {"ratio": ratio, "ratio_low": low, "ratio_high": high, "teacher_rgb_nme": rgb,
               "supervised_thermal_nme": sup}
    span = "no interval" if low is None else f"[{low:.2f}, {high:.2f}] over the supervised seeds"
    measured = f"ratio {ratio:.2f} {span}, target <= {TEACHER_TARGET}"
    unconverged = t.unconverged() + s.unconverged()
    if unconverged:  # like every statement: none rests on a run that did not converge
        why = f"not converged: {', '.join(unconverged)}"
    elif low is None:
        why = "too few supervised seeds for an interval"
    elif low <= TEACHER_TARGET < high:
        why = "interval includes the target"
    else:
        why = ""
    verdict = NOT_RESOLVED if why else "met" if high <= TEACHER_TARGET else "missed"
    statement = Statement("mlcmkd.teacher_check", claim, verdict, not why,
                          f"teacher check {verdict} ({measured}{'; ' + why if why else ''})", numbers, why,
                          clearance={} if why else {verdict: clearance(low, high, TEACHER_TARGET)})
    text = (f"Teacher check: the RGB teacher (RTMPose-{t.arch}) scores NME-IO {fmt(rgb)} on the RGB T-FAKE test crops "
            f"(and {fmt(thermal)} zero-shot on their thermal twins, x{thermal / rgb:.1f}: the modality gap); the "
            f"supervised thermal RTMPose-{student_arch} scores {fmt(sup)} (mean over {len(s.runs)} seeds). "
            f"Ratio {ratio:.2f} ({span}) against the target <= {TEACHER_TARGET}: ")
    endings = {"met": "met.\n", "missed": "**missed: the teacher is not clearly better than what the student learns "
                                         "alone, so conclusions about distillation from this run are weak.**\n"}
    text += endings.get(verdict, f"{verdict} ({why}).\n")
    return text, {"teacher_rgb_nme": rgb, "teacher_thermal_nme": thermal, "supervised_thermal_nme": sup,
                  "teacher_to_student_ratio": ratio}, [statement]


def mean_shape_check(groups: dict[str, Group], train_kpts: np.ndarray, val_kpts: np.ndarray,
                     test_kpts: np.ndarray) -> tuple[str, dict, list[Statement]]:
    """The no-model baseline (`evaluate.mean_shape_nme`) on T-FAKE val and test; the trained student runs whose best
    val NME is no lower (still on the mean-shape plateau); and, per student method of the compressed size and per
    MCL variant, whether it ends below the baseline on test (over seeds and test images, the bootstrap agreeing in
    sign)."""
    val_nmes, test_nmes = (mean_shape_nme(train_kpts, k) for k in (val_kpts, test_kpts))
    val, test = float(np.nanmean(val_nmes)), float(np.nanmean(test_nmes))
    best = {m["model"]: m["training"]["best_val_nme"] for g in groups.values() if g.kind in ("supervised", "ktl", "mcl")
            for m in g.runs.values()}
    stuck = sorted(n for n, v in best.items() if v >= val)
    statements = []
    for key in sorted(k for k, g in groups.items() if g.kind in ("supervised", "mcl")):
        g = groups[key]
        if g.kind == "supervised" and "scratch" in key:
            continue
        d = g.values(tfake_nme) - test
        mean, low, high = stats.t_interval(d)
        blockers = [f"not converged: {', '.join(g.unconverged())}"] if g.unconverged() else []
        extra = {"n_seeds": len(d), "mean_shape_test_nme": test}
        reach = {"mde": power.mde_paired_t(float(d.std(ddof=1)), len(d)) if len(d) > 1 else None,
                 "n_seeds": len(d), "n_items": 1, "variance": None}
        if g.per_image is not None:
            boot = stats.bootstrap_mean(np.nanmean(g.per_image, axis=0) - test_nmes)
            extra["bootstrap_items"] = boot
            blockers += pairs.bootstrap_blockers(boot, mean, "test-image")
            if len(d) > 1:
                reach.update(n_items=len(test_nmes), variance=power.variance_split(g.per_image - test_nmes[None, :]))
        name = display(key)
        statement = difference(f"mlcmkd.tfake.{key}_vs_mean_shape", f"{name} vs the mean-shape baseline "
                               "(T-FAKE test NME-IO)", name, "mean shape", mean, low, high, blockers=blockers,
                               extra={**extra, "mde": reach["mde"], "variance": reach["variance"]})
        statements.append(pairs.with_reach(statement, reach, 1 - stats.ALPHA))
    failed = [st.claim.split(" vs ")[0] for st in statements
              if st.id.startswith("mlcmkd.tfake.mcl-") and st.verdict != f"{st.claim.split(' vs ')[0]} < mean shape"]
    text = (f"Mean-shape baseline (no model: the mean landmarks of the {len(train_kpts)} training crops on every "
            f"image): NME-IO {fmt(val)} on T-FAKE val, {fmt(test)} on test. Student runs whose best val NME is no "
            "lower, "
            f"i.e. still on the mean-shape plateau: {len(stuck)} of {len(best)}"
            + (f" ({', '.join(f'{n} {fmt(best[n])}' for n in stuck)}); their test NMEs, and the means and intervals "
               "they enter, measure whether a run left the plateau, not how well it learnt.\n" if stuck else ".\n"))
    if failed:
        text += f"**MCL failed here: {', '.join(failed)} does not end clearly below the mean-shape baseline.**\n"
    return text, {"mean_shape_val_nme": val, "mean_shape_test_nme": test, "runs_on_mean_shape_plateau": len(stuck),
                  "student_runs": len(best)}, statements


DISTILL_TERMS = ("fm", "lg", "fi", "ri")


def mcl_effect(groups: dict[str, Group], mcl_arch: str, bins: int, kp_weight: float, batch: int,
               lg_weight: float, paired: list[Statement]) -> tuple[str, list[Statement]]:
    """What the distillation terms change in MCL against the supervised student of its size, as measured: the stop
    epoch of each paired seed, the paired T-FAKE NME-IO difference against the supervised student's test-image
    bootstrap SE (the resolution of its score, the margin of "in effect"), and each distillation term's measured share
    of the gradient. "in effect equal" (resolved here; the kernel check applies) when every run converged, every
    paired seed stops at the same epoch, no per-seed difference reaches the SE, and Table I's paired comparison of the
    two (`paired`: its statements) resolves no difference while its intervals, the t interval over seeds at its Holm
    level and the bootstrap over test images, both lie within plus or minus the SE: an equivalence read on the paired
    difference's own noise. The weight balance behind it: per keypoint, one unit of KL in L_lg (summed over the
    `bins` SimCC bins, averaged over the batch) weighs lg_weight / batch against L_kp's kp_weight / bins (a mean over
    bins, summed over the batch)."""
    sup = groups.get(f"supervised-{mcl_arch}")
    by_id = {st.id: st for st in paired}
    text, out = "", []
    for key in sorted(k for k, g in groups.items() if g.kind == "mcl"):
        mcl = groups[key]
        seeds = sorted(set(mcl.runs) & set(sup.runs)) if sup is not None else []
        if len(seeds) < 2 or sup.per_image is None:
            continue
        name, other = f"MCL ({mcl.variant})", f"supervised RTMPose-{mcl_arch}"
        stops = {s: (mcl.runs[s]["training"]["epochs_run"], sup.runs[s]["training"]["epochs_run"]) for s in seeds}
        diffs = np.array([tfake_nme(mcl.runs[s]) - tfake_nme(sup.runs[s]) for s in seeds])
        se = stats.bootstrap_mean(np.nanmean(sup.per_image, axis=0))["se"]
        shares = {when: {t: float(np.mean([mcl.runs[s]["training"].get("gradient_shares", {}).get(when, {}).get(t, 0)
                                           for s in seeds])) for t in DISTILL_TERMS} for when in ("start", "end")}
        active = [t for t in DISTILL_TERMS if any(shares[w][t] for w in shares)]
        ratio = lg_weight * bins / (kp_weight * batch)
        unconverged = mcl.unconverged() + sup.unconverged()
        moved = [str(s) for s, (a, b) in stops.items() if a != b]
        big = float(np.abs(diffs).max())
        blockers = [f"not converged: {', '.join(unconverged)}"] if unconverged else []
        if moved:
            blockers.append(f"stop epochs differ at seed(s) {', '.join(moved)}")
        if big >= se:
            blockers.append(f"a per-seed difference ({big:.2g}) reaches the test-image SE ({se:.2g})")
        test = by_id.get(f"mlcmkd.tfake.{key}_vs_supervised_{mcl_arch}")
        spans = paired_spans(test)
        if not spans:
            blockers.append("no paired interval (Table I)")
        elif test.resolved:
            blockers.append(f"the paired test resolves a difference ({test.verdict})")
        wide = [f"{kind} [{lo:+.2g}, {hi:+.2g}]" for kind, (lo, hi) in spans.items() if lo <= -se or hi >= se]
        if wide:
            blockers.append(f"the paired difference's {' and '.join(wide)} {'reach' if len(wide) > 1 else 'reaches'} "
                            f"the test-image SE ({se:.2g})")
        why = "; ".join(blockers)
        verdict = f"{name} = {other} in effect" if not why else NOT_RESOLVED
        measured = (f"stop epochs {', '.join(f'{a}/{b}' for a, b in stops.values())} (MCL/supervised, seeds "
                    f"{', '.join(map(str, seeds))}); per-seed T-FAKE NME-IO differences at most {big:.2g} in size "
                    f"against the supervised student's test-image SE {se:.2g}; the distillation terms' share of the "
                    "gradient, start / end, mean over seeds: " + ", ".join(
                        f"L_{t} {100 * shares['start'][t]:.2f}% / {100 * shares['end'][t]:.2f}%" for t in active)
                    + f"; at lambda_lg {lg_weight:g} against lambda_kp {kp_weight:g}, one unit of KL per keypoint in "
                    f"L_lg weighs {ratio:.3g} of one in L_kp ({lg_weight:g} x {bins} bins / ({kp_weight:g} x batch "
                    f"{batch})): L_kp is a mean over the SimCC bins summed over the batch (mmpose KLDiscretLoss), "
                    "L_lg a sum over bins averaged over the batch (DWPose KDLoss)")
        claim = f"{name} vs {other} (what the distillation terms change, as measured)"
        numbers = {"seeds": seeds, "stop_epochs": {str(s): list(v) for s, v in stops.items()},
                   "differences": diffs.tolist(), "test_se": se, "gradient_shares": shares, "kd_weight_ratio": ratio}
        out.append(Statement(f"mlcmkd.tfake.{key}_effect_vs_supervised_{mcl_arch}", claim, verdict, not why,
                             f"{claim}: {verdict if not why else NOT_RESOLVED} ({measured}"
                             + (f"; {why})" if why else ")"), numbers, why))
        text += (f"MCL against supervised RTMPose-{mcl_arch}, same seeds: {measured}. "
                 + ("At the paper's weights the distillation terms are inert at this scale: MCL trains as the "
                    "supervised student does, so this benchmark does not test the paper's MCL claim.\n"
                    if not why else f"Not equal in effect: {why}.\n"))
    return text, out


def paired_spans(test: Statement | None) -> dict[str, tuple[float, float]]:
    """The intervals of a paired comparison's statement (`compare_family`'s): its t interval over seeds at its Holm
    level and, where it has one, its bootstrap over test images; none without an interval."""
    if test is None or test.numbers.get("low") is None:
        return {}
    boot = test.numbers.get("bootstrap_items")
    return {"t interval": (test.numbers["low"], test.numbers["high"]),
            **({"bootstrap": (boot["low"], boot["high"])} if boot else {})}


def statements_section(statements: list[Statement], check: dict[str, dict[str, str]]) -> str:
    """Every statement of the report as it may be stated (`conclusions.final`), with the kernel settings checked."""
    kinds = {s.id: s.trained for s in statements}
    checked = settings_compared(check, kinds) if check else "none, this run only (`make conclusions` not run)"
    lines = [f"- {sentence(final(s, check))}" for s in statements]
    return (f"Each statement is resolved only if it holds on converged runs, over seeds (Holm within its table) and "
            f"test images, and under every CPU kernel setting checked ({checked}); `metrics/conclusions.json` holds "
            "them with their numbers.\n\n" + "\n".join(lines) + "\n")
