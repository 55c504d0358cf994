"""The paper grid's compute: which runs a profile trains, and their GPU-hours, by hand."""

import json

import pytest

from split_builders import dot_split
from thermbench.core.io import InputError
from thermbench.datasets.crop_store import save_splits
from thermbench.speed.grid_compute import (
    GpuRate,
    costed_rate,
    expected_share,
    find_measurement,
    grid_compute,
    grid_runs,
    markdown,
    measured_utilisation,
    rate_sentence,
)
from thermbench.speed.speed_table import grid_section

PARAMS = {"rtmpose": {"teacher_arch": "l", "ktl_arch": "l", "mcl_arch": "s", "supervised_archs": ["s"],
                      "pretrain_archs": []},
          "train": {"seeds": [0, 1, 2], "scratch_seeds": [0], "fit": {"epochs": 2}, "teacher_epochs": 4,
                    "scratch": {"supervised": [], "ktl": ["dikd"]}, "ktl": {"runs": ["dikd"]},
                    "mcl": {"variants": ["dikd"]}}}


def test_runs_of_a_profile():
    runs = {(r["stage"], r["what"]): (r["arch"], r["teacher"], r["data"], r["epochs"], r["runs"])
            for r in grid_runs(PARAMS)}
    assert runs == {("teacher", "RTMPose-l on RGB"): ("l", None, "rgb", 4, 1),
                    ("supervised", "RTMPose-s thermal"): ("s", None, "tfake", 2, 3),
                    ("ktl", "KTL dikd (l from l)"): ("l", "l", "tfake", 2, 3),
                    ("ktl", "KTL dikd, from scratch"): ("l", "l", "tfake", 2, 1),
                    ("mcl", "MCL dikd (s from KTL l)"): ("s", "l", "tfake", 2, 3)}


def test_gpu_hours_by_hand():
    forward = {"l": 10.0, "s": 2.0}.get
    out = grid_compute(grid_runs(PARAMS), forward, {"tfake": (100, 10), "rgb": (50, 5)}, gpu_tflops=1.0,
                       utilisation=0.5, expected_fraction=0.5)
    rows = {r["what"]: r for r in out["rows"]}
    # KTL: 3 x 10 + 10 = 40 GFLOPs per training image; an epoch (100 x 40 + 10 x 10) GFLOPs = 4.1 TFLOP;
    # x 2 epochs x 3 seeds = 24.6 TFLOP at 0.5 TFLOPS = 49.2 s
    assert rows["KTL dikd (l from l)"]["train_step_gflops_per_image"] == 40.0
    assert rows["KTL dikd (l from l)"]["gpu_hours_at_cap"] == pytest.approx(49.2 / 3600)
    # teacher: (50 x 30 + 5 x 10) GFLOPs x 4 epochs = 6.2 TFLOP = 12.4 s
    assert rows["RTMPose-l on RGB"]["gpu_hours_at_cap"] == pytest.approx(12.4 / 3600)
    assert out["gpu_hours_expected"] == pytest.approx(out["gpu_hours_at_cap"] / 2)


def test_forward_gflops_is_asked_once_per_arch():
    asked = []
    grid_compute(grid_runs(PARAMS), lambda arch: asked.append(arch) or 1.0, {"tfake": (100, 10), "rgb": (50, 5)},
                 1.0, 0.5, 0.5)
    assert sorted(asked) == ["l", "s"]


def test_expected_share_is_the_median_over_trained_runs(tmp_path):
    for name, run in (("a", 10), ("b", 30), ("c", 20)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(
            json.dumps({"fit": {"epochs": 40}, "history": {"epochs_run": run}}))
    assert expected_share(tmp_path) == (0.5, 3)
    with pytest.raises(InputError, match="no trained run"):
        expected_share(tmp_path / "a" / "nothing")


def test_markdown_rows_and_total():
    out = grid_compute(grid_runs(PARAMS), {"l": 10.0, "s": 2.0}.get, {"tfake": (100, 10), "rgb": (50, 5)}, 1.0,
                       0.5, 0.5)
    out["assumed"]["expected_fraction_from"] = "by hand"
    text = markdown(out, GpuRate("G", 1.0, 0.5), "SYNTHETIC")
    assert "| ktl | KTL dikd (l from l) | 3 | 2 | 40.0 | 0.0137 | 0.00683 |" in text  # 49.2 s, half of it
    assert "(SYNTHETIC)" in text and "tfake 100 train + 10 val" in text


def _run_folders(tmp_path):
    """Crop caches (T-FAKE 6 + 2, RGB 4 + 1) and a teacher that stopped at epoch 3 of 4: a DAG run's grid inputs."""
    caches, models = tmp_path / "cache", tmp_path / "models"
    save_splits(caches / "tfake", {"train": dot_split(6, 0, 32), "val": dot_split(2, 1, 32)})
    save_splits(caches / "rgbpretrain", {"train": dot_split(4, 2, 32), "val": dot_split(1, 3, 32)})
    (models / "teacher").mkdir(parents=True)
    (models / "teacher" / "config.json").write_text(json.dumps({"fit": {"epochs": 4}, "history": {"epochs_run": 3}}))
    return caches, models


def test_speed_report_section_reads_images_and_shares_from_the_run(tmp_path):
    caches, models = _run_folders(tmp_path)
    params = {**PARAMS, "train": {**PARAMS["train"], "max_train_samples": 5}}
    text = grid_section(GpuRate("G", 1.0, 0.5), params, caches, models, "SYNTHETIC")
    assert "tfake 5 train + 2 val, rgb 4 train + 1 val" in text  # T-FAKE capped at max_train_samples
    assert "Expected: 0.75 of the epoch cap, the median over this run's 1 trained runs" in text
    assert "| mcl | MCL dikd (s from KTL l) | 3 | 2 |" in text


def _measurement(folder, gpu="GPU X", images_per_s=100.0):
    folder.mkdir(exist_ok=True)
    (folder / "gpu-x.json").write_text(json.dumps({
        "gpu": gpu, "date": "2026-01-02", "arch": "l",
        "paper_choice": {"setting": "bf16+compile", "images_per_s": images_per_s}}))
    (folder / "other.json").write_text(json.dumps({"gpu": "GPU Y", "date": "2026-01-01", "arch": "l"}))
    return folder


def test_gpu_hours_at_the_measured_rate_by_hand(tmp_path):
    measured = find_measurement("GPU X", _measurement(tmp_path / "gpu"))
    assert (measured.setting, measured.images_per_s, measured.date, measured.arch) == ("bf16+compile", 100.0,
                                                                                      "2026-01-02", "l")
    forward = {"l": 10.0, "s": 2.0}.get
    # 100 images/s x (3 + 1) x 10 GFLOPs = 4 TFLOPS, half of a dense 8
    utilisation = measured_utilisation(measured, forward, 8.0)
    assert utilisation == pytest.approx(0.5)
    out = grid_compute(grid_runs(PARAMS), forward, {"tfake": (100, 10), "rgb": (50, 5)}, 8.0, utilisation, 0.5)
    rows = {r["what"]: r for r in out["rows"]}
    # KTL: 24.6 TFLOP (test_gpu_hours_by_hand) at 4 TFLOPS = 6.15 s
    assert rows["KTL dikd (l from l)"]["gpu_hours_at_cap"] == pytest.approx(6.15 / 3600)
    text = rate_sentence(GpuRate("GPU X", 8.0, 0.35), measured, utilisation)
    assert "measured by `make gpu-check` on 2026-01-02" in text and "bf16+compile, 100 images/s, 50.0%" in text


def test_an_unmeasured_gpu_falls_back_to_the_labelled_assumption(tmp_path):
    folder = _measurement(tmp_path / "gpu")
    assert find_measurement("GPU Y", folder) is None  # measured, but no paper choice in it
    assert find_measurement("GPU Z", folder) is None
    text = rate_sentence(GpuRate("GPU Z", 8.0, 0.35), None, 0.35)
    assert "an assumed 35% of its 8.0 dense TFLOPS (fallback: this GPU has no `make gpu-check` measurement" in text


def test_costed_rate_takes_the_measurement_else_the_assumption(tmp_path):
    folder, forward = _measurement(tmp_path / "gpu"), {"l": 10.0}.get
    measured, utilisation = costed_rate(GpuRate("GPU X", 8.0, 0.35), folder, forward)
    assert measured.images_per_s == 100.0 and utilisation == pytest.approx(0.5)  # 4 of a dense 8 TFLOPS
    assert costed_rate(GpuRate("GPU Z", 8.0, 0.35), folder, forward) == (None, 0.35)
    assert costed_rate(GpuRate("GPU X", 8.0, 0.35), None, forward) == (None, 0.35)


def test_speed_report_section_names_the_measurement(tmp_path):
    caches, models = _run_folders(tmp_path)
    text = grid_section(GpuRate("GPU X", 1000.0, 0.5), PARAMS, caches, models, "SYNTHETIC",
                        _measurement(tmp_path / "gpu"))
    assert "measured by `make gpu-check` on 2026-01-02" in text and "assumed" not in text
