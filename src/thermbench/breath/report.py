"""Figures of the breath benchmark, from its metrics JSON and plot CSVs only.

- signals: the band-passed ROI temperature (°C, the ROI mean minus its reference) of one sequence against the true
  respiration waveform, one panel per source in a grid (two columns past four panels), a trained source at its
  lowest seed only (the waveform, unitless, drawn at the ROI signal's standard deviation: is the rhythm there?);
- bland_altman: estimated minus true rate against their mean, per source (the ridge estimator);
- coverage: per source and scene kind, the share of windows (with ground truth) it has a rate in (a trained source:
  in every seed), the sequences beside it;
- mae_vs_error: rate MAE against the single-frame nostril error, one point per source (a trained source: per seed)
  and scene kind, the noisy-oracle series as a line and the oracle's MAE as the estimator's floor ("at what landmark
  error does the breath rate stop improving?").

The summary gives a trained source as mean ± sd over its seeds: every estimator's MAE, then apart on steady windows
and windows with a rate change, each source's coverage (sequences and windows with a rate), and the statements of
`ranking.py` (paired over the windows both sources have a rate in) as sentences, each as `conclusions.final` states
it against the committed kernel check; the statements also go to a JSON of their own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.breath import metrics as bm
from thermbench.breath import options, ranking
from thermbench.breath.rates import BASELINES
from thermbench.core import conclusions as cc
from thermbench.core.io import read_csv, read_json, write_json, write_text
from thermbench.core.plots import data_label, plt, save_figure

SCENE_MARKERS = {"near": "o", "far": "s"}
SCENE_COLOURS = {"near": "C0", "far": "C1"}


def _order(sources) -> list[str]:
    """Oracle first, baselines last, the rest by name."""
    rank = {"oracle": 0, **{name: 3 + i for i, name in enumerate(BASELINES)}}
    return sorted(sources, key=lambda s: (rank.get(s, 1 if s.startswith("oracle+") else 2), s))


def _scaled_like(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`x` centred and scaled to the standard deviation of `like` (of 1 where `like` has none)."""
    x = np.asarray(x, np.float64)
    finite = np.asarray(like, np.float64)[np.isfinite(like)]
    target = finite.std() if len(finite) > 1 and finite.std() > 0 else 1.0
    std = np.nanstd(x) if np.isfinite(x).any() else 0.0
    return (x - np.nanmean(x)) / std * target if std > 0 else x * 0


def signal_runs(sources, runs: dict[str, dict]) -> list[str]:
    """The runs the signals figure draws, in `_order`: every untrained source, a trained source's lowest seed."""
    groups = ranking.source_runs(sources, runs)
    return _order(members[min(members, key=lambda s: -1 if s is None else s)] for members in groups.values())


def signals_figure(signals: pd.DataFrame, label: str, stem: Path, runs: dict[str, dict] | None = None) -> None:
    """One sequence's band-passed ROI signal (°C) per source beside the true waveform; `runs` (rates.json's
    {run: {source, seed, converged}}) names the trained runs, of which each source's lowest seed is drawn."""
    every = list(signals["source"].unique())
    shown = signal_runs(every, runs or {})
    seeds = sorted({runs[name]["seed"] for name in shown if name in (runs or {})})
    cols = 2 if len(shown) > 4 else 1
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 1.15 * rows + 1.3), sharex=True, squeeze=False,
                             layout="constrained")
    for ax in axes.ravel()[len(shown):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), shown):
        s = signals[signals["source"] == name]
        roi = s["filtered_c"].to_numpy(np.float64)
        ax.plot(s["t_s"], _scaled_like(s["true_resp"], roi), color="0.6", lw=1.2,
                label="true waveform (unitless, at the ROI signal's sd)")
        ax.plot(s["t_s"], roi, color="C3", lw=0.9, label="ROI signal, band-passed (°C)")
        ax.set_title(name if np.isfinite(roi).any() else f"{name}: no ROI signal", fontsize=8, loc="left", pad=2)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for col in range(cols):  # the lowest panel drawn in each column (the last row may have an empty slot)
        ax = axes[(len(shown) - 1 - col) // cols, col]
        ax.set_xlabel("time (s)")
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("ROI - ref. (°C)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    drawn = f"{len(shown)} of {len(every)} runs drawn" + (
        f" (a trained source: seed {seeds[0]} only)" if len(seeds) == 1 else
        " (a trained source: its lowest seed only)" if seeds else "")
    fig.suptitle(f"Nostril ROI signal vs true respiration on one sequence, {drawn} - {label}", fontsize=10)
    save_figure(fig, stem)


def bland_altman_figure(windows: pd.DataFrame, label: str, stem: Path) -> None:
    scored = windows.dropna(subset=["true_bpm"])
    sources = _order(scored["source"].unique())
    if not sources:  # real recordings without ground truth: rates are reported, not scored
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no ground-truth rates: nothing to compare", ha="center", va="center")
        ax.set_title(f"Bland-Altman of window rates - {label}")
        save_figure(fig, stem)
        return
    cols = min(len(sources), 4)
    rows = int(np.ceil(len(sources) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows + 0.6), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(sources):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), sources):
        est = f"{ranking.ESTIMATOR}_bpm"
        s = scored[scored["source"] == name].dropna(subset=[est])
        for scene, part in s.groupby("scene"):
            mean = (part[est] + part["true_bpm"]) / 2
            ax.scatter(mean, part[est] - part["true_bpm"], s=10, marker=SCENE_MARKERS.get(scene, "^"),
                       color=SCENE_COLOURS.get(scene, "C2"), label=scene, alpha=0.7)
        if len(s):
            diff = s[est] - s["true_bpm"]
            bias, spread = diff.mean(), 1.96 * diff.std(ddof=0)
            for y, style in ((bias, "-"), (bias - spread, "--"), (bias + spread, "--")):
                ax.axhline(y, color="0.4", ls=style, lw=0.8)
        ax.set_title(name, fontsize=8)
    for col in range(cols):  # the lowest panel drawn in each column (the last row may have empty slots)
        ax = axes[(len(sources) - 1 - col) // cols, col]
        ax.set_xlabel("mean of estimate, truth (/min)")
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("estimate - truth (/min)")
    # One legend for every panel, below them: a legend in each panel covered its points.
    scenes = sorted(scored["scene"].unique())
    handles = [plt.Line2D([], [], ls="", marker=SCENE_MARKERS.get(s, "^"), color=SCENE_COLOURS.get(s, "C2"),
                          label=f"scene {s}") for s in scenes]
    handles += [plt.Line2D([], [], color="0.4", ls="-", lw=0.8, label="bias (mean difference)"),
                plt.Line2D([], [], color="0.4", ls="--", lw=0.8, label="bias +-1.96 SD")]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(f"Bland-Altman of window rates, {ranking.ESTIMATOR} estimator (bias, +-1.96 SD) - {label}")
    save_figure(fig, stem)


def coverage_figure(paired: dict, label: str, stem: Path) -> None:
    """Share of windows with a rate per source (bars, one group per scene kind), sequences with a rate as text."""
    scenes = sorted(paired)
    sources = _order({s for scene in paired.values() for s in scene["coverage"]})
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(sources) + 2), 3.8))
    width = 0.8 / max(len(scenes), 1)
    for k, scene in enumerate(scenes):
        cover = paired[scene]["coverage"]
        x = np.arange(len(sources)) + (k - (len(scenes) - 1) / 2) * width
        share = [cover[s]["windows"] / cover[s]["of_windows"] if s in cover else np.nan for s in sources]
        ax.bar(x, share, width, color=SCENE_COLOURS.get(scene, "C2"), label=scene)
        for xi, s in zip(x, sources):
            if s in cover:
                ax.annotate(f"{cover[s]['sequences']}/{cover[s]['of_sequences']}", (xi, share[sources.index(s)]),
                            ha="center", va="bottom", rotation=90, fontsize=6, xytext=(0, 2),
                            textcoords="offset points")
    ax.set_xticks(np.arange(len(sources)), sources, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.35)
    ax.set_ylabel("share of windows with a rate")
    ax.legend(fontsize=7, ncol=len(scenes), loc="upper right")
    ax.set_title(f"Coverage ({ranking.ESTIMATOR}): windows with a rate; above each bar, sequences with a rate - "
                 f"{label}",
                 fontsize=8)
    save_figure(fig, stem)


def mae_vs_error_figure(metrics: dict, label: str, stem: Path) -> None:
    """One point per source and scene (colour: source, marker: scene); a trained source at the mean over its seeds,
    its bars spanning the seeds' lowest to highest values, so seeds do not pile up. The noise series as lines, the
    true nostrils' MAE as each scene's floor. Named in the legend, outside the axes, so no label covers a point."""
    est = ranking.ESTIMATOR
    fig, ax = plt.subplots(figsize=(8.4, 4.6))
    series: dict[str, list] = {}
    points: dict[tuple[str, str], list] = {}
    sources = ranking.source_runs([n for n in metrics["sources"] if not ranking.NOISE_SERIES.fullmatch(n)],
                                  metrics.get("runs", {}))
    run_source = {run: source for source, runs in sources.items() for run in runs.values()}
    for name, scenes in metrics["sources"].items():
        for scene, m in scenes.items():
            err, mae = m.get("nose_error_px"), (m.get(est) or {}).get("mae_bpm")
            if err is None or mae is None:
                continue
            colour = SCENE_COLOURS.get(scene, "C2")
            if name == "oracle":  # the estimator's floor: what the true nostrils give
                ax.axhline(mae, color=colour, ls="--", lw=0.9)
                ax.annotate(f"{scene} floor (true nostrils)", (0, mae), fontsize=7, color=colour,
                            xytext=(3, 2), textcoords="offset points")
            if ranking.NOISE_SERIES.fullmatch(name) or name == "oracle":
                series.setdefault(scene, []).append((err, mae))
                continue
            points.setdefault((run_source[name], scene), []).append((err, mae))
    for scene, pts in sorted(series.items()):
        err, mae = np.array(sorted(pts)).T
        ax.plot(err, mae, color=SCENE_COLOURS.get(scene, "C2"), lw=1, marker=".", alpha=0.8,
                label=f"{scene}: true nostrils + noise")
    named = [s for s in _order(sources) if s != "oracle" and any(k[0] == s for k in points)]
    colours = {s: f"C{(i + 3) % 10}" if i < 7 else plt.cm.tab20(2 * i + 1) for i, s in enumerate(named)}
    for (source, scene), pts in sorted(points.items()):
        err, mae = np.array(pts).T
        bars = {axis: [[v.mean() - v.min()], [v.max() - v.mean()]] for axis, v in (("xerr", err), ("yerr", mae))}
        ax.errorbar(err.mean(), mae.mean(), **(bars if len(pts) > 1 else {}), ls="", elinewidth=0.8,
                    marker=SCENE_MARKERS.get(scene, "^"), color=colours[source], markersize=6)
    ax.set_xscale("symlog", linthresh=0.5)
    ax.set_xlabel("mean single-frame nostril error (frame px; symlog)")
    ax.set_ylabel(f"rate MAE, {est} (breaths/min)")
    seeds = {s: len(runs) for s, runs in sources.items()}
    handles = [plt.Line2D([], [], ls="", marker="o", color=colours[s],
                          label=s + (f" ({seeds[s]} seeds: mean, bars min-max)" if None not in sources[s] else ""))
               for s in named]
    handles += [plt.Line2D([], [], ls="", marker=SCENE_MARKERS.get(s, "^"), color="0.3", label=f"scene {s}")
                for s in sorted({scene for _, scene in points})]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(f"Breath-rate MAE ({est}) vs mean nostril error: sources, the noise series and the floor - {label}",
                 fontsize=8)
    fig.tight_layout()
    save_figure(fig, stem)


COLUMNS = {  # summary columns after the ridge MAE and its interval: header -> one run's value in one scene
    "MAE Welch": lambda m: m["welch"].get("mae_bpm"),
    "MAE peaks": lambda m: m["peaks"].get("mae_bpm"),
    "RMSE ridge": lambda m: m["ridge"].get("rmse_bpm"),
    "within +-2": lambda m: m["ridge"].get("within2_share"),
    "r": lambda m: m["ridge"].get("pearson_r"),
    "windows estimated": lambda m: m["ridge"].get("window_coverage"),
    "windows with truth": lambda m: m["ridge"].get("truth_coverage"),
    "frame coverage": lambda m: m["coverage"],
    "nostril err px": lambda m: m.get("nose_error_px"),
    "jitter px": lambda m: m.get("jitter_px"),
}


def _cell(values: list) -> str:
    """One value as is; several (a trained source's seeds) as mean ± sd, seeds without a value left out."""
    v = np.array([x for x in values if x is not None], np.float64)
    if not len(v):
        return "-"
    return f"{v[0]:.2f}" if len(v) == 1 else f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"


def summary_table(metrics: dict, intervals: dict, paired: dict) -> str:
    """Markdown table: per source and scene, its coverage from `ranking.paired_differences` (sequences and windows
    with a rate), MAE of the three estimators over its own windows (the ridge with its 95% interval from
    `ranking.mae_intervals`), within +-2, r, coverage, error, jitter; a trained source as mean ± sd over its seeds."""
    header = ["source", "seeds", "scene", "sequences", "sequences with a rate", "windows with a rate", "MAE ridge",
              "95% interval", *COLUMNS]
    lines = [f"Breath rate ({data_label(metrics['data'])}; windows {metrics['window_s']:g} s every "
             f"{metrics['hop_s']:g} s; a trained source: mean ± sd over its seeds)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups = ranking.source_runs(metrics["sources"], metrics["runs"])
    for source in _order(groups):
        members = groups[source]
        seeds = "-" if None in members else ", ".join(map(str, sorted(members)))
        for scene in sorted(metrics["sources"][next(iter(members.values()))]):
            ms = [metrics["sources"][name][scene] for name in members.values()]
            iv = intervals.get(scene, {}).get(source)
            span = ("-" if iv is None else "too few sequences" if iv["low"] is None
                    else f"[{iv['low']:.2f}, {iv['high']:.2f}]")
            cover = paired.get(scene, {}).get("coverage", {}).get(source)
            cells = ["-" if iv is None else str(iv["sequences"]),
                     *(["-", "-"] if cover is None else [f"{cover['sequences']} of {cover['of_sequences']}",
                                                         f"{cover['windows']} of {cover['of_windows']}"]),
                     _cell([m["ridge"].get("mae_bpm") for m in ms]), span,
                     *(_cell([get(m) for m in ms]) for get in COLUMNS.values())]
            lines.append(f"| {source} | {seeds} | {scene} | " + " | ".join(cells) + " |")
    for name, reason in sorted(metrics["unavailable"].items()):
        lines.append(f"| {name} | - | - | {reason} |" + " |" * (len(header) - 4))
    not_scored = metrics["not_scored"]
    if not_scored:  # their windows count in "windows estimated", never as misses of an estimator
        lines += ["", "Not scored where the ground truth is missing (rates estimated, not compared):", ""]
        lines += [f"- {name}: {what}" for name, what in sorted(not_scored.items())]
    notes = [note for name, checks in sorted(metrics["tracking"].items()) for note in tracking_notes(name, checks)]
    if notes:
        lines += ["", "Frames and subjects a source gave no point for, besides finding no face:", ""] + notes
    return "\n".join(lines) + "\n"


def change_table(metrics: dict) -> str:
    """Markdown table: per source and scene, each estimator's MAE on steady windows and on windows with a rate
    change, with the number of windows of each kind (a trained source as mean ± sd over its seeds)."""
    kinds = bm.WINDOW_KINDS
    header = ["source", "scene"] + [f"{kind} {x}" for kind in kinds for x in ("windows", *bm.ESTIMATORS)]
    lines = ["", f"Rate changes: MAE (breaths/min) on steady windows and on windows whose true rate spans more than "
             f"{metrics['change_share']:.0%} of its mean", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    groups = ranking.source_runs(metrics["sources"], metrics["runs"])
    for source in _order(groups):
        members = list(groups[source].values())
        for scene in sorted(metrics["sources"][members[0]]):
            ms = [metrics["sources"][name][scene] for name in members]
            if "windows" not in ms[0]["ridge"]:  # no ground truth here
                continue
            cells = []
            for kind in kinds:
                cells.append(str(ms[0]["ridge"]["windows"][kind]["n_windows"]))
                cells += [_cell([m[est]["windows"][kind].get("mae_bpm") for m in ms]) for est in bm.ESTIMATORS]
            lines.append(f"| {source} | {scene} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tracking_notes(name: str, checks: dict) -> list[str]:
    """A run's track-file checks as report lines: points outside the frame, subjects it does not track."""
    notes = []
    if checks["outside_frame"]:
        notes.append(f"- {name}: {checks['outside_frame']} of {checks['model_frames']} model frames put the nostril "
                     "outside the frame (no point there)")
    if checks["not_tracked"]:
        notes.append(f"- {name}: {len(checks['not_tracked'])} subject(s) not tracked, e.g. {checks['not_tracked'][0]}")
    return notes


def conclusions_text(statements: list[cc.Statement], check: dict, cfg: ranking.ConclusionConfig,
                     moved: frozenset[str] = frozenset()) -> str:
    """The rankings as a report may state them (`moved`: statements on untrained sources whose numbers the kernel
    check found to move, checked as trained ones), and how their intervals are made."""
    checked = cc.settings_compared(check, {s.id: s.trained for s in statements}) or "none yet"
    lines = ["", f"Conclusions (two sources compared only over the windows where both have a rate: the difference of "
             f"their MAEs there, its {cfg.confidence:.0%} interval a percentile bootstrap over those windows' "
             f"sequences ({cfg.resamples} resamples, the same sequences for both, a trained source's seeds resampled "
             f"too); a source with a rate in fewer than {cfg.min_sequences} sequences of a scene kind is not ranked "
             "there; the floors compare each noise level's own interval with the true nostrils'; the untrained "
             "sources' ranking and the floors are deterministic where the kernel check found their numbers identical "
             "under every setting; the trained sources' pairs, and any untrained statement whose numbers moved, are "
             f"stated as far as every CPU kernel setting compared agrees: {checked}):", ""]
    return "\n".join(lines + [f"- {cc.sentence(cc.final(s, check, moved))}" for s in statements]) + "\n"


def report(metrics_path: Path, windows_csv: Path, signals_csv: Path, options_path: Path, out_dir: Path,
           table_path: Path, conclusions_path: Path, check: dict, cfg: ranking.ConclusionConfig, seed: int,
           moved: frozenset[str] = frozenset()) -> None:
    """Figures, the summary (table, the chain's option choice from `options_path`, conclusions) and the statements'
    JSON with each source's score and coverage (`ranking.scores`, the leaderboard's rows); `check` as
    `conclusions.read_kernel_check` returns it, `moved` as `conclusions.read_moved`."""
    metrics = read_json(metrics_path)
    label = data_label(metrics["data"]).upper() if metrics["data"] == "synthetic" else data_label(metrics["data"])
    windows = read_csv(windows_csv, ("source", *ranking.WINDOW, "scene", f"{ranking.ESTIMATOR}_bpm", "true_bpm"))
    signals = read_csv(signals_csv, ("source", "t_s", "filtered_c", "true_resp"))
    chosen = options.markdown(read_json(options_path))
    signals_figure(signals, label, out_dir / "signals", metrics["runs"])
    bland_altman_figure(windows, label, out_dir / "bland_altman")
    mae_vs_error_figure(metrics, label, out_dir / "mae_vs_error")
    runs = metrics["runs"]
    intervals = ranking.mae_intervals(windows, runs, cfg, seed)
    paired = ranking.paired_differences(windows, runs, cfg, seed)
    coverage_figure(paired, label, out_dir / "coverage")
    statements = ranking.statements(paired, intervals, runs, cfg.min_sequences)
    write_text(table_path, summary_table(metrics, intervals, paired) + change_table(metrics)
               + chosen + conclusions_text(statements, check, cfg, moved))
    write_json(conclusions_path, {"data": metrics["data"],
                                  "scores": ranking.scores(intervals, paired, cfg.min_sequences),
                                  "statements": cc.as_records(statements, check, moved)}, 4)
