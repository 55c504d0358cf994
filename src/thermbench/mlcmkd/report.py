"""Stage report_mlcmkd's I/O: reads every run's metrics (metrics/mlcmkd), curve CSVs and saved T-FAKE test
predictions, and writes the report: the markdown document (`report_markdown`, from `report_tables` and
`report_statements`), the summary scalars, the statements and the figures (`report_figures`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.conclusions import as_records
from thermbench.core.io import InputError, read_csv, read_json, write_json, write_text
from thermbench.core.nme import nme_io
from thermbench.core.plots import data_label, save_figure
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import read_samples
from thermbench.mlcmkd.groups import group_run_names
from thermbench.mlcmkd.report_figures import plot_ced, plot_curves, plot_grad_norms, plot_qualitative
from thermbench.mlcmkd.report_markdown import markdown
from thermbench.mlcmkd.report_tables import UNTRAINED, Group, group_runs, paper_rows
from thermbench.mlcmkd.settings import DIKD, FD_LD, TABLE_V, KTLParams, Settings
from thermbench.mlcmkd.stability import early_late_ratio
from thermbench.models.run_layout import run_path

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


def write_report(tfake: Path, metrics_dir: Path, submitted: Path, curves_dir: Path, predictions_dir: Path, out: Path,
                 summary: Path, statements_path: Path, check: dict[str, dict[str, str]], settings: Settings) -> None:
    """Stage report_mlcmkd: tables (markdown), the summary scalars, the statements (final under `check`, the kernel
    check's verdicts), and the figures for the base student seed; each labelled with `settings.data`. Table I also
    holds the zero-shot rows (metrics/mlcmkd/zeroshot-*.json) and the users' landmark files (`submitted`)."""
    label = data_label(settings.data)
    metrics = {n: read_json(_read(run_path(metrics_dir, n, ".json"))) for n in run_names(settings)}
    metrics.update({p.stem: read_json(p) for p in sorted(metrics_dir.glob("zeroshot-*.json"))})
    metrics.update({m["model"]: m for m in read_json(_read(submitted))["submissions"].values()})
    groups = group_runs(metrics)
    samples = read_samples(tfake, ("split", "crop_path", "kpts"))
    train_kpts, val_kpts, test_kpts = (_landmarks(samples, split) for split in ("train", "val", "test"))
    attach_per_image(groups, predictions_dir, test_kpts)
    text, scalars, statements = markdown(groups, settings, label, _early_late(groups, settings.train.ktl, curves_dir),
                                         (train_kpts[:settings.train.max_train_samples], val_kpts, test_kpts), check)
    write_text(out / "mlcmkd_tables.md", text)
    write_json(summary, {"data": settings.data, **scalars})
    write_json(statements_path, {"data": settings.data, "statements": as_records(statements, check)})

    base = settings.train.seeds[0]
    trained = {n: g.runs[base] if base in g.runs else next(iter(g.runs.values()))
               for n, g in groups.items() if g.kind not in UNTRAINED}
    names = [m["model"] for m in trained.values()]
    ced = {n: read_csv(run_path(curves_dir, n, "_ced.csv")) for n in names}
    students = [m["seed"] for m in trained.values() if m["kind"] in ("supervised", "ktl", "mcl")]
    save_figure(plot_ced(ced, label, students), out / "mlcmkd_ced")
    curves = {n: read_csv(run_path(curves_dir, n, ".csv")) for n in names}
    save_figure(plot_curves(curves, label), out / "mlcmkd_curves")
    ktl = settings.train.ktl
    grad = {key: read_csv(run_path(curves_dir, trained[key]["model"], "_gradnorm.csv"))
            for _, key, _ in paper_rows(TABLE_V, ktl) if key in trained}
    save_figure(plot_grad_norms(grad, label), out / "mlcmkd_gradnorm")

    # Qualitative grid: supervised student of the KTL size vs conventional KD (FD+LD) vs DIKD (base seed).
    columns = {key: title for key, title in ((f"supervised-{settings.rtmpose.ktl_arch}", "supervised"),
                                             (f"ktl-{ktl.name_of(FD_LD)}", "conventional KD (FD+LD)"),
                                             (f"ktl-{ktl.name_of(DIKD)}", "DIKD"))
               if key in trained}
    preds = {title: np.load(_read(run_path(predictions_dir, trained[key]["model"], ".npy")))[:QUALITATIVE_ROWS]
             for key, title in columns.items()}
    test = samples[samples["split"] == "test"].iloc[:QUALITATIVE_ROWS]
    images = [read_image(tfake / p) for p in test["crop_path"]]
    save_figure(plot_qualitative(images, test_kpts[:QUALITATIVE_ROWS], preds, label), out / "mlcmkd_qualitative")


def _early_late(groups: dict[str, Group], ktl: KTLParams, curves_dir: Path) -> dict[str, dict[int, float]]:
    """`stability.early_late_ratio` of every Table V run's logged grad norms (its _gradnorm.csv), by group and seed."""
    out: dict[str, dict[int, float]] = {}
    for key in (key for _, key, _ in paper_rows(TABLE_V, ktl) if key in groups):
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
