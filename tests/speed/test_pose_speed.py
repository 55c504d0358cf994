"""Speed library: hand-counted params/FLOPs, RTMPose complexity vs the hand count in docs/sources.md, ONNX parity,
timing, stage run."""

import dataclasses
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import yaml

from model_builders import lively_rtmpose_t
from profile_configs import default_section
from raw_builders import build_prepared_landmarks, build_thermeval_frames
from split_builders import dot_split
from thermbench.core.flops import count_gflops
from thermbench.core.io import InputError
from thermbench.datasets.crop_store import save_splits
from thermbench.models.rtmdet import build_rtmdet
from thermbench.models.rtmpose import build_rtmpose, count_parameters, save_model
from thermbench.speed import pose_speed, runtimes, speed_submissions
from thermbench.speed.deploy import usable_cores

ROOT = Path(__file__).resolve().parents[2]


def tiny_net() -> torch.nn.Module:
    # 3x8x8 input. conv 3->4 k3 pad1, depthwise 4->4 k3 pad1 (groups 4), flatten 256, linear 256->5.
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 4, 3, padding=1, groups=4), torch.nn.Flatten(),
                               torch.nn.Linear(256, 5))


def test_count_gflops_counts_a_multiply_add_as_two():
    # MACs: conv 4*8*8 outputs x 27 = 6912; depthwise 4*8*8 x 9 = 2304; linear 256*5 = 1280; total 10496.
    assert count_gflops(tiny_net(), (1, 3, 8, 8)) == pytest.approx(2 * 10496 / 1e9, rel=0, abs=0)
    assert count_gflops(tiny_net(), (2, 3, 8, 8)) == pytest.approx(2 * 2 * 10496 / 1e9)


# docs/sources.md, "RTMPose sizes": 68 kpts, 256x256, Params (M) and GMACs; its GMACs are "about", to two decimals.
FACT_SHEET = {"t": (4.33, 0.57), "s": (6.79, 1.02), "m": (15.54, 2.72), "l": (30.26, 5.72), "x": (52.54, 10.42)}


@pytest.mark.parametrize("arch", list(FACT_SHEET))
def test_rtmpose_complexity_matches_fact_sheet(arch):
    # On the meta device: no weights are allocated and no arithmetic is done, so even x takes well under a second.
    with torch.device("meta"):
        cfg = build_rtmpose(arch, num_keypoints=68, input_size=(256, 256)).cfg
    c = pose_speed.complexity(cfg)
    params_m, gmacs = FACT_SHEET[arch]
    assert (c["arch"], c["num_keypoints"], c["input_size"]) == (arch, 68, [256, 256])
    assert round(c["params"] / 1e6, 2) == params_m
    assert c["gmacs"] == pytest.approx(gmacs, rel=0.01) and c["gflops"] == 2 * c["gmacs"]


def test_at_input_size_changes_only_the_head():
    trained = build_rtmpose("t", input_size=(64, 64))
    paper = pose_speed.at_input_size(trained.cfg, [96, 96])
    assert paper == dataclasses.replace(trained.cfg, input_size=(96, 96))
    assert pose_speed.batch1_shape(paper) == (1, 3, 96, 96)
    assert pose_speed.architecture_name(paper) == "RTMPose-t (68 kpts)"
    # Head only: mlp Linear(flat -> 256), flat = (W/32)(H/32) 4 -> 9: +5*256; cls_x and cls_y Linear(256 -> 2W),
    # 128 -> 192 outputs each: +2*64*256. Total 1280 + 32768.
    assert pose_speed.complexity(paper)["params"] - count_parameters(trained) == 34048


def test_architecture_configs_follow_the_list():
    configs = pose_speed.architecture_configs(["x", "t"], [64, 32])
    assert list(configs) == ["RTMPose-x (68 kpts)", "RTMPose-t (68 kpts)"]  # listed order, not size order
    assert configs["RTMPose-t (68 kpts)"] == build_rtmpose("t", input_size=(64, 32)).cfg
    assert configs["RTMPose-x (68 kpts)"].input_size == (64, 32)
    with pytest.raises(InputError, match=r"speed.architectures: unknown arch \['q'\]"):
        pose_speed.architecture_configs(["t", "q"], [64, 64])
    with pytest.raises(InputError, match="speed.architectures: empty"):
        pose_speed.architecture_configs([], [64, 64])


def test_fresh_model_is_seeded_and_in_eval_mode():
    cfg = build_rtmpose("t", input_size=(64, 64)).cfg
    a, b = pose_speed.fresh_model(cfg, seed=3), pose_speed.fresh_model(cfg, seed=3)
    assert not a.training
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.head.cls_x.weight, pose_speed.fresh_model(cfg, seed=4).head.cls_x.weight)


def test_onnx_export_matches_torch(tmp_path):
    model = lively_rtmpose_t()
    path = tmp_path / "t.onnx"
    info = pose_speed.export_onnx(model, path, (1, 3, 64, 64), opset=17, output_names=["simcc_x", "simcc_y"])
    assert info == {"exporter": "torchscript", "opset": 17, "input_name": "input", "input_shape": [1, 3, 64, 64]}
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version == 17
    assert [o.name for o in graph.graph.output] == ["simcc_x", "simcc_y"]
    assert pose_speed.check_onnx_matches_torch(model, path, (1, 3, 64, 64)) < 1e-4


def test_onnx_check_catches_a_different_model(tmp_path):
    model = lively_rtmpose_t()
    path = tmp_path / "t.onnx"
    pose_speed.export_onnx(model, path, (1, 3, 64, 64), opset=17)
    with torch.no_grad():
        model.head.cls_x.weight.mul_(1.5)
    with pytest.raises(ValueError, match="output 0 differs"):
        pose_speed.check_onnx_matches_torch(model, path, (1, 3, 64, 64))


def test_a_submission_is_timed_in_paired_rounds_by_wall_and_cpu_time(tmp_path, monkeypatch):
    path = tmp_path / "tiny.onnx"
    pose_speed.export_onnx(tiny_net().eval(), path, (1, 3, 8, 8), opset=17)
    card = types.SimpleNamespace(onnx=path, size=(8, 8), layout="NCHW", channels=3)
    asked = []

    def known_rounds(fns, warmup, rounds):
        asked.append((list(fns), warmup, rounds, fns["onnxruntime"]()[0].shape))  # the model on a batch-1 image
        return {"onnxruntime": {"wall_ms": [4.0, 2.0, 3.0], "cpu_ms": [2.0, 1.0, 6.0]}}

    monkeypatch.setattr(runtimes, "time_paired", known_rounds)
    # wall 4, 2, 3 ms: median 3, fastest 2, 1000 / 3 fps; CPU 2, 1, 6 ms: median 2, fastest 1
    timing = pose_speed.Timing(warmup=2, repeats=3, threads=1, opset=17, atol=1e-4, rtol=1e-3)
    assert speed_submissions.latency(card, timing) == {
        "onnxruntime_ms": 3.0, "onnxruntime_min_ms": 2.0, "onnxruntime_fps": pytest.approx(1e3 / 3),
        "onnxruntime_cpu_ms": 2.0, "onnxruntime_cpu_min_ms": 1.0, "threads": 1, "warmup": 2, "repeats": 3}
    assert asked == [(["onnxruntime"], 2, 3, (1, 5))]


def test_measure_latency_fields(tmp_path):
    model = tiny_net().eval()
    path = tmp_path / "tiny.onnx"
    pose_speed.export_onnx(model, path, (1, 3, 8, 8), opset=17)
    r = pose_speed.measure_latency(model, path, (1, 3, 8, 8), warmup=1, repeats=3, threads=1)
    assert (r["warmup"], r["repeats"], r["threads"], r["batch"]) == (1, 3, 1, 1)
    for name in ("onnxruntime", "torch"):
        assert 0 < r[f"{name}_min_ms"] <= r[f"{name}_ms"]
        assert r[f"{name}_fps"] == pytest.approx(1000 / r[f"{name}_ms"])
        assert 0 < r[f"{name}_cpu_min_ms"] <= r[f"{name}_cpu_ms"]
    # the median of paired CPU-time ratios over rounds (hand-checked: test_runtimes.test_paired_ratios_pair_each_round)
    assert r["torch_over_onnxruntime"] > 0
    with pytest.raises(ValueError):
        pose_speed.measure_latency(model, path, (1, 3, 8, 8), warmup=0, repeats=0, threads=1)


def test_discover_checkpoints(tmp_path):
    for name, arch in (("b", "t"), ("a", "s")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"")
        (tmp_path / name / "model.safetensors.json").write_text(json.dumps({"arch": arch}))
    (tmp_path / "sapiens2").mkdir()  # not an RTMPose checkpoint: skipped
    assert pose_speed.discover_checkpoints(tmp_path, []) == ["a", "b"]
    assert pose_speed.discover_checkpoints(tmp_path, ["b"]) == ["b"]
    with pytest.raises(InputError, match="missing/model.safetensors: checkpoint not found"):
        pose_speed.discover_checkpoints(tmp_path, ["missing"])
    with pytest.raises(InputError, match="no RTMPose checkpoint"):
        pose_speed.discover_checkpoints(tmp_path / "sapiens2", [])


ARCH_T = {"arch": "t", "input_size": [256, 256], "params": 4_333_538, "gflops": 1.1398, "gmacs": 0.5699,
          "onnxruntime_ms": 8.0, "onnxruntime_fps": 125.0, "torch_ms": 16.0, "torch_fps": 62.5,
          "torch_over_onnxruntime": 2.0}
ARCH_X = {**ARCH_T, "arch": "x", "params": 52_540_000, "gmacs": 10.42, "onnxruntime_ms": 200.0,
          "onnxruntime_fps": 5.0, "torch_ms": 500.0, "torch_fps": 2.0, "torch_over_onnxruntime": 2.5}
TRAINED = {"name": "mcl-t", "arch": "t", "input_size": [96, 96], "params": 4_155_618, "gflops": 0.2238,
           "gmacs": 0.1119, "onnxruntime_ms": 1.25, "onnxruntime_fps": 800.0, "torch_ms": 2.5, "torch_fps": 400.0,
           "torch_over_onnxruntime": 2.0, "onnx_max_abs_diff": 2.4e-6}
ENV = {"cpu": "Test CPU", "threads": 1, "torch": "2.13.0", "onnxruntime": "1.31.1", "exporter": "torchscript"}


def test_table_markdown():
    table = pose_speed.table_markdown([ARCH_T, ARCH_X], [TRAINED], ENV, "SYNTHETIC data")
    assert "SYNTHETIC data; Test CPU, 1 thread(s)" in table
    lines = table.splitlines()
    # Architecture section: one row per architecture, in the given order, at the paper's size.
    header = lines.index("| Arch | Params (M) | 256×256 GFLOPs | ONNX Runtime ms (fps) | PyTorch eager ms (fps) "
                         "| Eager / ONNX Runtime |")
    assert lines[header + 2:header + 5] == ["| RTMPose-t | 4.33 | 0.57 | 8.00 (125.0) | 16.00 (62.5) | 2.00 |",
                                            "| RTMPose-x | 52.54 | 10.42 | 200.00 (5.0) | 500.00 (2.0) | 2.50 |",
                                            ""]
    # Checkpoint section: at the trained size.
    header = lines.index("| Method | Arch | Input | GFLOPs | Params (M) | ONNX Runtime ms (fps) "
                         "| PyTorch eager ms (fps) | Eager / ONNX Runtime | ONNX vs PyTorch max abs diff |")
    assert lines[header + 2:header + 4] == [
        "| mcl-t | RTMPose-t | 96×96 | 0.11 | 4.16 | 1.25 (800.0) | 2.50 (400.0) | 2.00 | 2.4e-06 |", ""]
    assert "freshly initialised (seeded) weights" in table and "does not depend on the weight values" in table


def test_plot_fps_vs_params_by_cpu_time_throughout():
    pipeline = {"label": "RTMDet-nano + pose, onnxruntime-int8 (CPU time)", "marker": "v", "params_m": [4.333538],
                "fps": [40.0]}
    arch_t = {**ARCH_T, "onnxruntime_cpu_ms": 10.0, "torch_cpu_ms": 20.0}  # wall 8 and 16 ms: CPU time differs
    arch_x = {**ARCH_X, "onnxruntime_cpu_ms": 250.0, "torch_cpu_ms": 400.0}
    fig = pose_speed.plot_fps_vs_params([arch_t, arch_x], ENV, "SYNTHETIC data", [pipeline])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert "SYNTHETIC data" in ax.get_title() and "256×256" in ax.get_title()
    assert ax.get_xlabel() == "Parameters (M, log scale)" and ax.get_ylabel() == (
        "Throughput (frames per second of CPU time)")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [4.333538, 52.54])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [100.0, 4.0])  # ONNX Runtime: 1000 / CPU ms, not wall
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [50.0, 2.5])  # PyTorch eager
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [40.0])  # the pipeline, CPU time as given
    assert [t.get_text() for t in ax.get_xticklabels()] == ["RTMPose-t\n4.33", "RTMPose-x\n52.54"]
    assert not ax.texts  # the architectures name the ticks: no label over a line
    fig.canvas.draw()  # the legend lies below the axes, over no point
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0


def test_stage_end_to_end(tmp_path):
    # Two checkpoints of RTMPose-t trained at 64x64, one a thermal student (its config.json says so), one without a
    # run config (no int8 row) and lying in its group's folder (data/models/supervised/, as layout.run_path puts it);
    # the architecture list [s, t] (not what was trained, and not in size order) drives the architecture rows. The
    # "paper" size here is 96x96 and the detector's 64x64, to stay fast. The detector's weights are a checkpoint in
    # mmdet's layout whose box distances are 2 strides (as trained weights give boxes wider than a pixel), so each
    # variant's top box is compared, on the ThermEval test frames (2 of them, letterboxed).
    for folder in ("mcl/mcl-t", "supervised/supervised-t"):
        save_model(lively_rtmpose_t(), tmp_path / f"data/models/{folder}/model.safetensors")
    (tmp_path / "data/models/mcl/mcl-t/config.json").write_text(
        json.dumps({"modality": "thermal", "fit": {"epochs": 4}, "history": {"epochs_run": 2}}))
    for cache, n in (("tfake", 3), ("rgbpretrain", 2)):  # the crop stores the grid's images per epoch come from
        save_splits(tmp_path / "data/cache/mlcmkd" / cache, {"train": dot_split(n, 0, 32), "val": dot_split(1, 1, 32)})
    build_prepared_landmarks(tmp_path / "data/prepared/tfake",
                             [(f"tf{i}", "train" if i < 3 else "test") for i in range(5)])
    build_prepared_landmarks(tmp_path / "data/prepared/charlotte", [(f"ch{i}", "test") for i in range(2)],
                             {"width_group": "mean", "view": "front"})
    build_thermeval_frames(tmp_path / "thermeval", np.random.default_rng(0), ["train", "test", "train", "test"])
    torch.manual_seed(1)
    detector = build_rtmdet("nano", input_size=(64, 64))
    with torch.no_grad():
        for conv in detector.bbox_head.rtm_reg:
            conv.bias.fill_(2.0)
    torch.save({"meta": {"epoch": 100}, "state_dict": detector.state_dict()}, tmp_path / "rtmdet-nano.pth")
    params = {"seed": 0, "data": {"source": {"tfake": "synthetic", "charlotte": "synthetic", "thermeval": "synthetic"}},
              "speed": {"models": [], "architectures": ["s", "t"], "input_size": [96, 96], "warmup": 0, "repeats": 1,
                        "threads": 1, "opset": 17, "atol": 1e-4, "rtol": 1e-3,
                        "deploy": default_section("speed.deploy", {
                            "detector_checkpoint": "rtmdet-nano.pth", "detector_input_size": [64, 64],
                            "pipeline_architectures": ["t"],
                            "int8.calibration_crops": 2, "int8.repeats": 1, "int8_architectures": [], "gemm_size": 64,
                            "scaling_architecture": "t"}),
                        "grid": {"gpu": "G", "dense_tflops": 100.0, "utilisation": 0.5}},
              "rtmpose": {"teacher_arch": "t", "ktl_arch": "t", "mcl_arch": "t", "supervised_archs": ["t"],
                          "pretrain_archs": []},
              "train": {"seeds": [0], "fit": {"epochs": 4}, "teacher_epochs": 4, "max_train_samples": None,
                        "scratch": {"supervised": [], "ktl": []}, "ktl": {"runs": ["dikd"]},
                        "mcl": {"variants": ["dikd"]}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, str(ROOT / "stages/speed/speed.py"), "--models-dir", "data/models", "--tfake",
           "data/prepared/tfake", "--charlotte", "data/prepared/charlotte", "--thermeval", "thermeval/prepared",
           "--thermeval-raw", "thermeval/raw", "--onnx-dir", "data/onnx", "--metrics",
           "metrics/speed.json", "--timing", "metrics/timing/speed.json", "--deploy-metrics",
           "metrics/speed/deploy.json", "--deploy-timing", "metrics/timing/speed_deploy.json", "--table",
           "plots/speed_table.md", "--figure", "plots/speed_fps_vs_params", "--caches", "data/cache/mlcmkd",
           "--grid-table", "plots/speed_grid.md"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "metrics/speed.json").read_text())
    assert metrics["paper_input_size"] == [96, 96] and list(metrics["checkpoints"]) == ["mcl-t", "supervised-t"]
    arch_s, arch_t = "RTMPose-s (68 kpts)", "RTMPose-t (68 kpts)"
    assert sorted(metrics["architectures"]) == [arch_s, arch_t]
    assert "torch_ms" not in metrics["architectures"][arch_s]  # timings only in metrics/timing/
    trained, paper = metrics["checkpoints"]["mcl-t"], metrics["architectures"][arch_t]
    assert trained["architecture"] == arch_t and trained["input_size"] == [64, 64] and paper["input_size"] == [96, 96]
    assert paper["params"] - trained["params"] == 34048  # see test_at_input_size_changes_only_the_head
    assert 0 <= trained["onnx_max_abs_diff"] < 1e-4 and trained["onnx_opset"] == 17
    assert trained["gmacs"] == pytest.approx(trained["gflops"] / 2, abs=1e-6)  # 6-digit JSON
    timing = json.loads((tmp_path / "metrics/timing/speed.json").read_text())
    assert timing["environment"]["threads"] == 1 and timing["checkpoints"]["mcl-t"]["repeats"] == 1
    assert sorted(timing["architectures"]) == [arch_s, arch_t] and timing["architectures"][arch_s]["torch_ms"] > 0
    assert sorted(p.name for p in (tmp_path / "data/onnx").iterdir()) == [
        "mcl-t.int8-openvino.onnx", "mcl-t.int8.onnx", "mcl-t.onnx", "rtmdet-nano.int8-openvino.onnx",
        "rtmdet-nano.int8.onnx", "rtmdet-nano.onnx", "supervised-t.onnx"]

    deploy = json.loads((tmp_path / "metrics/speed/deploy.json").read_text())
    assert deploy["detector"]["name"] == "RTMDet-nano" and deploy["detector"]["params"] == 994423
    assert deploy["detector"]["weights"].startswith("rtmdet-nano.pth (sha256 ")
    boxes = deploy["pipelines"]["RTMDet-nano + RTMPose-t"]["agreement"]
    assert deploy["pipeline_frames"] == 2  # every ThermEval test frame there is (agreement_frames 4)
    assert boxes["onnxruntime-fp32"]["box_iou_mean"] == 1 and boxes["onnxruntime-int8-both"]["boxes_missed"] <= 2
    assert list(deploy["pipelines"]) == ["RTMDet-nano + RTMPose-t"] and list(deploy["int8_students"]) == ["mcl-t"]
    student = deploy["int8_students"]["mcl-t"]
    assert student["tfake_nme_rise"] == pytest.approx(student["tfake_nme_int8"] - student["tfake_nme_fp32"], abs=1e-5)
    assert isinstance(student["deployable_int8"], bool) and student["calibration_crops"] == 2
    assert (student["int8_conv"], student["float_conv"], student["all_convs_int8"]) == (38, 0, True)
    runs = deploy["runtimes"]["mcl-t"]
    assert sorted(runs) == ["onnxruntime-fp32", "onnxruntime-int8", "openvino-bf16", "openvino-fp32", "openvino-int8"]
    assert runs["onnxruntime-fp32"]["tfake_nme"] == pytest.approx(student["tfake_nme_fp32"], abs=1e-6)
    assert runs["onnxruntime-fp32"]["tfake_nme_change"] == 0 and runs["onnxruntime-fp32"]["within_1px_share"] == 1
    assert runs["onnxruntime-int8"]["tfake_nme"] == pytest.approx(student["tfake_nme_int8"], abs=1e-6)
    assert runs["openvino-fp32"]["mean_px_from_fp32"] < 0.5
    bf16_runs = "BF16" in runtimes.openvino_capabilities()
    assert ("not_run" in runs["openvino-bf16"]) is not bf16_runs
    agreement = deploy["pipelines"]["RTMDet-nano + RTMPose-t"]["agreement"]
    assert agreement["torch-fp32"]["within_1px_share"] >= 0.9
    deploy_timing = json.loads((tmp_path / "metrics/timing/speed_deploy.json").read_text())
    gemm_row = deploy_timing["gemm_limit"]["onnxruntime-fp32"]
    assert gemm_row["n"] == 64 and gemm_row["gflops_per_s"] > 0
    student_t = deploy_timing["int8_students"]["mcl-t"]["variants"]
    assert student_t["onnxruntime-int8"]["cpu_ms"] > 0 and "primitives" in student_t["openvino-int8"]["kernels"]
    assert sorted(deploy_timing["limit"]) == ["RTMDet-nano", "RTMDet-nano + RTMPose-t", arch_s, arch_t]
    detector_alone = deploy_timing["detector_variants"]["variants"]
    assert sorted(detector_alone) == sorted(v.name for v in runtimes.VARIANTS)
    assert detector_alone["onnxruntime-int8"]["cpu_ms"] > 0 and ("not_run" in detector_alone["openvino-bf16"]) is not \
        ("BF16" in runtimes.openvino_capabilities())
    # the detector is timed once: its limit row reads the same fp32 figure; eager PyTorch in the same rounds
    gemm_fp32 = gemm_row["best_gflops_per_s"]
    assert deploy_timing["limit"]["RTMDet-nano"]["variants"]["onnxruntime-fp32"]["fraction_of_gemm"] == pytest.approx(
        2e3 * deploy["detector"]["gmacs"] / detector_alone["onnxruntime-fp32"]["cpu_ms"] / gemm_fp32, rel=1e-3)
    assert "detector" not in deploy_timing and deploy_timing["detector_variants"]["torch_eager"]["cpu_ms"] > 0
    assert deploy_timing["environment"]["openvino_capabilities"] == runtimes.openvino_capabilities()
    assert [r["threads"] for r in deploy_timing["thread_scaling"]["rows"]] == list(range(1, usable_cores() + 1))
    for out in ("plots/speed_table.md", "plots/speed_fps_vs_params.png", "plots/speed_fps_vs_params.svg"):
        assert (tmp_path / out).is_file(), out
    grid = (tmp_path / "plots/speed_grid.md").read_text()
    assert "tfake 3 train + 1 val, rgb 2 train + 1 val" in grid and "0.50 of the epoch cap" in grid
    assert "| teacher | RTMPose-t on RGB | 1 | 4 |" in grid and "| mcl | MCL dikd (t from KTL t) | 1 | 4 |" in grid
    table = (tmp_path / "plots/speed_table.md").read_text()
    pose_alone, deployment = table.split("*Detector + pose end to end")
    rows = [line.split(" | ")[0] for line in pose_alone.splitlines()
            if line.startswith("| ") and not line.startswith(("| Arch ", "| Method "))]
    assert rows == ["| RTMPose-s", "| RTMPose-t", "| mcl-t", "| supervised-t"]
    for row in ("| RTMDet-nano alone | onnxruntime-int8 | ", "| RTMDet-nano alone | torch-fp32 (eager) | ",
                "*Twice onnxruntime-fp32's speed leaves a frame RTMDet-nano + RTMPose-t ",
                "| RTMDet-nano + RTMPose-t |", "| mcl-t | RTMPose-t | 64×64 | 38/38 / 0/7 |",
                "| RTMDet-nano | 64×64 |", "| 1 | ", "| RTMDet-nano + RTMPose-t | openvino-int8 | ",
                "| mcl-t | onnxruntime-fp32 | ", "| 16.53 | 11.00 |", "detector weights rtmdet-nano.pth (sha256 ",
                "on 2 ThermEval test frames letterboxed to 64×64", "| 1.000 (1.000) | 0 |"):
        assert row in deployment, row
    assert ("| mcl-t | openvino-bf16 | not run: " in deployment) is not bf16_runs
    # the seeded pose model's keypoints check the chain in fp32 only; an int8 row shows none
    chain = {line.split(" | ")[1]: line.split(" | ")[5:7] for line in deployment.splitlines()
             if line.startswith("| RTMDet-nano + RTMPose-t | ")}
    assert chain["openvino-fp32"] == ["0.000", "100.0 %"] and chain["onnxruntime-int8"] == ["–", "–"]


def test_load_checkpoint_keeps_its_trained_size(tmp_path):
    save_model(build_rtmpose("t", input_size=(64, 96)), tmp_path / "mcl/mcl-t/model.safetensors")
    model = pose_speed.load_checkpoint(tmp_path, "mcl-t")
    assert model.training is False and model.cfg.input_size == (64, 96)
    assert pose_speed.batch1_shape(model.cfg) == (1, 3, 96, 64)


def test_seeded_models_are_made_and_exported_once_per_config(tmp_path):
    cfg64, cfg96 = (build_rtmpose("t", input_size=(s, s)).cfg for s in (64, 96))
    seeded = pose_speed.SeededModels(tmp_path, opset=17, seed=3)
    model, path = seeded.get(cfg64)
    written = path.stat().st_mtime_ns
    assert seeded.get(cfg64) == (model, path) and path.stat().st_mtime_ns == written  # not exported again
    assert torch.equal(model.head.cls_x.weight, pose_speed.fresh_model(cfg64, seed=3).head.cls_x.weight)
    other_model, other_path = seeded.get(cfg96)
    assert other_path != path and other_path.is_file() and other_model is not model
