"""No text of a figure covers another, or lies on a panel it does not belong to (`core.plots.overlapping_texts`): the
helper on hand-made figures, then each figure a reader complained of, built from small synthetic inputs."""

import json

import cv2
import numpy as np
import pandas as pd
import tifffile

from thermbench.breath import report as breath_report
from thermbench.core.plots import overlapping_texts, plt
from thermbench.datasets import qa_plots
from thermbench.datasets.synth.tfake import THERMAL_DIR
from thermbench.mlcmkd.report_figures import plot_ced
from thermbench.tinyhead.report import predictions_figure


def test_two_texts_at_one_spot_are_reported_and_a_laid_out_figure_is_not():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first words")
    ax.text(0.52, 0.5, "second words")
    ax.text(0.1, 0.1, "")  # blank: not drawn, never reported
    assert overlapping_texts(fig) == [("first words", "second words")]
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(6, 3), layout="constrained")
    for ax in axes:
        ax.plot(np.arange(30), label="a line")
        ax.set(title="a title", xlabel="x (s)", ylabel="a y label (unit)")
        ax.set_xticks(np.arange(0, 30, 2))  # adjacent tick labels, none overlapping
        ax.legend()
    fig.suptitle("a suptitle")
    assert overlapping_texts(fig) == []
    plt.close(fig)


def test_a_y_label_on_the_neighbouring_panel_and_rotated_tick_labels():
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    fig.subplots_adjust(wspace=0.02)
    axes[0].set_title("left")
    axes[1].set_ylabel("y (px)")  # no room: drawn over the left panel
    assert ("y (px)", "axes 0 (left)") in overlapping_texts(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.set_xticks(np.arange(12), [f"a long label {i}" for i in range(12)], rotation=30, ha="right")
    assert overlapping_texts(fig) == []  # slanted boxes overlap, the glyphs do not
    plt.close(fig)


def _ced(names):
    nme = np.linspace(0, 0.1, 21)
    return {n: pd.DataFrame({"nme": nme, "tfake": np.clip(nme * (10 + i), 0, 1),
                             "charlotte_full": np.clip(nme * (20 + i), 0, 1)}) for i, n in enumerate(names)}


def test_ced_one_legend_below_the_panels_and_the_seed_drawn():
    names = ["ktl-dikd-seed0", "ktl-fdld-seed0", "mcl-dikd-seed0", "pretrain-t", "supervised-s-seed0",
             "supervised-t-seed0", "teacher"]
    fig = plot_ced(_ced(names), "SYNTHETIC data", [0, 0, 0, 0, 0])
    assert overlapping_texts(fig) == []
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == names
    assert legend.get_window_extent().y1 < min(ax.get_window_extent().y0 for ax in fig.axes)  # below, on no curve
    assert "students at seed 0 only" in fig.get_suptitle()
    plt.close(fig)


def _raw_world(root, n=4):
    """The files `qa_plots.examples_figure` reads, hand-made and tiny: T-FAKE renders, ThermEval-D frames with COCO
    polygons, CHARLOTTE images."""
    rng = np.random.default_rng(0)
    tfake, thermeval, charlotte = root / "tfake", root / "thermeval", root / "charlotte"
    (tfake / THERMAL_DIR).mkdir(parents=True)
    ids = [f"{i:06d}" for i in range(n)]
    pd.DataFrame({"id": ids, "yaw": np.linspace(-60, 60, n)}).to_csv(tfake / "synth_meta.csv", index=False)
    for i in ids:
        cv2.imwrite(str(tfake / f"{i}.png"), rng.integers(0, 255, (128, 128, 3), dtype=np.uint8))
        cv2.imwrite(str(tfake / THERMAL_DIR / f"{i}.png"), rng.integers(0, 255, (128, 128), dtype=np.uint8))
        np.savetxt(tfake / f"{i}_ldmks.txt", rng.uniform(20, 100, (70, 2)))
    (thermeval / "Annotations").mkdir(parents=True)
    (thermeval / "Temp_Matrix").mkdir()
    names = ("Person", "Chest", "Forehead", "Nose")
    images, anns = [], []
    for k in range(n):
        images.append({"id": k, "file_name": f"Thermal_{k}.png"})
        tifffile.imwrite(thermeval / "Temp_Matrix" / f"Thermal_{k}.tiff", rng.uniform(20, 36, (256, 192)))
        for c in range(4):
            x, y = 20 + 10 * c, 30 + 20 * c
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": c, "bbox": [x, y, 30, 20],
                         "segmentation": [[x, y, x + 30, y, x + 30, y + 20, x, y + 20]]})
    (thermeval / "Annotations" / "annotations_1.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": c, "name": m} for c, m in enumerate(names)]}))
    (charlotte / "S1").mkdir(parents=True)
    cids = [f"R{k}" for k in range(n)]
    pd.DataFrame({"ID": cids, "subject": 1, "view": ["front", "side"] * (n // 2)}).to_csv(
        charlotte / "synth_meta.csv", index=False)
    points = {f"{a}{j}": rng.uniform(20, 100, n) for a in "xy" for j in range(72)}
    pd.DataFrame({"ID": cids, **points}).to_csv(charlotte / "S1.csv", index=False)
    for cid in cids:
        tifffile.imwrite(charlotte / "S1" / f"{cid}.tiff", rng.uniform(29300, 31300, (160, 128)).astype(np.uint16))
    return tfake, thermeval, charlotte


def test_synth_examples_labels_clear_of_the_neighbouring_panels(tmp_path):
    fig = qa_plots.examples_figure(*_raw_world(tmp_path), 2)
    assert overlapping_texts(fig) == []
    assert _band_under_title(fig) < 15
    plt.close(fig)


def _band_under_title(fig) -> float:
    """Pixels of blank between the suptitle and the highest panel (titles included)."""
    renderer = fig.canvas.get_renderer()
    return fig._suptitle.get_window_extent(renderer).y0 - max(ax.get_tightbbox(renderer).y1 for ax in fig.axes)


def _grab(monkeypatch):
    drawn = []
    monkeypatch.setattr(breath_report, "save_figure", lambda fig, stem: drawn.append(fig))
    return drawn


def test_breath_signals_a_grid_with_units_and_how_many_runs_it_draws(tmp_path, monkeypatch):
    drawn = _grab(monkeypatch)
    untrained = ["oracle", *(f"oracle+{s}px" for s in (0.5, 1, 2, 3, 5, 8)), "dlib_hog", "mediapipe", "fixed_roi",
                 "whole_face"]
    runs = {f"{src}-seed{s}": {"source": src, "seed": s, "converged": True}
            for src in ("ktl-dikd", "mcl-dikd", "tinyhead") for s in range(5)}
    t = np.arange(0, 40, 0.25)
    signals = pd.concat([pd.DataFrame({"source": name, "t_s": t, "filtered_c": 0.2 * np.sin(t + i),
                                       "true_resp": 0.5 * np.sin(t)}) for i, name in enumerate(untrained + list(runs))])
    breath_report.signals_figure(signals, "SYNTHETIC DATA", tmp_path / "signals", runs)
    (fig,) = drawn
    assert overlapping_texts(fig) == []
    assert "14 of 26 runs drawn (a trained source: seed 0 only)" in fig.get_suptitle()
    assert sorted(ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")) == sorted(
        untrained + ["ktl-dikd-seed0", "mcl-dikd-seed0", "tinyhead-seed0"])
    assert {ax.get_xlabel() for ax in fig.axes} == {"", "time (s)"}
    assert all("°C" in ax.get_ylabel() for ax in fig.axes if ax.get_subplotspec().is_first_col())
    width, height = fig.get_size_inches()
    assert height <= 10 and width <= 12  # was 1.3 in per run, one column: 28 in for 24 runs
    assert _band_under_title(fig) < 15
    plt.close(fig)


def test_breath_bland_altman_one_legend_and_no_band_of_blank(tmp_path, monkeypatch):
    drawn = _grab(monkeypatch)
    rng = np.random.default_rng(1)
    windows = pd.DataFrame([{"source": src, "scene": scene, "ridge_bpm": 15 + rng.normal(0, 2),
                             "true_bpm": 15 + rng.normal(0, 2)}
                            for src in ("oracle", "oracle+1px", "mediapipe", "dlib_hog", "fixed_roi", "whole_face")
                            for scene in ("near", "far") for _ in range(10)])
    breath_report.bland_altman_figure(windows, "SYNTHETIC DATA", tmp_path / "ba")
    (fig,) = drawn
    assert overlapping_texts(fig) == []
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    assert _band_under_title(fig) < 15
    plt.close(fig)


def test_head_predictions_mark_the_crops_person_and_a_prediction_on_another():
    size = 64
    crops = [np.zeros((size, size), np.uint8)] * 6
    table = pd.DataFrame({"seed": 0, "sample_id": [f"te2_{i}_{i}" for i in range(6)],
                          "nose_x": 20.0, "nose_y": 20.0, "pred_x": [22.0] * 5 + [50.0], "pred_y": 20.0,
                          "error_crop_px": [2.0] * 5 + [30.0]})
    window = np.array([0.0, 0.0, 64.0, 64.0])  # frame px = crop px
    target = np.array([0.0, 0.0, 32.0, 64.0])
    people = [{"window": window, "target": target, "others": []}] * 4 + [
        {"window": window, "target": target, "others": [np.array([36.0, 0.0, 64.0, 64.0])]}] * 2
    fig = predictions_figure(crops, table, "synthetic", people)
    assert overlapping_texts(fig) == []
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "te2_0_0: 2.0 px"
    assert titles[4] == "te2_4_4: 2.0 px\n2 people in crop"
    assert titles[5] == "te2_5_5: 30.0 px\n2 people in crop, prediction on another"
    assert "seed 0" in fig.get_suptitle()
    plt.close(fig)
