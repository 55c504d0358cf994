"""MLCM-KD report: the paper's Tables I, III, IV, V as markdown with mean ± sd over student seeds, paired differences
against FD+LD with 95% intervals, the teacher check, the loss balance, and the figures (cumulative error curves,
training curves, gradient norms = Fig. 5, a qualitative grid). Reads metrics/mlcmkd/*.json and the curve CSVs only."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from scipy import stats

from thermbench.core.io import InputError, read_csv, read_json, write_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import read_samples
from thermbench.mlcmkd.evaluate import mean_shape_nme
from thermbench.mlcmkd.layout import run_path
from thermbench.mlcmkd.runs import Settings, group_run_names
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
PAIRED = (("DIKD − FD+LD", "dikd"), ("+RI − FD+LD", "fdld_ri"), ("+FI − FD+LD", "fdld_fi"))
GRAD_STATS = ("std", "cv_percent", "mean_abs_step_change", "r2")
TEACHER_TARGET = 0.6  # teacher RGB NME-IO <= 0.6 x the supervised thermal student's (issue 11)
TEACHER_FLAT_PCT = 10.0  # the teacher's validation NME has flattened when its last epoch moved it by at most this


@dataclass
class Group:
    """One method over its student seeds: the metrics JSON of each seed."""
    kind: str
    arch: str
    variant: str | None
    runs: dict[int, dict]

    def values(self, get) -> np.ndarray:
        return np.array([get(self.runs[s]) for s in sorted(self.runs)], dtype=np.float64)


def group_runs(metrics: dict[str, dict]) -> dict[str, Group]:
    """Group run metrics by method: `supervised-s`, `ktl-dikd`, `mcl-dikd`, `teacher`, `zeroshot-<name>`; seeds
    inside. Zero-shot rows (another area's metrics/mlcmkd/zeroshot-*.json) have no seed and no training."""
    groups: dict[str, Group] = {}
    for name, m in sorted(metrics.items()):
        kind = m.get("kind") or ("zeroshot" if name.startswith("zeroshot-") else None)
        if kind is None:
            raise InputError(f"metrics/mlcmkd/{name}.json: no 'kind'")
        method = m["arch"] if kind == "supervised" else m.get("variant")
        key = name if kind in ("teacher", "zeroshot") else f"{kind}-{method}"
        g = groups.setdefault(key, Group(kind, m.get("arch", ""), m.get("variant"), {}))
        g.runs[int(m.get("seed") or 0)] = m
    return groups


def _f(x, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def mean_sd(values: np.ndarray, digits: int = 4) -> str:
    """'mean ± sd (n)' with the sample sd (ddof 1); a single value prints alone."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return _f(float(values[0]), digits)
    return f"{_f(float(values.mean()), digits)} ± {_f(float(values.std(ddof=1)), digits)}"


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """Mean of a[s] - b[s] over the seeds both have, with a two-sided 95% t interval (n - 1 degrees of freedom);
    no interval for fewer than 2 seeds."""
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    out = {"n": len(seeds), "mean": float(d.mean()) if len(d) else float("nan"), "low": None, "high": None}
    if len(d) >= 2:
        half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
        out.update(low=out["mean"] - half, high=out["mean"] + half)
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _nme_cells(g: Group) -> list[str]:
    return ([mean_sd(g.values(lambda m: m["tfake"]["nme"]))]
            + [mean_sd(g.values(lambda m, c=c: m["charlotte"][c]["nme"])) for c in CHARLOTTE_COLUMNS])


def describe(g: Group, name: str) -> str:
    """Row label in the paper's naming: teacher/student sizes and the method."""
    if g.kind == "zeroshot":
        return f"{name[len('zeroshot-'):]} (zero-shot, no training)"
    m = next(iter(g.runs.values()))
    if g.kind == "teacher":
        return f"RTMPose-{g.arch} RGB teacher, zero-shot on thermal"
    if g.kind == "supervised":
        return f"RTMPose-{g.arch} (supervised)"
    if g.kind == "ktl":
        return f"KTL {g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}"
    return f"MCL from ktl-{g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}"


def table_i(groups: dict[str, Group]) -> str:
    header = ["Method", "Seeds", "Trained at", "Params (M) @256", "GMACs @256", "T-FAKE", "High", "Mean", "Low",
              "Front", "Side", "Full", "T-FAKE FR@0.1", "T-FAKE AUC@0.1"]
    rows = []
    order = sorted(groups, key=lambda k: ("zeroshot", "teacher", "supervised", "ktl", "mcl").index(groups[k].kind))
    for name in order:
        g = groups[name]
        m = next(iter(g.runs.values()))
        c = m.get("complexity") or {}
        trained = "no training" if g.kind == "zeroshot" else f"{m['input_size']}x{m['input_size']}, {m['epochs']} ep"
        seeds = "–" if g.kind == "zeroshot" else ", ".join(map(str, sorted(g.runs)))
        rows.append([describe(g, name), seeds, trained, _f(c.get("params_m"), 2),
                     _f(c["gflops"] / 2, 2) if "gflops" in c else "n/a"] + _nme_cells(g)
                    + [mean_sd(g.values(lambda m: m["tfake"]["fr@0.1"])),
                       mean_sd(g.values(lambda m: m["tfake"]["auc@0.1"]))])
    return _table(header, rows)


def table_iii(groups: dict[str, Group]) -> str:
    header = ["Method", "Teacher", "Student", "Seeds", "T-FAKE", "High", "Mean", "Low", "Front", "Side", "Full"]
    rows = []
    for label, variant in TABLE_III:
        g = groups.get(f"ktl-{variant}")
        if g:
            m = next(iter(g.runs.values()))
            rows.append([label, f"RTMPose-{m['teacher_arch']}", f"RTMPose-{g.arch}", str(len(g.runs))]
                        + _nme_cells(g))
    return _table(header, rows)


def table_iv(groups: dict[str, Group]) -> str:
    header = ["Method", "L_fm", "L_lg", "L_kp", "L_DIKD^fi", "L_DIKD^ri", "Seeds", "NME T-FAKE", "NME CHARLOTTE Full"]
    mark = lambda on: "✓" if on else "–"  # noqa: E731
    rows = []
    for label, variant, fi, ri in TABLE_IV:
        g = groups.get(f"ktl-{variant}")
        if g:
            rows.append([label, "✓", "✓", "✓", mark(fi), mark(ri), str(len(g.runs)),
                         mean_sd(g.values(lambda m: m["tfake"]["nme"])),
                         mean_sd(g.values(lambda m: m["charlotte"]["full"]["nme"]))])
    return _table(header, rows)


def _grad(m: dict, key: str) -> float:
    return m["training"]["grad_norm"][key]


def table_v(groups: dict[str, Group], early_late: dict[str, dict[int, float]] | None = None) -> str:
    """`early_late`: per KTL group and seed, `stability.early_late_ratio` of the run's logged grad norms (a column
    when given)."""
    header = ["Method", "Seeds", "Steps", "Std Dev", "CV (%)", "Mean Step Change", "R^2"]
    header += ["First / last 20% of steps"] if early_late else []
    rows = []
    for label, variant in TABLE_V:
        g = groups.get(f"ktl-{variant}")
        if g and all("grad_norm" in m["training"] for m in g.runs.values()):
            steps = next(iter(g.runs.values()))["training"]["grad_norm"]["steps"]
            row = [label, str(len(g.runs)), str(steps)]
            row += [mean_sd(g.values(lambda m, k=k: _grad(m, k)), 2 if k == "cv_percent" else 4) for k in GRAD_STATS]
            if early_late:
                ratios = early_late.get(f"ktl-{variant}", {})
                row.append(mean_sd([ratios[s] for s in sorted(ratios)], 2) if ratios else "–")
            rows.append(row)
    return _table(header, rows)


def _interval(d: dict) -> str:
    if d["low"] is None:
        return f"{d['mean']:+.4f} (n={d['n']}, no interval)"
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] (n={d['n']})"


def paired_section(groups: dict[str, Group]) -> tuple[str, dict]:
    """Paired differences (same student seed) against FD+LD: markdown and the scalars for the summary JSON."""
    base = groups.get("ktl-fdld")
    if base is None:
        return "FD+LD was not trained: no paired differences.\n", {}
    rows, summary = [], {}
    for label, variant in PAIRED:
        g = groups.get(f"ktl-{variant}")
        if g is None:
            continue
        cells = [label]
        for key, get in (("tfake", lambda m: m["tfake"]["nme"]),
                         ("charlotte_full", lambda m: m["charlotte"]["full"]["nme"])):
            d = paired_difference({s: get(m) for s, m in g.runs.items()}, {s: get(m) for s, m in base.runs.items()})
            summary[f"{variant}_minus_fdld_{key}"] = d
            cells.append(_interval(d))
        rows.append(cells)
    text = ("Paired over student seeds (same seed = same initial weights, batches and augmentation); mean difference "
            "of NME and its 95% t interval over seeds. Negative = better than FD+LD.\n\n"
            + _table(["Difference", "T-FAKE NME-IO", "CHARLOTTE Full NME"], rows))
    return text, summary


def _mean(g: Group | None, get) -> float | None:
    return None if g is None else float(g.values(get).mean())


def verdict(groups: dict[str, Group], paired: dict) -> str:
    """One sentence on the paper's two claims: DIKD beats FD+LD; RI stabilises early gradients."""
    d = paired.get("dikd_minus_fdld_tfake")
    cv = lambda v: _mean(groups.get(f"ktl-{v}"), lambda m: _grad(m, "cv_percent"))  # noqa: E731
    cv_base, cv_ri = cv("fdld"), cv("fdld_ri")
    if d is None or cv_base is None or cv_ri is None:
        return "Verdict: not enough runs (FD+LD, +RI and DIKD are all needed).\n"
    if d["low"] is not None and d["high"] < 0:
        claim1 = f"DIKD beats FD+LD on T-FAKE (NME-IO {d['mean']:+.4f}, 95% interval excludes 0)"
    elif d["low"] is not None and d["low"] > 0:
        claim1 = f"DIKD does not beat FD+LD on T-FAKE, it is worse (NME-IO {d['mean']:+.4f}, interval excludes 0)"
    else:
        claim1 = (f"DIKD vs FD+LD on T-FAKE is not resolved by {d['n']} seeds (NME-IO {d['mean']:+.4f}, "
                  "interval includes 0)")
    ratio = cv_ri / cv_base
    claim2 = (f"RI {'lowers' if ratio < 1 else 'does not lower'} the early grad-norm CV "
              f"({cv_ri:.1f}% vs {cv_base:.1f}% for FD+LD, x{ratio:.2f})")
    return f"Verdict on the paper's two claims here: {claim1}; {claim2}.\n"


def teacher_check(groups: dict[str, Group], student_arch: str) -> tuple[str, dict]:
    """The teacher's RGB NME-IO beside the supervised thermal student's, against the 0.6x target."""
    t, s = groups.get("teacher"), groups.get(f"supervised-{student_arch}")
    if t is None or s is None:
        return "Teacher check: the teacher or the supervised student was not trained.\n", {}
    m = t.runs[next(iter(t.runs))]
    rgb, thermal = m["tfake_rgb"]["nme"], m["tfake"]["nme"]
    sup = float(s.values(lambda r: r["tfake"]["nme"]).mean())
    ratio = rgb / sup
    text = (f"Teacher check: the RGB teacher (RTMPose-{t.arch}) scores NME-IO {_f(rgb)} on the RGB T-FAKE test crops "
            f"(and {_f(thermal)} zero-shot on their thermal twins, x{thermal / rgb:.1f}: the modality gap); the "
            f"supervised thermal RTMPose-{student_arch} scores {_f(sup)} (mean over {len(s.runs)} seeds). "
            f"Ratio {ratio:.2f} against the target <= {TEACHER_TARGET}: ")
    text += ("met.\n" if ratio <= TEACHER_TARGET else
             "**missed: the teacher is not clearly better than what the student learns alone, so conclusions about "
             "distillation from this run are weak.**\n")
    return text, {"teacher_rgb_nme": rgb, "teacher_thermal_nme": thermal, "supervised_thermal_nme": sup,
                  "teacher_to_student_ratio": ratio}


def mean_shape_check(groups: dict[str, Group], train_kpts: np.ndarray, val_kpts: np.ndarray,
                     test_kpts: np.ndarray) -> tuple[str, dict]:
    """The no-model baseline (`evaluate.mean_shape_nme`) on T-FAKE val and test, and the trained student runs whose
    best val NME is no lower: still on the mean-shape plateau."""
    val, test = (float(np.nanmean(mean_shape_nme(train_kpts, k))) for k in (val_kpts, test_kpts))
    best = {m["model"]: m["training"]["best_val_nme"] for g in groups.values() if g.kind in ("supervised", "ktl", "mcl")
            for m in g.runs.values()}
    stuck = sorted(n for n, v in best.items() if v >= val)
    text = (f"Mean-shape baseline (no model: the mean landmarks of the {len(train_kpts)} training crops on every "
            f"image): NME-IO {_f(val)} on T-FAKE val, {_f(test)} on test. Student runs whose best val NME is no lower, "
            f"i.e. still on the mean-shape plateau: {len(stuck)} of {len(best)}"
            + (f" ({', '.join(f'{n} {_f(best[n])}' for n in stuck)}); their test NMEs, and the means and intervals "
               "they enter, measure whether a run left the plateau, not how well it learnt.\n" if stuck else ".\n"))
    return text, {"mean_shape_val_nme": val, "mean_shape_test_nme": test, "runs_on_mean_shape_plateau": len(stuck),
                  "student_runs": len(best)}


def initial_weights(groups: dict[str, Group]) -> str:
    """Which trained student methods started from the RGB teacher's backbone and which from random weights (the `init`
    of their runs' metrics)."""
    starts: dict[str, list[str]] = {}
    for key, g in groups.items():
        if g.kind in ("supervised", "ktl", "mcl"):
            for init in sorted({str(m.get("init")) for m in g.runs.values()}):
                starts.setdefault(init, []).append(key)
    if not starts:
        return ""
    label = {"teacher backbone": "from the RGB teacher's backbone with a random head (the offline stand-in for the "
                                 "pose-pretrained CSPNeXt backbone that RTMPose and DWPose start from)",
             "random": "from random weights"}
    return ("Initial weights: " + "; ".join(f"{', '.join(sorted(keys))} {label.get(init, f'from {init}')}"
                                            for init, keys in sorted(starts.items(), reverse=True)) + ".\n")


def balance(settings: Settings) -> str:
    """The effective weight of L_kp against each distillation term, as the code combines them."""
    w, batch = settings.train.ktl["weights"], settings.train.fit.batch_size
    ratio = w["kp_weight"] * batch / w["lg_weight"]
    return (f"Loss balance: L_kp is summed over the {batch} crops of a batch (mmpose KLDiscretLoss) while L_fm, L_lg, "
            f"L_fi and L_ri are means over the batch (DWPose), so per crop L_kp weighs lambda_kp x B / lambda_lg = "
            f"{w['kp_weight']} x {batch} / {w['lg_weight']} = {ratio:.0f} times each distillation term (before the "
            "decay gamma(t)). Under several processes each rank's summed L_kp is scaled by the world size, so this "
            "ratio does not depend on the number of processes (tests/mlcmkd/test_ddp.py).\n")


def teacher_curve(val_nme: list[float]) -> str:
    """Whether the teacher's validation NME has flattened: the per-epoch values and the last epoch's change."""
    if len(val_nme) < 2:
        return ""
    change = 100.0 * (val_nme[-1] - val_nme[-2]) / val_nme[-2]
    verdict = ("flattened" if abs(change) <= TEACHER_FLAT_PCT else
               "**still falling: a longer teacher schedule (train.teacher_epochs) would give a stronger teacher**")
    return (f"Teacher validation NME-IO (RGB pretraining set) by validated epoch: "
            f"{', '.join(f'{v:.4f}' for v in val_nme)}; the last change is {change:+.1f}% "
            f"({verdict}: the criterion is a last change within ±{TEACHER_FLAT_PCT:.0f}%).\n")


def markdown(groups: dict[str, Group], settings: Settings, source_label: str,
             teacher_val: list[float] | None = None,
             early_late: dict[str, dict[int, float]] | None = None,
             shapes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[str, dict]:
    """The report's markdown and its summary scalars. `shapes`: T-FAKE landmarks of the students' training crops, val
    and test (crop px), for the mean-shape baseline."""
    any_run = next(g.runs[s] for g in groups.values() if g.kind != "zeroshot" for s in g.runs)
    size = any_run["input_size"]
    dikd_mode = settings.train.ktl["dikd_mode"]
    teacher_text, teacher_summary = teacher_check(groups, settings.rtmpose.ktl_arch)
    shape_text, shape_summary = mean_shape_check(groups, *shapes) if shapes is not None else ("", {})
    paired_text, paired_summary = paired_section(groups)
    parts = [
        f"# MLCM-KD reproduction ({source_label})\n\n",
        f"Trained at {size}x{size} input; student seeds {', '.join(map(str, settings.train.seeds))} for every "
        f"KTL method and the supervised RTMPose-{settings.rtmpose.ktl_arch} (one frozen teacher, trained with the "
        "top-level seed; other supervised sizes and MCL: the base seed); cells are mean ± sample sd over seeds (the "
        f"Seeds column). DIKD mode: **{dikd_mode}** ("
        + ("the paper's prose: FI = teacher features through the student head vs L_tt, RI = student features through "
           "the frozen teacher head vs L_tt" if dikd_mode == "text" else
           "the paper's printed eqs. (4)-(5), which swap the cross-injected logits relative to its prose")
        + "). Equal teacher/student widths: raw features on the RI path and in L_fm (no aligner, as DWPose); unequal "
          "widths: a 1x1 aligner initialised as the identity on the shared channels. NME-IO (outer eye corners) on "
          "T-FAKE; NME normalised by the GT box diagonal on CHARLOTTE subsets (Side: only the mapped, labelled "
          "points). Params and GMACs (multiply-adds) are for the architecture at 256x256.\n\n",
        initial_weights(groups), "\n", teacher_text, teacher_curve(teacher_val or []), "\n", shape_text, "\n",
        balance(settings),
        "\n## Table I: supervised vs KD\n\n", table_i(groups),
        "\n## Table III: distillation strategies (KTL)\n\n", table_iii(groups),
        "\n## Table IV: DIKD ablation\n\n", table_iv(groups),
        "\n## Paired differences against FD+LD\n\n", paired_text,
        "\n## Table V: gradient-norm stability (first logged KTL steps, mean ± sd over seeds)\n\n",
        table_v(groups, early_late),
        ("\nFirst / last 20% of steps: the mean grad norm of the first fifth of the logged steps over that of the last "
         "fifth (1 = no trend; a series that starts high and settles has a high CV without step-to-step "
         "volatility).\n" if early_late else ""),
        "\n", verdict(groups, paired_summary),
    ]
    return "".join(parts), {**teacher_summary, **shape_summary, **paired_summary}


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
    return (["teacher"] + group_run_names(settings, "supervised") + group_run_names(settings, "ktl")
            + [f"mcl-{v}" for v in settings.train.mcl["variants"]])


def write_report(tfake: Path, metrics_dir: Path, curves_dir: Path, predictions_dir: Path, out: Path, summary: Path,
                 settings: Settings, source: str) -> None:
    """Stage report_mlcmkd: tables (markdown), the summary scalars, and the figures for the base student seed."""
    label = data_label(source)
    metrics = {n: read_json(_read(run_path(metrics_dir, n, ".json"))) for n in run_names(settings)}
    metrics.update({p.stem: read_json(p) for p in sorted(metrics_dir.glob("zeroshot-*.json"))})
    groups = group_runs(metrics)
    curve = read_csv(_read(run_path(curves_dir, "teacher", ".csv")))
    samples = read_samples(tfake, ("split", "crop_path", "kpts"))
    train_kpts, val_kpts, test_kpts = (_landmarks(samples, split) for split in ("train", "val", "test"))
    text, scalars = markdown(groups, settings, label, curve["val_nme"].dropna().tolist(),
                             _early_late(groups, curves_dir),
                             (train_kpts[:settings.train.max_train_samples], val_kpts, test_kpts))
    write_text(out / "mlcmkd_tables.md", text)
    write_json(summary, scalars)

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
    preds = {title: np.load(io.BytesIO(_read(run_path(predictions_dir, trained[key]["model"], ".npy")).read_bytes()))
             [:QUALITATIVE_ROWS] for key, title in columns.items()}
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
