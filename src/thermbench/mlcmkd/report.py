"""MLCM-KD report: the paper's Tables I, III, IV, V as markdown with mean ± sd over student seeds and the test-set
sampling error, paired differences (Holm within each table, bootstrap over test images), rank orders, the teacher
and mean-shape checks, convergence, the loss balance as gradient shares, every qualitative statement as data
(`thermbench.core.conclusions`), and the figures (cumulative error curves, training curves, gradient norms = Fig. 5, a
qualitative grid). Reads metrics/mlcmkd, the curve CSVs and the saved T-FAKE test predictions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler

from thermbench.core import stats
from thermbench.core.conclusions import NOT_RESOLVED, Statement, as_records, difference, final, ranking, sentence
from thermbench.core.io import InputError, read_csv, read_json, write_json, write_text
from thermbench.core.nme import mean_shape_nme, nme_io
from thermbench.core.plots import data_label, save_figure
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import read_samples
from thermbench.mlcmkd.layout import SCRATCH, run_path
from thermbench.mlcmkd.runs import Settings, group_run_names, kp_weight
from thermbench.mlcmkd.stability import early_late_ratio

CHARLOTTE_COLUMNS = ("high", "mean", "low", "front", "side", "full")
# Up to 20 runs share one axis: 10 colours solid, then the same 10 dashed, so no two lines look alike.
LINES = cycler(linestyle=["-", "--"]) * cycler(color=plt.get_cmap("tab10").colors)
TABLE_III = (("Feature Distillation", "fd"), ("Logits Distillation", "ld"), ("FD + LD", "fdld"),
             ("DIKD (Ours)", "dikd"))
# Table IV rows: (label, variant, FI on, RI on); all have L_fm, L_lg, L_kp.
TABLE_IV = (("Baseline", "fdld", False, False), ("Baseline + RI", "fdld_ri", False, True),
            ("Baseline + FI", "fdld_fi", True, False), ("Ours (DIKD)", "dikd", True, True))
TABLE_V = (("Baseline (FD+LD)", "fdld"), ("+ L_ri", "fdld_ri"), ("+ L_fi", "fdld_fi"), ("Ours (L_fi + L_ri)", "dikd"))
GRAD_STATS = ("std", "cv_percent", "mean_abs_step_change", "r2")
TEACHER_TARGET = 0.6  # teacher RGB NME-IO <= 0.6 x the supervised thermal student's (issue 11)


@dataclass
class Group:
    """One method over its student seeds: the metrics JSON of each seed, and its per-image T-FAKE test NME-IO
    (seeds x images, rows in seed order) where its predictions were read."""
    kind: str
    arch: str
    variant: str | None
    runs: dict[int, dict]
    per_image: np.ndarray | None = None

    def values(self, get) -> np.ndarray:
        return np.array([get(self.runs[s]) for s in sorted(self.runs)], dtype=np.float64)

    def by_seed(self, get) -> dict[int, float]:
        return {s: float(get(m)) for s, m in self.runs.items()}

    def unconverged(self) -> list[str]:
        return sorted(m["model"] for m in self.runs.values() if not _converged(m))


def _converged(m: dict) -> bool:
    return bool(m.get("training", {}).get("convergence", {}).get("converged"))


def group_key(name: str, m: dict) -> str:
    """`supervised-s`, `supervised-s-scratch`, `ktl-dikd`, `mcl-dikd`, `teacher`, `pretrain-t`, `zeroshot-<name>`."""
    kind = m.get("kind")
    if kind in ("teacher", "pretrain", "zeroshot"):
        return name
    method = m["arch"] if kind == "supervised" else m.get("variant")
    return f"{kind}-{method}{SCRATCH if is_scratch(name) else ''}"


def is_scratch(name: str) -> bool:
    """Whether run `name` is of the from-scratch pair (`layout.run_name`)."""
    return f"{SCRATCH}-seed" in name


def group_runs(metrics: dict[str, dict]) -> dict[str, Group]:
    """Group run metrics by method (`group_key`), seeds inside. Zero-shot rows (another area's
    metrics/mlcmkd/zeroshot-*.json) have no seed and no training."""
    groups: dict[str, Group] = {}
    for name, m in sorted(metrics.items()):
        if name.startswith("zeroshot-"):
            m = {**m, "kind": "zeroshot"}
        if m.get("kind") is None:
            raise InputError(f"metrics/mlcmkd/{name}.json: no 'kind'")
        g = groups.setdefault(group_key(name, m), Group(m["kind"], m.get("arch", ""), m.get("variant"), {}))
        g.runs[int(m.get("seed") or 0)] = m
    return groups


def _f(x, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def mean_sd(values: np.ndarray, digits: int = 4) -> str:
    """'mean ± sd' with the sample sd (ddof 1); a single value prints alone."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return _f(float(values[0]), digits)
    return f"{_f(float(values.mean()), digits)} ± {_f(float(values.std(ddof=1)), digits)}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _tfake(m: dict) -> float:
    return m["tfake"]["nme"]


def _image_se(g: Group) -> str:
    """Bootstrap standard error over test images of the method's seed-mean T-FAKE NME."""
    if g.per_image is None:
        return "n/a"
    return _f(stats.bootstrap_mean(np.nanmean(g.per_image, axis=0))["se"])


def _nme_cells(g: Group) -> list[str]:
    return ([mean_sd(g.values(_tfake)), _image_se(g)]
            + [mean_sd(g.values(lambda m, c=c: m["charlotte"][c]["nme"])) for c in CHARLOTTE_COLUMNS])


def describe(g: Group, name: str) -> str:
    """Row label in the paper's naming: teacher/student sizes and the method."""
    if g.kind == "zeroshot":
        return f"{name[len('zeroshot-'):]} (zero-shot, no training)"
    m = next(iter(g.runs.values()))
    start = " from random weights" if is_scratch(m["model"]) else ""
    if g.kind == "teacher":
        return f"RTMPose-{g.arch} RGB teacher, zero-shot on thermal"
    if g.kind == "supervised":
        return f"RTMPose-{g.arch} (supervised){start}"
    if g.kind == "ktl":
        return f"KTL {g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}{start}"
    return f"MCL from ktl-{g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}"


TABLE_I_KINDS = ("zeroshot", "teacher", "supervised", "ktl", "mcl")


def table_i(groups: dict[str, Group]) -> str:
    header = ["Method", "Seeds", "Epochs (best)", "Converged", "Params (M) @256", "GMACs @256", "T-FAKE",
              "T-FAKE test SE", "High", "Mean", "Low", "Front", "Side", "Full", "T-FAKE FR@0.1", "T-FAKE AUC@0.1"]
    rows = []
    order = sorted((k for k in groups if groups[k].kind in TABLE_I_KINDS),
                   key=lambda k: (TABLE_I_KINDS.index(groups[k].kind), "scratch" in k))
    notes = []
    for name in order:
        g = groups[name]
        m = next(iter(g.runs.values()))
        if m.get("status", "ok") != "ok":  # a zero-shot model without weights: its status, no numbers
            rows.append([describe(g, name), m["status"].split(":")[0]] + [""] * (len(header) - 2))
            notes.append(f"- {describe(g, name)}: {m['status']}")
            continue
        c = m.get("complexity") or {}
        trained = g.kind != "zeroshot"
        epochs = (", ".join(f"{r['training']['epochs_run']} ({r['training']['best_epoch']})"
                            for _, r in sorted(g.runs.items())) if trained else "–")
        converged = f"{len(g.runs) - len(g.unconverged())}/{len(g.runs)}" if trained else "–"
        seeds = ", ".join(map(str, sorted(g.runs))) if trained else "–"
        rows.append([describe(g, name), seeds, epochs, converged, _f(c.get("params_m"), 2),
                     _f(c["gflops"] / 2, 2) if "gflops" in c else "n/a"] + _nme_cells(g)
                    + [mean_sd(g.values(lambda m: m["tfake"]["fr@0.1"])),
                       mean_sd(g.values(lambda m: m["tfake"]["auc@0.1"]))])
    return _table(header, rows) + ("\n" + "\n".join(notes) + "\n" if notes else "")


def table_iii(groups: dict[str, Group]) -> str:
    header = ["Method", "Teacher", "Student", "Seeds", "T-FAKE", "T-FAKE test SE", "High", "Mean", "Low", "Front",
              "Side", "Full"]
    rows = []
    for label, variant in TABLE_III:
        g = groups.get(f"ktl-{variant}")
        if g:
            m = next(iter(g.runs.values()))
            rows.append([label, f"RTMPose-{m['teacher_arch']}", f"RTMPose-{g.arch}", str(len(g.runs))]
                        + _nme_cells(g))
    return _table(header, rows)


def table_iv(groups: dict[str, Group]) -> str:
    header = ["Method", "L_fm", "L_lg", "L_kp", "L_DIKD^fi", "L_DIKD^ri", "Seeds", "NME T-FAKE", "T-FAKE test SE",
              "NME CHARLOTTE Full"]
    mark = lambda on: "✓" if on else "–"  # noqa: E731
    rows = []
    for label, variant, fi, ri in TABLE_IV:
        g = groups.get(f"ktl-{variant}")
        if g:
            rows.append([label, "✓", "✓", "✓", mark(fi), mark(ri), str(len(g.runs)), mean_sd(g.values(_tfake)),
                         _image_se(g), mean_sd(g.values(lambda m: m["charlotte"]["full"]["nme"]))])
    return _table(header, rows)


def _grad(m: dict, key: str, part: str = "grad_norm") -> float:
    return m["training"][part][key]


def table_v(groups: dict[str, Group], early_late: dict[str, dict[int, float]] | None = None) -> str:
    """Gradient-norm statistics over every logged step and after the warm-up; `early_late`: per KTL group and seed,
    `stability.early_late_ratio` of the run's logged grad norms (a column when given)."""
    header = ["Method", "Seeds", "Steps", "Std Dev", "CV (%)", "Mean Step Change", "R^2", "Steps after warm-up",
              "CV (%) after warm-up"]
    header += ["First / last 20% of steps"] if early_late else []
    rows = []
    for label, variant in TABLE_V:
        g = groups.get(f"ktl-{variant}")
        if g and all("grad_norm" in m["training"] for m in g.runs.values()):
            first = next(iter(g.runs.values()))["training"]
            row = [label, str(len(g.runs)), str(first["grad_norm"]["steps"])]
            row += [mean_sd(g.values(lambda m, k=k: _grad(m, k)), 2 if k == "cv_percent" else 4) for k in GRAD_STATS]
            after = all("grad_norm_after_warmup" in m["training"] for m in g.runs.values())
            row += ([str(first["grad_norm_after_warmup"]["steps"]),
                     mean_sd(g.values(lambda m: _grad(m, "cv_percent", "grad_norm_after_warmup")), 2)]
                    if after else ["–", "–"])
            if early_late:
                ratios = early_late.get(f"ktl-{variant}", {})
                row.append(mean_sd([ratios[s] for s in sorted(ratios)], 2) if ratios else "–")
            rows.append(row)
    return _table(header, rows)


# --------------------------------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Comparison:
    """A - B on one metric, paired by student seed."""
    id: str
    label: str      # "DIKD − FD+LD"
    a: str          # group keys
    b: str
    name_a: str     # names in verdicts
    name_b: str
    metric: Callable[[dict], float] = _tfake
    what: str = "T-FAKE test NME-IO"


def _names(key: str) -> str:
    return NAMES.get(key, key)


NAMES = {"supervised-s": "supervised-s", "ktl-fdld": "FD+LD", "ktl-fdld_ri": "+RI", "ktl-fdld_fi": "+FI",
         "ktl-dikd": "DIKD", "ktl-fd": "FD", "ktl-ld": "LD", "mcl-dikd": "MCL"}


def families(groups: dict[str, Group], ktl_arch: str, mcl_arch: str) -> dict[str, list[Comparison]]:
    """The comparisons of each table, each a Holm family. Table I: every KTL method and MCL against the supervised
    student of its size, and the from-scratch pair; Tables III/IV: every KTL variant against FD+LD."""
    sup, sup_t = f"supervised-{ktl_arch}", f"supervised-{mcl_arch}"
    out: dict[str, list[Comparison]] = {"table_i": [], "table_iii_iv": []}
    variants = dict.fromkeys([v for _, v in TABLE_III] + [v for _, v, _, _ in TABLE_IV])
    for variant in variants:
        key = f"ktl-{variant}"
        if key in groups and sup in groups and not any(c.a == key for c in out["table_i"]):
            out["table_i"].append(Comparison(f"mlcmkd.tfake.{variant}_vs_supervised", f"{_names(key)} − supervised",
                                             key, sup, _names(key), f"supervised RTMPose-{ktl_arch}"))
        if key != "ktl-fdld" and key in groups and "ktl-fdld" in groups and \
                not any(c.a == key for c in out["table_iii_iv"]):
            out["table_iii_iv"].append(Comparison(f"mlcmkd.tfake.{variant}_vs_fdld", f"{_names(key)} − FD+LD", key,
                                                  "ktl-fdld", _names(key), "FD+LD"))
    for key in sorted(k for k, g in groups.items() if g.kind == "mcl"):
        if sup_t in groups:
            out["table_i"].append(Comparison(f"mlcmkd.tfake.{key}_vs_supervised_{mcl_arch}",
                                             f"MCL − supervised-{mcl_arch}", key, sup_t, f"MCL ({groups[key].variant})",
                                             f"supervised RTMPose-{mcl_arch}"))
    pair = (f"ktl-dikd{SCRATCH}", f"{sup}{SCRATCH}")
    if all(k in groups for k in pair):
        out["table_i"].append(Comparison("mlcmkd.tfake.dikd_vs_supervised_from_scratch",
                                         "DIKD − supervised, both from random weights", *pair,
                                         "DIKD from scratch", "supervised from scratch"))
    return {k: v for k, v in out.items() if v}


def compare_family(groups: dict[str, Group], family: list[Comparison],
                   per_image: bool = True) -> tuple[list[Statement], list[list[str]]]:
    """Each comparison's statement and table row. Resolved when every run of both methods converged, the paired t
    test over seeds rejects 0 after Holm's correction across the family, and (`per_image`) the bootstrap interval over
    test images of the seed-mean difference excludes 0 on the same side."""
    diffs = {}
    for c in family:
        a, b = groups[c.a].by_seed(c.metric), groups[c.b].by_seed(c.metric)
        diffs[c.id] = np.array([a[s] - b[s] for s in sorted(set(a) & set(b))])
    p = {cid: stats.t_p_value(d) for cid, d in diffs.items()}
    p_holm, levels = stats.holm_adjust(p), stats.holm_levels(p)
    statements, rows = [], []
    for c in family:
        d = diffs[c.id]
        mean, low, high = stats.t_interval(d, levels[c.id])
        unconverged = groups[c.a].unconverged() + groups[c.b].unconverged()
        blockers = [f"not converged: {', '.join(unconverged)}"] if unconverged else []
        if len(d) < 2:
            blockers.append(f"{len(d)} paired seed(s)")
        elif p_holm[c.id] >= stats.ALPHA:
            blockers.append(f"Holm-adjusted p {p_holm[c.id]:.3f} >= {stats.ALPHA}")
        boot = None
        if per_image and groups[c.a].per_image is not None and groups[c.b].per_image is not None:
            boot = stats.bootstrap_mean(_seed_mean_difference(groups[c.a], groups[c.b]))
            if boot["low"] <= 0 <= boot["high"] or (boot["mean"] > 0) != (mean > 0):
                blockers.append("the test-image bootstrap interval includes 0")
        extra = {"n_seeds": len(d), "p": p[c.id], "p_holm": p_holm[c.id], "level": levels[c.id]}
        if boot:
            extra["bootstrap_images"] = boot
        statements.append(difference(c.id, f"{c.name_a} vs {c.name_b} ({c.what})", c.name_a, c.name_b, mean, low,
                                     high, blockers=blockers, extra=extra))
        span = "–" if low is None else f"[{low:+.4g}, {high:+.4g}]"
        rows.append([c.label, str(len(d)), f"{mean:+.4g}", span, f"{100 * levels[c.id]:.1f}%", f"{p[c.id]:.3f}",
                     f"{p_holm[c.id]:.3f}", "–" if boot is None else f"[{boot['low']:+.4f}, {boot['high']:+.4f}]",
                     statements[-1].verdict])
    return statements, rows


def _seed_mean_difference(a: Group, b: Group) -> np.ndarray:
    """Per test image: the mean over the paired seeds of NME(A) - NME(B)."""
    seeds = sorted(set(a.runs) & set(b.runs))
    ia, ib = (np.array([sorted(g.runs).index(s) for s in seeds]) for g in (a, b))
    return np.nanmean(a.per_image[ia] - b.per_image[ib], axis=0)


COMPARISON_HEADER = ["Difference", "Seeds", "Mean", "t interval (Holm level)", "Level", "p", "p Holm",
                     "Bootstrap over test images (95%)", "Verdict here"]


def rank_statement(groups: dict[str, Group], keys: list[str], id: str, claim: str) -> Statement | None:
    """Rank order of methods by T-FAKE NME with a 95% interval per method: the wider of the t interval over seeds
    and the bootstrap over test images of its seed mean; blocked by runs that did not converge."""
    present = [k for k in keys if k in groups]
    if len(present) < 2:
        return None
    items = {}
    for k in present:
        g = groups[k]
        mean, low, high = stats.t_interval(g.values(_tfake))
        half = 0.0 if low is None else (high - low) / 2
        if g.per_image is not None:
            boot = stats.bootstrap_mean(np.nanmean(g.per_image, axis=0))
            half = max(half, (boot["high"] - boot["low"]) / 2)
        items[_names(k)] = (mean, mean - half, mean + half)
    blocked = sorted(r for k in present for r in groups[k].unconverged())
    return ranking(id, claim, items, blockers=[f"not converged: {', '.join(blocked)}"] if blocked else None)


def table_v_family(groups: dict[str, Group]) -> list[Comparison]:
    """Table V as one Holm family: the grad-norm CV of +RI, +FI and DIKD against FD+LD, over every logged step and
    after the warm-up (the paper's claim is about the training trajectory; the first steps from a fresh head are a
    start-up transient)."""
    family = []
    for part, label in (("grad_norm", "all logged steps"), ("grad_norm_after_warmup", "after warm-up")):
        for variant in ("fdld_ri", "fdld_fi", "dikd"):
            key = f"ktl-{variant}"
            if all(k in groups and all(part in m["training"] for m in groups[k].runs.values())
                   for k in (key, "ktl-fdld")):
                family.append(Comparison(f"mlcmkd.cv.{part}.{variant}_vs_fdld", f"CV {_names(key)} − FD+LD ({label})",
                                         key, "ktl-fdld", _names(key), "FD+LD",
                                         lambda m, part=part: _grad(m, "cv_percent", part),
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
    sup, sup_low, sup_high = stats.t_interval(s.values(_tfake))
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
                          f"teacher check {verdict} ({measured}{'; ' + why if why else ''})", numbers, why)
    text = (f"Teacher check: the RGB teacher (RTMPose-{t.arch}) scores NME-IO {_f(rgb)} on the RGB T-FAKE test crops "
            f"(and {_f(thermal)} zero-shot on their thermal twins, x{thermal / rgb:.1f}: the modality gap); the "
            f"supervised thermal RTMPose-{student_arch} scores {_f(sup)} (mean over {len(s.runs)} seeds). "
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
    MCL variant, whether it ends below the baseline on test (over seeds and test images)."""
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
        d = g.values(_tfake) - test
        mean, low, high = stats.t_interval(d)
        blockers = [f"not converged: {', '.join(g.unconverged())}"] if g.unconverged() else []
        extra = {"n_seeds": len(d), "mean_shape_test_nme": test}
        if g.per_image is not None:
            boot = stats.bootstrap_mean(np.nanmean(g.per_image, axis=0) - test_nmes)
            extra["bootstrap_images"] = boot
            if boot["low"] <= 0 <= boot["high"]:
                blockers.append("the test-image bootstrap interval includes 0")
        name = _names(key)
        statements.append(difference(f"mlcmkd.tfake.{key}_vs_mean_shape", f"{name} vs the mean-shape baseline "
                                     "(T-FAKE test NME-IO)", name, "mean shape", mean, low, high, blockers=blockers,
                                     extra=extra))
    failed = [st.claim.split(" vs ")[0] for st in statements
              if st.id.startswith("mlcmkd.tfake.mcl-") and st.verdict != f"{st.claim.split(' vs ')[0]} < mean shape"]
    text = (f"Mean-shape baseline (no model: the mean landmarks of the {len(train_kpts)} training crops on every "
            f"image): NME-IO {_f(val)} on T-FAKE val, {_f(test)} on test. Student runs whose best val NME is no lower, "
            f"i.e. still on the mean-shape plateau: {len(stuck)} of {len(best)}"
            + (f" ({', '.join(f'{n} {_f(best[n])}' for n in stuck)}); their test NMEs, and the means and intervals "
               "they enter, measure whether a run left the plateau, not how well it learnt.\n" if stuck else ".\n"))
    if failed:
        text += f"**MCL failed here: {', '.join(failed)} does not end clearly below the mean-shape baseline.**\n"
    return text, {"mean_shape_val_nme": val, "mean_shape_test_nme": test, "runs_on_mean_shape_plateau": len(stuck),
                  "student_runs": len(best)}, statements


INIT_LABELS = {"pretrained backbone": "from the backbone of an RTMPose of their size pretrained on the RGB face set, "
                                      "head random (the offline stand-in for the pose-pretrained CSPNeXt backbone "
                                      "that RTMPose and DWPose start from)",
               "random": "from random weights"}


def initial_weights(groups: dict[str, Group]) -> str:
    """Which trained student methods started from a pretrained backbone and which from random weights (the `init` of
    their runs' metrics), and the RGB-pretrained backbone sources with their RGB NME."""
    starts: dict[str, list[str]] = {}
    for key, g in groups.items():
        if g.kind in ("supervised", "ktl", "mcl"):
            for init in sorted({str(m.get("init")) for m in g.runs.values()}):
                starts.setdefault(init, []).append(key)
    if not starts:
        return ""
    text = "Initial weights: " + "; ".join(f"{', '.join(sorted(keys))} {INIT_LABELS.get(init, f'from {init}')}"
                                           for init, keys in sorted(starts.items())) + ".\n"
    sources = [(k, g) for k, g in sorted(groups.items()) if g.kind in ("teacher", "pretrain")]
    if sources:
        text += "Backbone sources (RGB-pretrained, RGB T-FAKE test NME-IO): " + ", ".join(
            f"RTMPose-{g.arch} ({k}) {_f(next(iter(g.runs.values()))['tfake_rgb']['nme'])}" for k, g in sources) + ".\n"
    return text


def gradient_shares(groups: dict[str, Group], settings: Settings) -> str:
    """Each loss term's share of the gradient norm at the start and the end of training, mean over seeds per method,
    and the lambda_kp scaling that sets the balance."""
    train = settings.train
    rows, terms = [], ("kp", "fm", "lg", "fi", "ri")
    for key, g in sorted(groups.items()):
        if g.kind not in ("supervised", "ktl", "mcl") or not all(m["training"].get("gradient_shares")
                                                                 for m in g.runs.values()):
            continue
        for when in ("start", "end"):
            shares = [m["training"]["gradient_shares"].get(when, {}) for m in g.runs.values()]
            rows.append([key, when] + [f"{100 * np.mean([sh.get(t, 0.0) for sh in shares]):.1f}%"
                                       if any(t in sh for sh in shares) else "–" for t in terms])
    scale = (f"lambda_kp = {train.kp_weight} x {train.kp_reference_batch} / {train.fit.batch_size} = "
             f"{kp_weight(train):g}, the paper's 0.1 rescaled so that a batch-summed L_kp keeps against the batch-mean "
             f"distillation terms the balance it has at the paper's batch of {train.kp_reference_batch}"
             if train.kp_reference_batch else f"lambda_kp = {train.kp_weight} as given (no batch rescaling)")
    text = ("Loss balance, as shares of the gradient: each weighted term's gradient L2 norm over the sum of those "
            f"norms, on {train.fit.share_batches} fixed training batches, at the initial weights (start) and at the "
            f"restored best epoch (end); mean over seeds. Every student uses {scale}; the supervised students the same "
            "lambda_kp, optimiser, schedule and clipping, so the distillation terms are the only difference.\n\n")
    return text + (_table(["Method", "When", "L_kp", "L_fm", "L_lg", "L_fi", "L_ri"], rows) if rows else "")


def convergence_section(groups: dict[str, Group], settings: Settings) -> str:
    """The stated convergence criterion and every run that did not meet it."""
    runs = [m for g in groups.values() if g.kind not in ("zeroshot",) for m in g.runs.values()]
    criterion = next((m["training"]["convergence"]["criterion"] for m in runs
                      if "convergence" in m.get("training", {})), "n/a")
    bad = sorted(f"{m['model']} ({m['training']['epochs_run']} of {m['training']['convergence']['epoch_cap']} "
                 "epochs)" for m in runs if not _converged(m))
    text = (f"Convergence: every run trains until its validation NME-IO has converged — {criterion} — or reaches "
            f"its epoch cap ({settings.train.fit.epochs} for students, {settings.train.teacher_epochs} for the teacher "
            "and the pretrained backbones), and keeps its best validation epoch. ")
    return text + (f"**Not converged ({len(bad)} of {len(runs)} runs): {', '.join(bad)}; no comparison below rests "
                   "on them (their statements are not resolved).**\n" if bad else
                   f"All {len(runs)} runs converged.\n")


def statements_section(statements: list[Statement], check: dict[str, dict[str, str]]) -> str:
    """Every statement of the report as it may be stated (`conclusions.final`), with the kernel settings checked."""
    checked = ", ".join(["this run"] + sorted(check)) if check else "this run only (`make conclusions` not run)"
    lines = [f"- {sentence(final(s, check))}" for s in statements]
    return (f"Each statement is resolved only if it holds on converged runs, over seeds (Holm within its table) and "
            f"test images, and under every CPU kernel setting checked ({checked}); `metrics/conclusions.json` holds "
            "them with their numbers.\n\n" + "\n".join(lines) + "\n")


def markdown(groups: dict[str, Group], settings: Settings, source_label: str,
             early_late: dict[str, dict[int, float]] | None = None,
             shapes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
             check: dict[str, dict[str, str]] | None = None) -> tuple[str, dict, list[Statement]]:
    """The report's markdown, its summary scalars and its statements. `shapes`: T-FAKE landmarks of the students'
    training crops, val and test (crop px), for the mean-shape baseline; `check`: the kernel-check verdicts."""
    check = check or {}
    any_run = next(g.runs[s] for g in groups.values() if g.kind != "zeroshot" for s in g.runs)
    size = any_run["input_size"]
    dikd_mode = settings.train.ktl["dikd_mode"]
    teacher_text, teacher_summary, teacher_st = teacher_check(groups, settings.rtmpose.ktl_arch)
    shape_text, shape_summary, shape_st = mean_shape_check(groups, *shapes) if shapes is not None else ("", {}, [])
    fams = families(groups, settings.rtmpose.ktl_arch, settings.rtmpose.mcl_arch)
    st_i, rows_i = compare_family(groups, fams.get("table_i", []))
    st_iv, rows_iv = compare_family(groups, fams.get("table_iii_iv", []))
    st_v, rows_v = compare_family(groups, table_v_family(groups), per_image=False)
    ranks = [r for r in (rank_statement(groups, [f"ktl-{v}" for _, v in TABLE_III], "mlcmkd.rank.table_iii",
                                        "Table III order by T-FAKE NME-IO, lower first"),
                         rank_statement(groups, [f"ktl-{v}" for _, v, _, _ in TABLE_IV], "mlcmkd.rank.table_iv",
                                        "Table IV order by T-FAKE NME-IO, lower first")) if r]
    statements = teacher_st + shape_st + st_i + st_iv + ranks + st_v
    parts = [
        f"# MLCM-KD reproduction ({source_label})\n\n",
        f"Trained at {size}x{size} input; student seeds {', '.join(map(str, settings.train.seeds))} for every "
        "compared method (one frozen teacher, trained with the top-level seed; MCL run k compresses the DIKD run of "
        "seed k); cells are mean ± sample sd over seeds, and `test SE` is the bootstrap standard error over test "
        f"images of the seed mean. DIKD mode: **{dikd_mode}** ("
        + ("the paper's prose: FI = teacher features through the student head vs L_tt, RI = student features through "
           "the frozen teacher head vs L_tt" if dikd_mode == "text" else
           "the paper's printed eqs. (4)-(5), which swap the cross-injected logits relative to its prose")
        + "). Equal teacher/student widths: raw features on the RI path and in L_fm (no aligner, as DWPose); unequal "
          "widths: a 1x1 aligner initialised as the identity on the shared channels. NME-IO (outer eye corners) on "
          "T-FAKE; NME normalised by the GT box diagonal on CHARLOTTE subsets (Side: only the mapped, labelled "
          "points). Params and GMACs (multiply-adds) are for the architecture at 256x256.\n\n",
        "## Conclusions\n\n", statements_section(statements, check), "\n",
        convergence_section(groups, settings), "\n", initial_weights(groups), "\n", teacher_text, "\n", shape_text,
        "\n", gradient_shares(groups, settings),
        "\n## Table I: supervised vs KD\n\n", table_i(groups),
        "\nPaired differences (same student seed: same initial head, batches and augmentation), one Holm family for "
        "the table: the t interval is at the Holm level of each comparison. Negative = lower NME than the "
        "second method.\n\n", _table(COMPARISON_HEADER, rows_i) if rows_i else "No comparisons (methods missing).\n",
        "\n## Table III: distillation strategies (KTL)\n\n", table_iii(groups),
        "\n## Table IV: DIKD ablation\n\n", table_iv(groups),
        "\nPaired differences against FD+LD (Tables III and IV, one Holm family).\n\n",
        _table(COMPARISON_HEADER, rows_iv) if rows_iv else "No comparisons (FD+LD or the variants missing).\n",
        "\n## Table V: gradient-norm stability (logged KTL steps, mean ± sd over seeds)\n\n",
        table_v(groups, early_late),
        ("\nFirst / last 20% of steps: the mean grad norm of the first fifth of the logged steps over that of the last "
         "fifth (1 = no trend; a series that starts high and settles has a high CV without step-to-step "
         "volatility).\n" if early_late else ""),
        ("\nPaired CV differences against FD+LD (one Holm family; no test images involved).\n\n"
         + _table(COMPARISON_HEADER, rows_v) if rows_v else ""),
    ]
    return "".join(parts), {**teacher_summary, **shape_summary}, statements


# ------------------------------------------------------------------------------------------------------------ figures


def _tag(ax, source_label: str) -> None:
    ax.text(0.99, 0.01, source_label, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")


def plot_ced(curves: dict[str, pd.DataFrame], source_label: str):
    """CED of each run from its `<run>_ced.csv` (columns nme, tfake, charlotte_full)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (title, column) in zip(axes, (("T-FAKE test (NME-IO)", "tfake"),
                                          ("CHARLOTTE Full (NME-diag)", "charlotte_full"))):
        ax.set_prop_cycle(LINES)
        for name, df in curves.items():
            ax.plot(df["nme"], df[column], label=name, lw=1.2)
        ax.set(title=title, xlabel="NME (fraction of normaliser)", ylabel="images with NME <= x (fraction)")
        ax.grid(alpha=0.3)
        _tag(ax, source_label)
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Cumulative error distribution up to NME 0.1 ({source_label})")
    return fig


def plot_curves(curves: dict[str, pd.DataFrame], source_label: str):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax in axes:
        ax.set_prop_cycle(LINES)
    for name, df in curves.items():
        axes[0].plot(df["epoch"], df["train_loss"], label=name, lw=1.2)
        scored = df.dropna(subset=["val_nme"]) if "val_nme" in df else df.iloc[:0]
        axes[1].plot(scored["epoch"], scored["val_nme"], label=name, lw=1.2, marker=".")
    axes[0].set(title="Training loss (weighted total)", xlabel="epoch", ylabel="loss (unitless)", yscale="log")
    axes[1].set(title="Validation NME-IO (thermal; RGB for the teacher)", xlabel="epoch", ylabel="NME (fraction)")
    for ax in axes:
        ax.grid(alpha=0.3)
        _tag(ax, source_label)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"MLCM-KD training curves ({source_label})")
    return fig


def plot_grad_norms(grad: dict[str, pd.DataFrame], source_label: str):
    """Fig. 5: per-step gradient L2 norm over the first logged KTL steps."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, df in grad.items():
        ax.plot(df["step"], df["grad_norm"], label=name, lw=1.0)
    ax.set(title=f"Gradient norm in early KTL training (Fig. 5; {source_label})", xlabel="training step",
           ylabel="||grad||_2 of student + adapters (unitless, log)", yscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _tag(ax, source_label)
    return fig


def plot_qualitative(images: list[np.ndarray], gt: np.ndarray, preds: dict[str, np.ndarray], source_label: str):
    """Rows = thermal test crops; columns = methods; GT green dots, prediction red crosses (crop px)."""
    n, cols = len(images), len(preds)
    fig, axes = plt.subplots(n, cols, figsize=(2.6 * cols, 2.6 * n), squeeze=False)
    for i, img in enumerate(images):
        for j, (name, pred) in enumerate(preds.items()):
            ax = axes[i, j]
            ax.imshow(img, cmap="inferno", vmin=0, vmax=255)
            ax.scatter(gt[i, :, 0], gt[i, :, 1], s=4, c="lime", label="GT")
            ax.scatter(pred[i, :, 0], pred[i, :, 1], s=6, c="red", marker="x", linewidths=0.7, label="prediction")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"test {i} (crop px)", fontsize=7)
    axes[0, 0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"T-FAKE thermal test crops: GT (green) vs prediction (red) ({source_label})")
    return fig


QUALITATIVE_ROWS = 4


def run_names(settings: Settings) -> list[str]:
    """Every run the pipeline trains under these settings, in table order."""
    return (["teacher"] + [f"pretrain-{a}" for a in settings.rtmpose.pretrain_archs]
            + group_run_names(settings, "supervised") + group_run_names(settings, "ktl")
            + group_run_names(settings, "mcl"))


def attach_per_image(groups: dict[str, Group], predictions_dir: Path, test_kpts: np.ndarray) -> None:
    """Each trained student method's per-image T-FAKE test NME-IO (seeds x images) from its saved predictions."""
    for g in groups.values():
        if g.kind in ("supervised", "ktl", "mcl"):
            preds = [np.load(_read(run_path(predictions_dir, g.runs[s]["model"], ".npy"))) for s in sorted(g.runs)]
            g.per_image = np.stack([nme_io(p.astype(np.float64), test_kpts) for p in preds])


def write_report(tfake: Path, metrics_dir: Path, curves_dir: Path, predictions_dir: Path, out: Path, summary: Path,
                 statements_path: Path, check: dict[str, dict[str, str]], settings: Settings,
                 source: dict[str, str]) -> None:
    """Stage report_mlcmkd: tables (markdown), the summary scalars, the statements (final under `check`, the kernel
    check's verdicts), and the figures for the base student seed."""
    label = data_label(source)
    metrics = {n: read_json(_read(run_path(metrics_dir, n, ".json"))) for n in run_names(settings)}
    metrics.update({p.stem: read_json(p) for p in sorted(metrics_dir.glob("zeroshot-*.json"))})
    groups = group_runs(metrics)
    samples = read_samples(tfake, ("split", "crop_path", "kpts"))
    train_kpts, val_kpts, test_kpts = (_landmarks(samples, split) for split in ("train", "val", "test"))
    attach_per_image(groups, predictions_dir, test_kpts)
    text, scalars, statements = markdown(groups, settings, label, _early_late(groups, curves_dir),
                                         (train_kpts[:settings.train.max_train_samples], val_kpts, test_kpts), check)
    write_text(out / "mlcmkd_tables.md", text)
    write_json(summary, scalars)
    write_json(statements_path, {"statements": as_records(statements, check)})

    base = settings.train.seeds[0]
    trained = {n: g.runs[base] if base in g.runs else next(iter(g.runs.values()))
               for n, g in groups.items() if g.kind != "zeroshot"}
    names = [m["model"] for m in trained.values()]
    ced = {n: read_csv(run_path(curves_dir, n, "_ced.csv")) for n in names}
    save_figure(plot_ced(ced, label), out / "mlcmkd_ced")
    curves = {n: read_csv(run_path(curves_dir, n, ".csv")) for n in names}
    save_figure(plot_curves(curves, label), out / "mlcmkd_curves")
    grad = {f"ktl-{v}": read_csv(run_path(curves_dir, trained[f"ktl-{v}"]["model"], "_gradnorm.csv"))
            for _, v in TABLE_V if f"ktl-{v}" in trained}
    save_figure(plot_grad_norms(grad, label), out / "mlcmkd_gradnorm")

    # Qualitative grid: supervised student of the KTL size vs conventional KD (FD+LD) vs DIKD (base seed).
    columns = {key: title for key, title in ((f"supervised-{settings.rtmpose.ktl_arch}", "supervised"),
                                             ("ktl-fdld", "conventional KD (FD+LD)"), ("ktl-dikd", "DIKD"))
               if key in trained}
    preds = {title: np.load(_read(run_path(predictions_dir, trained[key]["model"], ".npy")))[:QUALITATIVE_ROWS]
             for key, title in columns.items()}
    test = samples[samples["split"] == "test"].iloc[:QUALITATIVE_ROWS]
    images = [read_image(tfake / p) for p in test["crop_path"]]
    save_figure(plot_qualitative(images, test_kpts[:QUALITATIVE_ROWS], preds, label), out / "mlcmkd_qualitative")


def _early_late(groups: dict[str, Group], curves_dir: Path) -> dict[str, dict[int, float]]:
    """`stability.early_late_ratio` of every Table V run's logged grad norms (its _gradnorm.csv), by group and seed."""
    out: dict[str, dict[int, float]] = {}
    for key in (f"ktl-{variant}" for _, variant in TABLE_V if f"ktl-{variant}" in groups):
        for seed, m in groups[key].runs.items():
            path = run_path(curves_dir, m["model"], "_gradnorm.csv")
            if path.is_file():
                out.setdefault(key, {})[seed] = early_late_ratio(read_csv(path)["grad_norm"])
    return out


def _landmarks(samples: pd.DataFrame, split: str) -> np.ndarray:
    """(N, K, 2) landmarks in crop px of the prepared samples of `split`, in file order."""
    return np.array([np.asarray(json.loads(k))[:, :2] for k in samples.loc[samples["split"] == split, "kpts"]])


def _read(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    return path
