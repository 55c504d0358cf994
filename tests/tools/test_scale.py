"""The scale benchmark's raw sets are T-FAKE's format, and its summary reads growth, lines and workers as stated."""

import json
import math

import numpy as np
import pytest
import yaml

from thermbench.datasets import tfake
from thermbench.datasets.prepared import read_samples
from thermbench.speed.grid_compute import GpuRate
from thermbench.tools.measure import scale

RATE = GpuRate("H100 SXM", 989.4, 0.35)


def test_raw_set_is_tfake_format_with_both_conditions(tmp_path):
    params = yaml.safe_load((scale.Path(__file__).parents[2] / "params.yaml").read_text())
    small = {**params["synth"]["tfake"], "image_size": 128, "face_width_px": [35, 75]}
    scale.write_raw(tmp_path / "raw", 6, small, seed=0)
    raw = tmp_path / "raw"
    assert sorted(p.name for p in raw.glob("*_ldmks.txt")) == ["000000_ldmks.txt", "000001_ldmks.txt",
                                                                 "000002_ldmks.txt"]
    assert all((raw / "thermal" / c / "000002.png").is_file() for c in ("warm", "cold"))
    cfg = {**params["prepare"]["tfake"], "conditions": ["warm", "cold"], "crop_size": 32}
    tfake.prepare(raw, tmp_path / "prepared", cfg, seed=0)
    samples = read_samples(tmp_path / "prepared", ("sample_id", "condition"))
    assert len(samples) == 6 and sorted(samples["condition"].unique()) == ["cold", "warm"]


def _size(n, prepare_mb, wall, rate):
    return {"prepare": {"peak_rss_mb": prepare_mb, "wall_s": wall},
            "crops": {"peak_rss_mb": 200.0, "wall_s": 2 * wall},
            "train": {"peak_rss_mb": 1000.0 + n / 1000, "wall_s": 60.0, "step_s": 70.0,
                      "loader_images_per_s_per_worker": {"augment_in_worker": rate, "augment_on_device": 8 * rate}},
            "disk_mb": {"raw": n * 0.3, "prepared": n * 0.1, "store": n * 0.25}}


def test_summary_growth_lines_and_workers():
    # wall = 10 s + 0.01 s per pair; disk 0.25 MB per pair; prepare's memory +5% from 4,000 to 16,000 pairs
    sizes = {1000: _size(1000, 100.0, 20.0, 500.0), 4000: _size(4000, 100.0, 50.0, 400.0),
             16000: _size(16000, 105.0, 170.0, 600.0)}
    out = scale.summarize(sizes, RATE, "at an assumed 35%")
    growth = out["rss_growth"]["4000_to_16000"]
    assert growth["prepare"] == pytest.approx(0.05) and growth["crops"] == 0.0
    assert growth["train"] == pytest.approx(1016 / 1004 - 1) and out["rss_flat_within_10pct"]
    paper = out["extrapolated_to_paper"]
    assert paper["wall_h"]["prepare"] == pytest.approx((10 + 0.01 * 200_000) / 3600)
    assert paper["wall_h"]["crops"] == pytest.approx(2 * (10 + 0.01 * 200_000) / 3600)
    assert paper["disk_gb"]["store"] == pytest.approx(0.25 * 200_000 / 1024)
    assert paper["peak_rss_mb"]["prepare"] == pytest.approx(100 + 5 / 12_000 * 196_000)  # through the two largest
    gpu = out["gpu"]
    assert gpu["gpu_images_per_s"] == pytest.approx(989.4e3 * 0.35 / gpu["train_step_gflops"])
    worker = gpu["loader"]["augment_in_worker"]  # the median worker rate of the three sizes: 500 images/s
    assert worker["images_per_s_per_worker"] == 500.0
    assert worker["workers_needed_per_gpu"] == math.ceil(gpu["gpu_images_per_s"] / 500.0)
    assert gpu["loader"]["augment_on_device"]["workers_needed_per_gpu"] == math.ceil(gpu["gpu_images_per_s"] / 4000)


def test_memory_growing_past_ten_percent_is_not_flat():
    sizes = {1000: _size(1000, 100.0, 20.0, 500.0), 4000: _size(4000, 100.0, 50.0, 500.0),
             16000: _size(16000, 111.0, 170.0, 500.0)}
    assert not scale.summarize(sizes, RATE, "at an assumed 35%")["rss_flat_within_10pct"]
    assert np.isclose(scale.summarize(sizes, RATE, "at an assumed 35%")["rss_growth"]["4000_to_16000"]["prepare"], 0.11)


def test_report_states_the_measured_rows_and_the_verdict():
    sizes = {1000: _size(1000, 100.0, 20.0, 500.0), 4000: _size(4000, 100.0, 50.0, 400.0),
             16000: _size(16000, 105.0, 170.0, 600.0)}
    grid = {"rows": [{"stage": "ktl", "what": "KTL dikd", "runs": 5, "epochs": 150, "train_step_gflops_per_image": 45.8,
                      "gpu_hours_at_cap": 4.5, "gpu_hours_expected": 3.0}],
            "gpu_hours_at_cap": 4.5, "gpu_hours_expected": 3.0,
            "assumed": {"rgb_faces": "per 100,000", "expected_fraction": 0.667, "expected_fraction_from": "median",
                        "images": {"tfake": {"train": 160, "val": 20}}}}
    result = {"data": "SYNTHETIC", "machine": {"cpu": "cpu"}, "sizes": {str(n): z for n, z in sizes.items()},
              **scale.summarize(sizes, RATE, "at an assumed 35%"), "paper_grid": grid}
    text = scale.report(result, RATE)
    assert "| 16,000 | 105 | 200 | 1016 | 170 | 340 | 70 | 4800 / 1600 / 4000 |" in text
    assert "prepare +5.0%, crops +0.0%, train +1.2% (target: within 10%: met)" in text
    assert "| ktl | KTL dikd | 5 | 150 | 45.8 | 4.5 | 3 |" in text


def test_costs_only_recosts_the_measured_sizes_at_the_measured_gpu_rate(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"speed": {"grid": {
        "gpu": "GPU X", "dense_tflops": 1000.0, "utilisation": 0.35}}}))
    (tmp_path / "metrics" / "gpu").mkdir(parents=True)
    (tmp_path / "metrics" / "gpu" / "gpu-x.json").write_text(json.dumps({
        "gpu": "GPU X", "date": "2026-01-02", "arch": "l",
        "paper_choice": {"setting": "tf32", "images_per_s": 500.0}}))
    grid = {"rows": [], "gpu_hours_at_cap": 0.0, "gpu_hours_expected": 0.0,
            "assumed": {"rgb_faces": "per 100,000", "expected_fraction": 0.5, "expected_fraction_from": "median",
                        "images": {"tfake": {"train": 160, "val": 20}}}}
    monkeypatch.setattr(scale, "paper_grid", lambda repo, rate: grid)
    sizes = {1000: _size(1000, 100.0, 20.0, 500.0), 4000: _size(4000, 100.0, 50.0, 400.0),
             16000: _size(16000, 105.0, 170.0, 600.0)}
    measured = {"data": "SYNTHETIC", "machine": {"cpu": "cpu"}, "settings": {"batch": 64},
                "sizes": {str(n): z for n, z in sizes.items()}, "gpu": {"utilisation": 0.35}}
    out = scale.cost(tmp_path, json.loads(json.dumps(measured)))
    # the measured 500 images/s is what a KTL-l step costs at the grid's rate: the GPU takes exactly that
    assert out["gpu"]["gpu_images_per_s"] == pytest.approx(500.0)
    assert "measured by `make gpu-check` on 2026-01-02 (metrics/gpu/gpu-x.json)" in out["gpu"]["rate_from"]
    assert out["sizes"] == measured["sizes"] and out["machine"] == {"cpu": "cpu"}
    written = json.loads((tmp_path / "metrics" / "scale.json").read_text())
    assert written["gpu"]["workers_per_gpu_limit"] == 8 and (tmp_path / "plots" / "scale.md").is_file()
