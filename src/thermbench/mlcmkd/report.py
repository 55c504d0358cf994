"""MLCM-KD report: the paper's Tables I, III, IV, V as markdown (from metrics/mlcmkd/*.json only) and its figures
(cumulative error curves, training curves, gradient norms = Fig. 5, a qualitative grid)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler

from thermbench.core.io import InputError, read_csv, read_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.datasets.common import read_image
from thermbench.mlcmkd.runs import Settings
from thermbench.mlcmkd.train import load_split

CHARLOTTE_COLUMNS = ("high", "mean", "low", "front", "side", "full")
# Up to 20 runs share one axis: 10 colours solid, then the same 10 dashed, so no two lines look alike.
LINES = cycler(linestyle=["-", "--"]) * cycler(color=plt.get_cmap("tab10").colors)
# Table IV rows: (label, run, FI on, RI on); all have L_fm, L_lg, L_kp.
TABLE_IV = (("Baseline", "ktl-fdld", False, False), ("Baseline + RI", "ktl-fdld_ri", False, True),
            ("Baseline + FI", "ktl-fdld_fi", True, False), ("Ours (DIKD)", "ktl-dikd", True, True))
TABLE_III = (("Feature Distillation", "ktl-fd"), ("Logits Distillation", "ktl-ld"), ("FD + LD", "ktl-fdld"),
             ("DIKD (Ours)", "ktl-dikd"))
TABLE_V = (("Baseline (FD+LD)", "ktl-fdld"), ("+ L_ri", "ktl-fdld_ri"), ("+ L_fi", "ktl-fdld_fi"),
           ("Ours (L_fi + L_ri)", "ktl-dikd"))


def run_names(teacher: bool, supervised_archs: list[str], ktl_variants: list[str],
              mcl_variants: list[str]) -> list[str]:
    """Every run the pipeline trains, in table order."""
    return ((["teacher"] if teacher else []) + [f"supervised-{a}" for a in supervised_archs]
            + [f"ktl-{v}" for v in ktl_variants] + [f"mcl-{v}" for v in mcl_variants])


def describe(m: dict) -> str:
    """Row label in the paper's naming: teacher/student sizes and the method."""
    arch = m["arch"]
    if m["kind"] == "teacher":
        return f"RTMPose-{arch} RGB teacher, zero-shot on thermal"
    if m["kind"] == "supervised":
        return f"RTMPose-{arch} (supervised)"
    t = m["teacher_arch"]
    if m["kind"] == "ktl":
        return f"KTL {m['variant']} RTMPose-{t}{arch}"
    return f"MCL from ktl-{m['variant']}: RTMPose-{t}{arch}"


def _f(x, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _nme_cells(m: dict) -> list[str]:
    return [_f(m["tfake"]["nme"])] + [_f(m["charlotte"][c]["nme"]) for c in CHARLOTTE_COLUMNS]


def table_i(metrics: dict[str, dict]) -> str:
    header = ["Method", "Trained at", "Params (M) @256", "GMACs @256", "T-FAKE", "High", "Mean", "Low", "Front",
              "Side", "Full", "T-FAKE FR@0.1", "T-FAKE AUC@0.1"]
    rows = []
    for m in metrics.values():
        c = m["complexity"]
        rows.append([describe(m), f"{m['input_size']}x{m['input_size']}, {m['epochs']} ep", _f(c["params_m"], 2),
                     _f(c["gflops"] / 2, 2)] + _nme_cells(m) + [_f(m["tfake"]["fr@0.1"]), _f(m["tfake"]["auc@0.1"])])
    return _table(header, rows)


def modality_gap(teacher: dict) -> str:
    rgb, thermal = teacher["tfake_rgb"]["nme"], teacher["tfake"]["nme"]
    return (f"Modality gap (measured): the RGB teacher scores NME-IO {_f(rgb)} on the RGB T-FAKE test crops and "
            f"{_f(thermal)} on their thermal twins, zero-shot (x{thermal / rgb:.1f}).\n")


def table_iii(metrics: dict[str, dict]) -> str:
    header = ["Method", "Teacher", "Student", "T-FAKE", "High", "Mean", "Low", "Front", "Side", "Full"]
    rows = [[label, f"RTMPose-{metrics[run]['teacher_arch']}", f"RTMPose-{metrics[run]['arch']}"]
            + _nme_cells(metrics[run]) for label, run in TABLE_III if run in metrics]
    return _table(header, rows)


def table_iv(metrics: dict[str, dict]) -> str:
    header = ["Method", "L_fm", "L_lg", "L_kp", "L_DIKD^fi", "L_DIKD^ri", "NME T-FAKE", "NME CHARLOTTE Full"]
    mark = lambda on: "✓" if on else "–"  # noqa: E731
    rows = [[label, "✓", "✓", "✓", mark(fi), mark(ri), _f(metrics[run]["tfake"]["nme"]),
             _f(metrics[run]["charlotte"]["full"]["nme"])] for label, run, fi, ri in TABLE_IV if run in metrics]
    return _table(header, rows)


def table_v(metrics: dict[str, dict]) -> str:
    header = ["Method", "Steps", "Std Dev", "CV (%)", "Mean Step Change", "R^2"]
    rows = []
    for label, run in TABLE_V:
        g = metrics.get(run, {}).get("training", {}).get("grad_norm")
        if g:
            rows.append([label, str(g["steps"]), _f(g["std"]), _f(g["cv_percent"], 2),
                         _f(g["mean_abs_step_change"]), _f(g["r2"])])
    return _table(header, rows)


def _mean_sd(stat: dict) -> str:
    return _f(stat["mean"]) + ("" if stat["sd"] is None else f" ± {_f(stat['sd'])}")


def _versus(dikd: dict, fdld: dict) -> str:
    diff, spread = dikd["mean"] - fdld["mean"], (dikd["sd"] or 0.0) + (fdld["sd"] or 0.0)
    side = "DIKD worse" if diff > 0 else "DIKD better" if diff < 0 else "equal"
    verdict = "exceeds" if abs(diff) > spread else "does not exceed"
    return f"{diff:+.4f} ({side}), which {verdict} the seed spread ({spread:.4f})"


def seed_repeats(repeats: dict) -> str:
    """The seed-repeat table (mean ± sample sd over the seeds) and whether DIKD vs FD+LD exceeds the seed spread,
    i.e. |difference of means| > sd(DIKD) + sd(FD+LD); or the stage's status line when no repeats were run."""
    if repeats.get("status") != "ran":
        return f"Seed repeats: {repeats['status']}.\n"
    summary = repeats["summary"]
    rows = [[run, ", ".join(map(str, s["seeds"])), _mean_sd(s["tfake_nme"]), _mean_sd(s["charlotte_full_nme"])]
            for run, s in summary.items()]
    out = _table(["Run", "Seeds", "T-FAKE NME-IO mean ± sd", "CHARLOTTE Full NME mean ± sd"], rows)
    if "ktl-dikd" in summary and "ktl-fdld" in summary:
        d, f = summary["ktl-dikd"], summary["ktl-fdld"]
        seeds = sorted(set(d["seeds"]) & set(f["seeds"]))
        out += (f"\nDIKD minus FD+LD, mean NME over seeds {', '.join(map(str, seeds))}: T-FAKE "
                f"{_versus(d['tfake_nme'], f['tfake_nme'])}; CHARLOTTE Full "
                f"{_versus(d['charlotte_full_nme'], f['charlotte_full_nme'])}.\n")
    return out


def markdown(metrics: dict[str, dict], source_label: str, dikd_mode: str, repeats: dict | None = None) -> str:
    any_run = next(iter(metrics.values()))
    size, epochs = any_run["input_size"], sorted({m["epochs"] for m in metrics.values()})
    parts = [
        f"# MLCM-KD reproduction ({source_label})\n",
        f"Trained at {size}x{size} input for {', '.join(map(str, epochs))} epochs (see each row). "
        f"DIKD mode: **{dikd_mode}** ("
        + ("the paper's prose: FI = teacher features through the student head vs L_tt, RI = student features through "
           "the frozen teacher head vs L_tt" if dikd_mode == "text" else
           "the paper's printed eqs. (4)-(5), which swap the cross-injected logits relative to its prose")
        + "). NME-IO (outer eye corners) on T-FAKE; NME normalised by the GT box diagonal on CHARLOTTE subsets "
          "(Side: only the mapped, labelled points). Params and GMACs (multiply-adds, FlopCounterMode FLOPs / 2) are "
          "for the architecture at 256x256; the paper's 'GFLOPs' column equals multiply-adds, and its Table I swaps "
          "the Params and GFLOPs columns for the RTMPose rows.\n",
    ]
    if "teacher" in metrics:
        parts.append("\n" + modality_gap(metrics["teacher"]))
    parts += ["\n## Table I: supervised vs KD\n\n", table_i(metrics),
              "\n## Table III: distillation strategies (KTL)\n\n", table_iii(metrics),
              "\n## Table IV: DIKD ablation\n\n", table_iv(metrics),
              "\n## Table V: gradient-norm stability (first logged KTL steps)\n\n", table_v(metrics)]
    if repeats is not None:
        parts += ["\n## Seed repeats (student seed; same teacher)\n\n", seed_repeats(repeats)]
    return "".join(parts)


# ------------------------------------------------------------------------------------------------------------ figures


def _tag(ax, source_label: str) -> None:
    ax.text(0.99, 0.01, source_label, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")


def plot_ced(metrics: dict[str, dict], source_label: str):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, (title, get) in zip(axes, (("T-FAKE test (NME-IO)", lambda m: m["tfake"]["ced"]),
                                       ("CHARLOTTE Full (NME-diag)", lambda m: m["charlotte"]["full"]["ced"]))):
        ax.set_prop_cycle(LINES)
        for name, m in metrics.items():
            curve = get(m)
            ax.plot(curve["x"], curve["y"], label=name, lw=1.2)
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
        axes[1].plot(df["epoch"], df["val_nme"], label=name, lw=1.2)
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


def _read(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it first)")
    return path


def write_report(tfake: Path, metrics_dir: Path, repeats_path: Path, curves_dir: Path, predictions_dir: Path,
                 out: Path, settings: Settings, source: str) -> None:
    """Stage report_mlcmkd: Tables I, III, IV, V (markdown); CED, curve, gradient-norm and qualitative figures."""
    label = data_label(source)
    names = run_names(True, list(settings.rtmpose.supervised_archs), list(settings.train.ktl["variants"]),
                      settings.train.mcl["variants"])
    metrics = {n: read_json(metrics_dir / f"{n}.json") for n in names}

    write_text(out / "mlcmkd_tables.md",
               markdown(metrics, label, settings.train.ktl["dikd_mode"], read_json(repeats_path)))
    save_figure(plot_ced(metrics, label), out / "mlcmkd_ced")
    curves = {n: read_csv(curves_dir / f"{n}.csv") for n in names}
    save_figure(plot_curves(curves, label), out / "mlcmkd_curves")
    grad = {run: read_csv(curves_dir / f"{run}_gradnorm.csv") for _, run in TABLE_V if run in metrics}
    save_figure(plot_grad_norms(grad, label), out / "mlcmkd_gradnorm")

    # Qualitative grid: supervised student of the KTL size vs conventional KD (FD+LD) vs DIKD.
    size = metrics["ktl-dikd"]["input_size"]
    test = load_split(tfake, "test", size, all_labelled=True, max_samples=QUALITATIVE_ROWS)
    arch = metrics["ktl-dikd"]["arch"]
    columns = {run: title for run, title in ((f"supervised-{arch}", f"supervised RTMPose-{arch}"),
                                             ("ktl-fdld", "conventional KD (FD+LD)"), ("ktl-dikd", "DIKD"))
               if run in metrics}
    preds = {title: np.load(io.BytesIO(_read(predictions_dir / f"{run}.npy").read_bytes()))[:QUALITATIVE_ROWS]
             for run, title in columns.items()}
    images = [read_image(tfake / p) for p in test.meta["crop_path"]]
    gt = test.kpts * test.scale[:, None, :]
    save_figure(plot_qualitative(images, gt, preds, label), out / "mlcmkd_qualitative")
