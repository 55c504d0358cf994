"""make gpu-check's CPU-side logic (the measuring itself needs a GPU)."""

from pathlib import Path

import pytest

from thermbench.speed import gpu_check as g

REPO = Path(__file__).resolve().parents[2]


def test_slug_is_the_gpu_name_as_a_file_name():
    assert g.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert g.slug("  NVIDIA H200 (SXM) ") == "nvidia-h200-sxm"


def test_rate_from_slope_cancels_the_fixed_cost():
    # 10 s of fixed cost + 1,000 images/s: 640 images in 10.64 s, 3,200 in 13.2 s
    assert g.rate_from_slope(640, 10.64, 3200, 13.2) == pytest.approx(1000.0)
    with pytest.raises(ValueError):
        g.rate_from_slope(3200, 13.2, 640, 10.64)


def test_workers_needed_rounds_up():
    assert g.workers_needed(2000.0, 600.0) == 4  # 3.33 workers
    assert g.workers_needed(1800.0, 600.0) == 3


def test_choose_takes_the_fastest_setting_within_fp32s_seed_range():
    table = {"fp32": {"nmes": [0.10, 0.12, 0.11], "mean": 0.11}, "tf32": {"nmes": [0.11], "mean": 0.11},
             "bf16": {"nmes": [0.13], "mean": 0.13}, "bf16+compile": {"nmes": [0.115], "mean": 0.115}}
    rates = {"fp32": 400.0, "tf32": 900.0, "bf16": 1500.0, "bf16+compile": 1200.0, "tf32+compile": 2000.0}
    choice = g.choose(rates, table)
    assert choice["setting"] == "bf16+compile"  # bf16 is faster but outside [0.10, 0.12]; tf32+compile has no NME
    assert choice["fp32_nme_range"] == [0.10, 0.12]
    assert choice["candidates"] == ["bf16+compile", "fp32", "tf32"]


def test_no_gpu_says_so_in_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(g.torch.cuda, "is_available", lambda: False)
    assert g.main(["--out", str(tmp_path / "gpu")]) == 0
    assert capsys.readouterr().out == g.NO_GPU + "\n"
    assert not (tmp_path / "gpu").exists()


def test_the_paper_fit_is_read_from_the_profiles():
    fit = g.paper_fit(REPO)
    assert (fit.batch_size, fit.loader_workers, fit.augment_on_device) == (64, 4, True)
    assert fit.augment.rotate_deg == 30 and fit.augment.flip_prob == 0.5  # paper's, and the default's flip


def test_shape_pairs_put_a_dot_under_every_keypoint_of_one_shape():
    split = g.shape_pairs(2, 64, 0)
    x, y = split.kpts[1, 5].astype(int)
    assert split.images[1, y, x] == 255 and (split.paired[..., 0] == split.images).all()
    # the outer eye corners are 0.8 shape widths apart, the width 0.5-0.75 of the crop
    eyes = [float(((k[36] - k[45]) ** 2).sum() ** 0.5) for k in split.kpts]
    assert all(0.8 * 0.5 * 64 <= d <= 0.8 * 0.75 * 64 for d in eyes)


def test_split_results_sends_the_precision_table_to_its_own_file():
    speed, precision = g.split_results({"end_to_end": 1, "precision_nme": 2, "paper_choice": 3, "skipped": []})
    assert speed == {"end_to_end": 1, "skipped": []}
    assert precision == {"precision_nme": 2, "paper_choice": 3, "skipped": []}


def test_significant_keeps_small_differences():
    assert g.significant({"a": [1.9e-8, 1234.5678], "b": 0.0, "c": 3, "d": None}) == {
        "a": [1.9e-8, 1235.0], "b": 0.0, "c": 3, "d": None}


def test_an_item_past_the_budget_is_skipped_and_a_failing_one_recorded():
    saved = []
    check = g.Check(g.torch.device("cpu"), g.DRY, g.FitConfig(epochs=1, batch_size=1, seed=0), 100.0, saved.append)

    def fails():
        raise ValueError("no kernel\nsecond line")

    assert check.run("long", 1000.0, lambda: 1) is None
    assert check.run("broken", 1.0, fails) is None
    assert check.run("fine", 1.0, lambda x: x + 1, 1) == 2
    assert check.results["skipped"] == ["long"]
    assert check.results["failed"] == {"broken": "ValueError: no kernel"}
    assert len(saved) == 2  # after each item run


def test_op_kinds_by_name():
    assert [g.kind_of(op) for op in ("aten::cudnn_convolution", "aten::native_batch_norm_backward",
                                     "aten::addmm", "aten::_fused_adamw_", "aten::copy_", "aten::silu_")] == [
        "convolution", "batch norm", "matmul", "optimizer", "copy and layout", "other"]


def test_profile_table_by_hand():
    # 2 steps; ops fill 6 of the 10 ms of wall time
    ops = [("aten::convolution", 3000.0), ("aten::native_batch_norm", 2000.0), ("aten::add_", 1000.0)]
    out = g.profile_table(ops, 10_000.0, 2, top=2)
    assert out["wall_ms_per_step"] == 5.0 and out["ops_ms_per_step"] == 3.0 and out["ops_share_of_wall"] == 0.6
    assert out["top_ops"] == [{"op": "aten::convolution", "ms_per_step": 1.5, "share": 0.5},
                              {"op": "aten::native_batch_norm", "ms_per_step": 1.0, "share": 2 / 6}]
    assert list(out["by_kind"]) == ["convolution", "batch norm", "other"]
    assert out["by_kind"]["other"] == {"ms_per_step": 0.5, "share": 1 / 6}


def test_the_step_profile_runs_on_the_cpu_and_restores_the_layout():
    check = g.Check(g.torch.device("cpu"), g.DRY, g.paper_fit(REPO), 100.0)
    out = check.profile("bf16", 4, steps=2)
    assert out["clock"] == "cpu" and out["steps"] == 2 and "convolution" in out["by_kind"]
    assert 0 < out["ops_ms_per_step"] and sum(k["share"] for k in out["by_kind"].values()) == pytest.approx(1.0)
    conv = next(m for m in check.kept_task("bf16", False).modules() if isinstance(m, g.torch.nn.Conv2d))
    assert conv.weight.is_contiguous()  # channels_last only while stepping
    assert check.step_ceiling("fp32", False, 4, repeats=1) > 0
