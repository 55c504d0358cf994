"""Runtime variants, paired timing and the runtimes' own kernel reports (thermbench.speed.runtimes)."""

import numpy as np
import pytest
import torch

from model_builders import lively_rtmpose_t
from thermbench.speed import deploy, runtimes
from thermbench.speed.pose_speed import OUTPUT_NAMES, export_onnx


def test_bf16_is_not_run_without_the_capability():
    bf16 = runtimes.Variant("openvino", "bf16")
    reason = runtimes.unavailable(bf16, ["FP32", "INT8"])
    assert reason.startswith("not run: ") and "AVX512-BF16 or AMX-BF16" in reason and "FP32, INT8" in reason
    assert runtimes.unavailable(bf16, ["FP32", "BF16"]) is None
    assert all(runtimes.unavailable(v, ["FP32"]) is None for v in runtimes.VARIANTS if v.precision != "bf16")



def test_runnable_keeps_the_order_and_sets_aside_what_the_cpu_cannot_run():
    run, skipped = runtimes.runnable(["FP32", "INT8"])
    assert [v.name for v in run] == ["onnxruntime-fp32", "onnxruntime-int8", "openvino-fp32", "openvino-int8"]
    assert list(skipped) == ["openvino-bf16"] and skipped["openvino-bf16"]["not_run"].startswith("not run: ")
    run, skipped = runtimes.runnable(["FP32", "BF16"], runtimes.VARIANTS[2:4])
    assert [v.name for v in run] == ["openvino-fp32", "openvino-bf16"] and skipped == {}


def test_time_paired_shuffles_the_order_per_round():
    calls = []
    times = runtimes.time_paired({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, warmup=1,
                                 rounds=20, seed=0)
    assert calls[:2] == ["a", "b"] and len(calls) == 42  # warm-up in listed order, then 20 rounds of both
    rounds = [tuple(calls[i:i + 2]) for i in range(2, 42, 2)]
    assert set(rounds) == {("a", "b"), ("b", "a")}  # each round calls both, in either order
    assert all(len(times[k]["cpu_ms"]) == len(times[k]["wall_ms"]) == 20 for k in "ab")


def test_paired_ratios_pair_each_round():
    # Round by round: reference 10, 20, 40 ms; other 5, 20, 10 ms -> speed-ups 2, 1, 4: median 2, quartiles 1.5, 3.
    times = {"ref": {"cpu_ms": [10.0, 20.0, 40.0], "wall_ms": [10.0, 20.0, 40.0]},
             "other": {"cpu_ms": [5.0, 20.0, 10.0], "wall_ms": [10.0, 20.0, 40.0]}}
    ratios = runtimes.paired_ratios(times, "ref")
    assert ratios["other"]["cpu"] == pytest.approx({"median": 2.0, "q1": 1.5, "q3": 3.0})
    assert ratios["other"]["wall"] == {"median": 1.0, "q1": 1.0, "q3": 1.0}
    assert runtimes.summary(times["other"]) == pytest.approx(
        {"wall_ms": 20.0, "wall_min_ms": 10.0, "wall_fps": 50.0, "cpu_ms": 10.0, "cpu_min_ms": 5.0, "cpu_fps": 100.0})
    assert runtimes.latency_fields("ort", runtimes.summary(times["other"])) == pytest.approx(
        {"ort_ms": 20.0, "ort_min_ms": 10.0, "ort_fps": 50.0, "ort_cpu_ms": 10.0, "ort_cpu_min_ms": 5.0})


def test_openvino_runs_the_onnx_file_like_onnxruntime_and_names_its_kernels(tmp_path):
    model = lively_rtmpose_t(64)
    path = tmp_path / "t.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES, dynamic_batch=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    want = runtimes.runner(runtimes.REFERENCE, path, None, 1)(x)
    got = runtimes.runner(runtimes.Variant("openvino", "fp32"), path, None, 1)(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-3, rtol=1e-3)
    run, kernels = runtimes.runner_with_kernels(runtimes.Variant("openvino", "fp32"), path, None, 1)
    for g, w in zip(run(x), want):  # the runner that comes with the kernels is the same model
        np.testing.assert_allclose(g, w, atol=1e-3, rtol=1e-3)
    # RTMPose-t: 38 convolutions, 7 matrix products (OpenVINO makes the Linear layers FullyConnected).
    assert sum(kernels["primitives"].values()) == 45 and all(k.endswith("(f32)") for k in kernels["primitives"])
    assert "not reported" in runtimes.runner_with_kernels(runtimes.REFERENCE, path, None, 1)[1]["primitives"]


def test_limit_rows_use_each_runtimes_own_gemm():
    gemms = {"onnxruntime-fp32": {"best_gflops_per_s": 100.0}, "openvino-fp32": {"best_gflops_per_s": 50.0},
             "openvino-bf16": {"not_run": "not run: no BF16"}}
    models = {"m": {"gmacs": 0.5, "input_size": [8, 8], "onnxruntime_cpu_ms": 20.0}}
    pipes = {"p": {"gmacs": 1.0, "input_size": [8, 8], "variants": {
        "onnxruntime-fp32": {"cpu_ms": 40.0}, "openvino-fp32": {"cpu_ms": 80.0}, "openvino-bf16": {"not_run": "x"},
        "onnxruntime-int8": {"cpu_ms": 10.0}}}}
    out = deploy.limit_rows(gemms, models, pipes)
    # 0.5 GMACs in 20 ms = 50 GFLOP/s, half of ORT's 100; 1 GMAC in 40 ms = 50 (of 100), in 80 ms = 25 (of 50).
    assert out["m"]["variants"] == {"onnxruntime-fp32": {"gflops_per_s": 50.0, "fraction_of_gemm": 0.5}}
    assert out["p"]["variants"] == {"onnxruntime-fp32": {"gflops_per_s": 50.0, "fraction_of_gemm": 0.5},
                                    "openvino-fp32": {"gflops_per_s": 25.0, "fraction_of_gemm": 0.5}}


def test_a_capped_onednn_isa_drops_bf16_from_what_openvino_offers(monkeypatch):
    class Core:
        def get_property(self, device, name):
            return ["FP32", "INT8", "BF16", "FP16"]

    monkeypatch.setattr(runtimes.ov, "Core", Core)
    assert runtimes.openvino_capabilities({"ONEDNN_MAX_CPU_ISA": "AVX2"}) == ["FP32", "INT8", "FP16"]
    assert runtimes.openvino_capabilities({"ONEDNN_MAX_CPU_ISA": "SSE41"}) == ["FP32", "INT8", "FP16"]
    assert runtimes.openvino_capabilities({"ONEDNN_MAX_CPU_ISA": "avx512_core_bf16"}) == ["FP32", "INT8", "BF16",
                                                                                         "FP16"]
    assert runtimes.openvino_capabilities({}) == ["FP32", "INT8", "BF16", "FP16"]


def test_a_runtime_that_will_not_compile_the_model_gets_a_row_saying_why(tmp_path, monkeypatch):
    model = lively_rtmpose_t(64)
    path = tmp_path / "t.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES, dynamic_batch=True)
    compile_for = runtimes.runner_with_kernels

    def openvino_refuses(variant, *args):
        if variant.runtime == "openvino":
            raise RuntimeError("Exception from src/inference/src/core.cpp:\nunsupported ISA for Convolution")
        return compile_for(variant, *args)

    monkeypatch.setattr(runtimes, "runner_with_kernels", openvino_refuses)
    out = deploy.measure_variants(path, path, (1, 3, 64, 64), warmup=0, repeats=2, threads=1,
                                  capabilities=["FP32", "INT8"])
    assert list(out["variants"]) == [v.name for v in runtimes.VARIANTS]
    for name in ("openvino-fp32", "openvino-int8"):
        assert out["variants"][name] == {"not_run": "not run: openvino cannot compile it on this CPU's kernels "
                                                    "(unsupported ISA for Convolution)"}
    assert out["variants"]["onnxruntime-int8"]["cpu_ms"] > 0 and "not_run" in out["variants"]["openvino-bf16"]


def test_eager_pytorch_is_timed_in_the_same_rounds_at_the_asked_threads_and_the_thread_count_restored(tmp_path,
                                                                                                       monkeypatch):
    model = lively_rtmpose_t(64)
    path = tmp_path / "t.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES, dynamic_batch=True)
    seen = []
    time_paired = runtimes.time_paired

    def rounds_of_known_times(fns, warmup, rounds, seed):
        """The real rounds (the calls counted below), then times whose paired ratios are known: per round,
        onnxruntime-fp32 10, 20, 40 ms and eager 5, 20, 10 ms give speed-ups 2, 1, 4."""
        time_paired(fns, warmup, rounds, seed)
        known = {"onnxruntime-fp32": [10.0, 20.0, 40.0], deploy.EAGER: [5.0, 20.0, 10.0]}
        return {name: {"cpu_ms": known.get(name, [1.0] * 3), "wall_ms": known.get(name, [1.0] * 3)} for name in fns}

    class Counting(torch.nn.Module):
        def forward(self, x):
            seen.append((torch.get_num_threads(), torch.is_inference_mode_enabled(), tuple(x.shape)))
            return model(x)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(runtimes, "time_paired", rounds_of_known_times)
            out = deploy.measure_variants(path, path, (1, 3, 64, 64), warmup=1, repeats=3, threads=1,
                                          capabilities=["FP32"], eager=Counting())
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [(1, True, (1, 3, 64, 64))] * 4  # 1 warm-up + 3 rounds
    eager = out[deploy.EAGER]
    # paired with onnxruntime-fp32 round by round: median 2, quartiles 1.5 and 3 (the medians' ratio is 2 as well)
    assert eager["cpu_ms"] == 10.0 and eager["speedup_over_onnxruntime-fp32"]["cpu"] == {"median": 2.0, "q1": 1.5,
                                                                                          "q3": 3.0}
    assert deploy.EAGER not in out["variants"]
    assert deploy.EAGER not in deploy.measure_variants(path, path, (1, 3, 64, 64), warmup=0, repeats=1, threads=1,
                                                       capabilities=["FP32"])


def test_the_detector_bound_halves_each_pipelines_reference_and_names_the_fastest_detector():
    def timed(ms, median):
        return {"cpu_ms": ms, "speedup_over_onnxruntime-fp32": {"cpu": {"median": median, "q1": median, "q3": median}}}

    alone = {"onnxruntime-fp32": timed(9.0, 1.0), "onnxruntime-int8": timed(8.0, 1.1),
             "openvino-bf16": {"not_run": "not run: no BF16"}}
    timing = {"detector_variants": {"variants": alone},
              "pipelines": {"D + P-t": {"variants": {"onnxruntime-fp32": {"cpu_ms": 25.0}}},
                            "D + P-s": {"variants": {"onnxruntime-fp32": {"not_run": "x"}}}}}
    # 25 ms / 2 = 12.50 ms a frame; the int8 detector (8 ms) is the fastest that ran.
    assert deploy.detector_bound("D", timing) == (
        "*Twice onnxruntime-fp32's speed leaves a frame D + P-t 12.50 ms of CPU time; D alone takes 8.00 ms of it in "
        "its fastest variant, onnxruntime-int8 (1.10× [1.10–1.10] over onnxruntime-fp32).*")
