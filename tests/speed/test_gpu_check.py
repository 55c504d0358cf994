"""make gpu-check's CPU-side logic (the measuring itself needs a GPU)."""

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from thermbench.datasets.crop_store import Rows
from thermbench.speed import gpu_check as g

REPO = Path(__file__).resolve().parents[2]
CPU = g.torch.device("cpu")


@pytest.fixture(scope="module")
def paper():
    return g.paper_profile(REPO)


@pytest.fixture(scope="module")
def dry(paper):
    return g.dry_run(paper)


def test_slug_is_the_gpu_name_as_a_file_name():
    assert g.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert g.slug("  NVIDIA H200 (SXM) ") == "nvidia-h200-sxm"


def test_rate_from_slope_cancels_the_fixed_cost():
    # 10 s of fixed cost + 1,000 images/s: 640 images in 10.64 s, 3,200 in 13.2 s
    assert g.rate_from_slope(640, 10.64, 3200, 13.2) == pytest.approx(1000.0)
    with pytest.raises(ValueError):
        g.rate_from_slope(3200, 13.2, 640, 10.64)


def test_rates_keep_every_repeat_their_median_and_range():
    assert g.rates([1100.0, 900.0, 1000.0]) == {"images_per_s": 1000.0, "repeats": [1100.0, 900.0, 1000.0],
                                                 "min": 900.0, "max": 1100.0, "spread": pytest.approx(0.2)}


def test_compare_says_whether_a_change_is_beyond_the_repeats_range():
    base = g.rates([900.0, 1000.0, 1100.0])
    faster = g.compare(g.rates([1150.0, 1200.0, 1250.0]), base)
    assert faster["change"] == pytest.approx(0.2) and faster["beyond_spread"]
    within = g.compare(g.rates([1050.0, 1140.0, 1200.0]), base)  # 1050 lies inside 900-1100
    assert within["change"] == pytest.approx(0.14) and not within["beyond_spread"]


def test_each_setting_against_fp32s_nme():
    table = {"fp32": {"nmes": [0.10, 0.12, 0.11], "mean": 0.11}, "tf32": {"nmes": [0.11], "mean": 0.115},
             "bf16+lean+cuda_graph": {"nmes": [0.12, 0.14], "mean": 0.13}}
    assert g.against_fp32(table) == {
        "tf32": {"mean": 0.115, "minus_fp32": pytest.approx(0.005), "within_fp32_range": True},
        "bf16+lean+cuda_graph": {"mean": 0.13, "minus_fp32": pytest.approx(0.02), "within_fp32_range": False}}


class SleepingDevice:
    """A device clock for `host_wait_probe`: a sleep kernel keeps the device busy from its launch; a launch takes
    1 ms of host time; `sync` waits for the device."""

    def __init__(self):
        self.now, self.busy_until = 0.0, 0.0

    def launch(self, device_s: float = 0.0) -> None:
        self.now += 0.001
        self.busy_until = max(self.busy_until, self.now) + device_s

    def sync(self) -> None:
        self.now = max(self.now, self.busy_until)


def test_the_sleep_probe_tells_a_host_that_waits_from_one_that_only_launches():
    dev = SleepingDevice()
    launches = lambda: [dev.launch(0.002) for _ in range(3)]  # noqa: E731
    out = g.host_wait_probe(launches, dev.launch, dev.sync, 0.1, clock=lambda: dev.now)
    # 1 ms for the sleep's launch and 3 for the step's: the host is back at 4 ms, the device done at 1 + 100 + 6
    assert out == {"sleep_ms": 100.0, "host_ms": pytest.approx(4.0), "device_ms": pytest.approx(107.0),
                   "host_waited": False}
    waits = lambda: (launches(), dev.sync())  # noqa: E731 - e.g. a batched inverse that syncs inside its library
    out = g.host_wait_probe(waits, dev.launch, dev.sync, 0.1, clock=lambda: dev.now)
    assert out["host_waited"] and out["host_ms"] == pytest.approx(107.0) == out["device_ms"]


def test_settings_are_named_by_what_differs_from_the_paper_profile(paper):
    assert g.setting_name("tf32", False) == "tf32"
    assert g.setting_name("bf16", True, determinism="nondeterministic") == "bf16+compile+nondeterministic"
    assert (g.setting_name("tf32", False, True, determinism="nondeterministic")
            == "tf32+nondeterministic+cudnn.benchmark")
    assert g.setting_name("bf16", False, graph=True) == "bf16+lean+cuda_graph"
    assert g.precisions(paper) == ("tf32", "bf16")  # the paper's, then the alternative its choice weighs
    assert g.precisions(replace(paper, fit=replace(paper.fit, precision="bf16"))) == ("bf16", "tf32")


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


def test_the_paper_fit_is_read_from_the_profiles(paper):
    fit = paper.fit
    assert (fit.batch_size, fit.loader_workers, fit.augment_on_device) == (64, 4, True)
    assert fit.augment.rotate_deg == 30 and fit.augment.flip_prob == 0.5  # paper's, and the default's flip
    assert (fit.deterministic, fit.val_every, fit.patience) == (True, 1, 20)
    assert paper.val_per_train == pytest.approx(0.1 / 0.8)  # T-FAKE split 80 / 10 / 10
    assert (paper.distill.fd, paper.distill.ld, paper.distill.fi, paper.distill.ri) == (True,) * 4  # DIKD


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
    speed, precision = g.split_results({"end_to_end": 1, "stopped": {"a": "b"}})
    assert speed == {"end_to_end": 1, "stopped": {"a": "b"}} and precision == {"stopped": {"a": "b"}}


def test_significant_keeps_small_differences():
    assert g.significant({"a": [1.9e-8, 1234.5678], "b": 0.0, "c": 3, "d": None}) == {
        "a": [1.9e-8, 1235.0], "b": 0.0, "c": 3, "d": None}


def test_an_item_past_the_budget_is_skipped_and_a_failing_one_recorded(paper):
    saved = []
    check = g.Check(CPU, g.DRY, paper, 100.0, saved.append)

    def fails():
        raise ValueError("no kernel\nsecond line")

    assert check.run("long", 1001.0 / g.DRY.estimate_scale, lambda: 1) is None
    assert check.run("broken", 1.0, fails) is None
    assert check.run("fine", 1.0, lambda x: x + 1, 1) == 2
    assert check.results["skipped"] == ["long"]
    assert check.results["failed"] == {"broken": "ValueError: no kernel"}
    assert len(saved) == 2  # after each item run


def test_op_kinds_by_name():
    assert [g.kind_of(op) for op in ("aten::cudnn_convolution", "aten::native_batch_norm_backward",
                                     "aten::addmm", "aten::_fused_adamw_", "aten::copy_", "aten::silu_")] == [
        "convolution", "batch norm", "matmul", "optimizer", "copy and layout", "other"]


def test_an_item_running_past_the_budget_is_stopped_at_its_end(paper):
    check = g.Check(CPU, g.DRY, paper, 1.0)
    start = time.perf_counter()
    assert check.run("slow", 0.0, time.sleep, 30.0) is None
    assert time.perf_counter() - start < 2.0  # the budget's end, not the item's
    assert check.results["stopped"]["slow"].startswith("stopped at budget")
    assert check.run("next", 0.0, lambda: 1) is None and check.results["skipped"] == ["next"]
    assert g.signal.getitimer(g.signal.ITIMER_REAL) == (0.0, 0.0)  # no alarm left behind


def test_repeats_stop_where_another_would_pass_the_budget(paper):
    now = [0.0]
    check = g.Check(CPU, g.DRY, paper, 1.2, clock=lambda: now[0])

    def once():  # each repeat takes 0.5 s of the clock
        now[0] += 0.5
        return now[0]

    # after 2 repeats 1.0 s are gone and a third would end at 1.5 s
    assert check.run("figure", 0.0, check.repeated, once, 3) == [0.5, 1.0]
    assert check.results["stopped"] == {"figure": "stopped at budget after 2 of 3 repeats"}
    roomy = g.Check(CPU, g.DRY, paper, 10.0, clock=lambda: now[0])
    assert roomy.run("figure", 0.0, roomy.repeated, once, 3) == [1.5, 2.0, 2.5] and not roomy.results["stopped"]


def test_static_shapes_compile_each_batch_size_as_its_own_graph():
    def f(x):
        return (2 * x).sum()

    g.torch._dynamo.reset()
    before = g.graphs_compiled()
    with g.static_shapes():
        step = g.torch.compile(f, backend="eager")
        for n in (2, 4, 8):
            step(g.torch.ones(n, 3))
    assert g.graphs_compiled() - before == 3  # automatic dynamic shapes would compile 2: the second for any n


def test_covered_is_the_union_of_spans():
    assert g.covered([(5.0, 6.0), (0.0, 2.0), (1.0, 3.0), (5.5, 5.7)]) == 4.0  # [0, 3] and [5, 6]
    assert g.covered([]) == 0.0


def test_profile_table_by_hand():
    # 2 steps; the device runs something 6 of the 10 ms of wall time; the ops' self times sum to 6 ms
    ops = [("aten::convolution", 3000.0), ("aten::native_batch_norm", 2000.0), ("aten::add_", 1000.0)]
    out = g.profile_table(ops, 6000.0, 10_000.0, 2, top=2)
    assert out["wall_ms_per_step"] == 5.0 and out["busy_ms_per_step"] == 3.0 and out["ops_ms_per_step"] == 3.0
    assert out["busy_share"] == 0.6 and out["host_gap_share"] == pytest.approx(0.4)
    assert out["top_ops"] == [{"op": "aten::convolution", "ms_per_step": 1.5, "share": 0.5},
                              {"op": "aten::native_batch_norm", "ms_per_step": 1.0, "share": 2 / 6}]
    assert list(out["by_kind"]) == ["convolution", "batch norm", "other"]
    assert out["by_kind"]["other"] == {"ms_per_step": 0.5, "share": 1 / 6}


def test_the_step_profile_runs_on_the_cpu_and_restores_the_layout(dry):
    check = g.Check(CPU, replace(g.DRY, repeats=2), dry, 3000.0)
    out = check.profile("bf16", 4, steps=2)
    assert out["clock"] == "cpu" and out["steps"] == 2 and "convolution" in out["by_kind"]
    assert 0 < out["ops_ms_per_step"] and sum(k["share"] for k in out["by_kind"].values()) == pytest.approx(1.0)
    assert 0 < out["busy_ms_per_step"] and 0 <= out["host_gap_share"] <= 1
    conv = next(m for m in check.kept_task("bf16", False, 4).modules() if isinstance(m, g.torch.nn.Conv2d))
    assert conv.weight.is_contiguous()  # channels_last only while stepping
    ceiling = check.step_ceiling("fp32", False, 4, steps=1)
    assert len(ceiling["repeats"]) == 2 and ceiling["min"] <= ceiling["images_per_s"] <= ceiling["max"]
    assert ceiling["graph"] is None and ceiling["steps_before_timing"] == g.STEPS_BEFORE_TIMING == 5
    # the paper profile's deterministic mode; no sleep kernel off CUDA
    assert ceiling["deterministic"] is True
    assert ceiling["host_wait_probe"] == {"input_path": None, "input_path_and_step": None}


@pytest.mark.parametrize("form", list(g.STEP_FORMS))
def test_each_step_form_is_the_fits_own_step(dry, form):
    """The lean forms run the lean task with the bf16 weight copies and the batched BN counters; the graph form asks
    for a graph, which the CPU refuses; the paper profile's deterministic mode holds while it steps; neither the
    step's ops nor its input path's make the host wait."""
    check = g.Check(CPU, replace(g.DRY, repeats=1), dry, 3000.0)
    lean, graph = g.STEP_FORMS[form]
    task = check.kept_task("bf16", False, 4)
    teacher = task.teacher
    with check.stepping("bf16", False, 4, form) as (one, step, refusal, feed):
        assert task.lean == lean and (task.teacher is not teacher) == lean
        assert (step.weights is not None) == lean and (step.counts is not None) == lean
        assert refusal == ("the device is cpu, not CUDA" if graph else None)
        assert g.torch.are_deterministic_algorithms_enabled()
        one()
        assert step.steps == 1
        with g.StepOps() as ops:
            one(feed())
        # the warps of the crops and of their twins, each with its inverse, are on the counted path
        assert step.steps == 2 and ops.ops["linalg_inv_ex"] == 2
        assert ops.summary()["host_waits"] == []
    assert task.teacher is teacher and not task.lean
    out = check.step_ceiling("bf16", False, 4, steps=1, form=form)
    assert out["host_syncs_per_step"] == 0.0 and len(out["repeats"]) == 1
    assert out["graph"] == ("refused (the device is cpu, not CUDA)" if graph else None)


def test_host_syncs_count_the_ops_that_make_the_host_wait(dry):
    check = g.Check(CPU, g.DRY, dry, 3000.0)
    x = g.torch.arange(4.0)
    assert check.host_syncs(lambda: (float(x.sum()), x[x > 1]), 2) == 2.0  # .item() and a boolean mask a call
    assert g.sync_warning("called a synchronizing CUDA operation") and not g.sync_warning("rms_norm")


@pytest.fixture
def clocked_fits(monkeypatch):
    """Each fit runs for real, and its seconds are 2 s fixed + 10 ms per image trained: a loaded CPU's wall clock
    can make a 2-epoch fit no slower than a 1-epoch one, and the slope only needs the runs' sizes."""
    fit = g.Check.timed_fit

    def timed_fit(self, task, data, cfg):
        fit(self, task, data, cfg)
        return 2.0 + 0.01 * len(data["train"]) * cfg.epochs

    monkeypatch.setattr(g.Check, "timed_fit", timed_fit)


def test_the_end_to_end_runs_grow_their_validation_with_their_training(dry, clocked_fits):
    check = g.Check(CPU, replace(g.DRY, repeats=1), dry, 3000.0)
    out = check.run("e2e", 0.0, check.end_to_end, "fp32", False, 4)
    # steps 1 and 3 of batch 4 become 5 (STEPS_BEFORE_TIMING: a graph's capture falls in both runs) and 6;
    # validation at 1/8 of the training crops, at least one
    assert out["runs"]["steps"] == [5, 6] and out["runs"]["val_crops"] == [2, 3]
    assert out["runs"]["images"] == [20, 24] and out["runs"]["seconds"] == [[2.2, 2.24]]
    assert out["images_per_s"] == pytest.approx(100.0) and "graph" not in out
    assert out["deterministic"] is True  # the paper profile's


def test_the_paper_fit_reads_its_crops_from_a_store_on_disk(dry, monkeypatch, clocked_fits):
    read, original = [], g.student_splits

    def student_splits(*args, **kwargs):
        data = original(*args, **kwargs)
        read.append((type(data["train"].images), type(data["train"].paired), len(data["train"]), len(data["val"])))
        return data

    monkeypatch.setattr(g, "student_splits", student_splits)
    check = g.Check(CPU, replace(g.DRY, repeats=1), dry, 3000.0)
    out = check.run("paper fit", 0.0, check.paper_run)
    assert read == [(Rows, Rows, 12, 2)]  # 3 steps of 4 crops, 12 / 8 validation crops rounded
    assert out["fit"]["deterministic"] and out["fit"]["val_every"] == 1 and out["fit"]["grad_norm_steps"] > 0
    assert out["runs"]["images"] == [12, 24] and out["images_per_s"] == pytest.approx(100.0)
    # the paper profile asks for the lean step and a graph; the CPU refuses the graph and the record says so
    assert out["fit"]["lean_step"] and out["fit"]["cuda_graph"]
    assert out["graph"] == "refused (the device is cpu, not CUDA)"


def test_the_bf16_fit_with_shares_runs_the_paper_fit_in_bf16(dry):
    # 128 px: on a CPU with AVX512-BF16, oneDNN's bf16 weight gradient of the head's 7x7 convolution on the 2x2 map
    # of a 64 px crop can come out infinite (docs/gpu.md), and the shares with it
    check = g.Check(CPU, replace(g.DRY, repeats=1, input_px=128), dry, 3000.0)
    out = check.run("bf16 shares", 0.0, check.shares_fit)
    assert out["fit"]["precision"] == "bf16" and out["fit"]["share_batches"] >= 1 and out["fit"]["lean_step"]
    assert sorted(out["gradient_shares"]) == ["end", "start"]
    assert sorted(out["gradient_shares"]["start"]) == ["fi", "fm", "kp", "lg", "ri"]
    assert out["graph"] == "refused (the device is cpu, not CUDA)" and out["train_crops"] == 12
    assert not check.results["failed"]


def test_the_json_names_the_commit(tmp_path):
    assert g.commit(REPO) is None or g.re.fullmatch(r"[0-9a-f]{40}(-dirty)?", g.commit(REPO))
    assert g.commit(tmp_path) is None  # no repository there
    env = g.environment(CPU, REPO)
    assert {"gpu", "torch", "cuda", "commit"} <= set(env)


def test_a_dry_run_ends_within_its_budget(tmp_path):
    # 5 s of margin: the op running at the budget's end finishes first (seconds on this loaded 2-core CPU)
    start = time.perf_counter()
    assert g.main(["--dry-run", "--budget-s", "8", "--out", str(tmp_path), "--repo", str(REPO)]) == 0
    assert time.perf_counter() - start < 8 + 5
    result = json.loads((tmp_path / "cpu-dry-run.json").read_text())
    assert result["seconds"] < 8 + 5 and result["skipped"]  # cut short
    assert all(note.startswith("stopped at budget") for note in result["stopped"].values())


def test_measure_compares_each_change_with_its_setting_and_chooses_among_those_with_an_nme(paper, monkeypatch,
                                                                                           capsys):
    base = {"fp32": 400.0, "tf32": 800.0, "bf16": 600.0}

    def end_to_end(self, precision, compiled, batch, deterministic=None, benchmark=False, graph=False):
        rate = base[precision] * (2 if compiled else 1) * (1.5 if benchmark else 1) * (0.5 if deterministic else 1)
        return g.rates([rate - 10, rate, rate + 10] if not graph else [3 * rate])

    monkeypatch.setattr(g, "ops_per_step", lambda arch: {"fp32": {"plain": {"kernels": 10}}})

    for name, fake in {"end_to_end": end_to_end, "paper_run": lambda self: g.rates([500.0]),
                       "nme_row": lambda self, p, c, graph=False: {"nmes": [0.1, 0.2], "mean": 0.15},
                       "profile": lambda self, p, b: {},
                       "step_ceiling": lambda self, p, c, b, steps=10, form="plain": {
                           **g.rates([100.0 * b * (2 if "graph" in form else 1)]), "form": form},
                       "shares_fit": lambda self: {"graph": "captured"},
                       "loader_rate": lambda self, on_device: g.rates([1000.0]),
                       "determinism": lambda self, p, c: {}, "cpu_vs_gpu": lambda self: 0.0,
                       "sapiens2": lambda self, p: g.rates([1.0])}.items():
        monkeypatch.setattr(g.Check, name, fake)
    r = g.measure(CPU, g.DRY, paper, 1000.0)
    assert not r["skipped"] and not r["failed"] and not r["stopped"]
    # first the paper's precision (tf32) step forms at both batches, the paper fit, then the NME against fp32 of
    # the paper's step and of the alternative (bf16)
    done = g.re.findall(r"gpu-check: (.*) done in \d+ s", capsys.readouterr().out)
    assert done[:10] == [f"step tf32 {form} batch {b}" for form in g.STEP_FORMS for b in (4, 8)] + [
        "paper fit batch 64", "NME fp32", "NME tf32+lean+cuda_graph", "NME bf16+lean+cuda_graph"]
    # the paper profile is deterministic (x 0.5 here): its settings carry no suffix, the others say so
    assert r["end_to_end"]["bf16+compile"]["8"]["images_per_s"] == 600.0
    assert r["end_to_end"]["tf32+nondeterministic"]["4"]["images_per_s"] == 800.0
    assert r["end_to_end"]["tf32+nondeterministic+cudnn.benchmark"]["4"]["images_per_s"] == 1200.0
    assert r["end_to_end"]["bf16+lean+cuda_graph"]["8"]["images_per_s"] == 900.0
    assert r["ops_per_step"] == {"fp32": {"plain": {"kernels": 10}}}
    # cuDNN's benchmarking against the same setting without, both not deterministic
    assert r["cudnn_benchmark"]["tf32+nondeterministic"]["4"] == {"images_per_s": 1200.0, "without": 800.0,
                                                                  "change": pytest.approx(0.5), "beyond_spread": True}
    assert r["deterministic_cost"]["tf32"]["4"]["change"] == pytest.approx(-0.5)
    assert r["deterministic_cost"]["bf16+compile"]["4"]["change"] == pytest.approx(-0.5)
    # the lean CUDA-graph step, the fastest here with an NME row in fp32's range, is chosen (the nondeterministic
    # settings have no NME row)
    assert r["paper_choice"]["setting"] == "tf32+lean+cuda_graph" and r["paper_choice"]["images_per_s"] == 1200.0
    assert r["nme_vs_fp32"]["tf32+lean+cuda_graph"] == {"mean": 0.15, "minus_fp32": 0.0, "within_fp32_range": True}
    assert r["workers_needed"]["bf16+compile"] == 1  # 600 images/s from workers of 1,000
    assert r["paper_fit_images_per_s"]["images_per_s"] == 500.0
    # each step form at each batch its own item, tf32 and bf16; the plain fp32 step under step_ceiling
    assert sorted(r["step_forms"]) == ["bf16", "tf32"] and sorted(r["step_forms"]["bf16"]) == sorted(g.STEP_FORMS)
    assert r["step_forms"]["tf32"]["lean+cuda_graph"]["8"] == {**g.rates([1600.0]), "form": "lean+cuda_graph"}
    assert r["step_forms"]["bf16"]["lean"]["4"]["images_per_s"] == 400.0
    assert sorted(r["step_ceiling_images_per_s"]) == ["bf16+compile", "fp32"]
    assert r["bf16_fit_with_shares"] == {"graph": "captured"}


def test_the_precision_table_alone_has_rows_for_the_lean_graph_step(paper, monkeypatch):
    """`--only-precision`: every precision, the lean CUDA-graph step of tf32 and bf16 (the paper profile's step) and
    compiled bf16, the choice made on an earlier run's images/s."""
    nmes = {"fp32": 0.2, "tf32": 0.21, "bf16": 0.3, "tf32+lean+cuda_graph": 0.19, "bf16+lean+cuda_graph": 0.205,
            "bf16+compile": 0.5}

    def nme_row(self, precision, compiled, graph=False):
        name = g.setting_name(precision, compiled, graph=graph)
        return {"nmes": [nmes[name] - 0.02, nmes[name] + 0.02], "mean": nmes[name]}

    monkeypatch.setattr(g.Check, "nme_row", nme_row)
    known = {"fp32": 400.0, "tf32": 800.0, "bf16": 900.0, "tf32+lean+cuda_graph": 2000.0,
             "bf16+lean+cuda_graph": 2600.0, "bf16+compile": 1000.0}
    r = g.measure(CPU, g.DRY, paper, 1000.0, only_precision=True, known_rates=known)
    assert sorted(r["precision_nme"]) == sorted(nmes)
    # fp32's seeds span 0.18 to 0.22: bf16 (0.3) and compiled bf16 are out, the lean graph step in bf16 the fastest
    assert r["paper_choice"]["setting"] == "bf16+lean+cuda_graph"
    assert r["paper_choice"]["candidates"] == ["bf16+lean+cuda_graph", "fp32", "tf32", "tf32+lean+cuda_graph"]
    assert r["nme_vs_fp32"]["bf16"] == {"mean": 0.3, "minus_fp32": pytest.approx(0.1), "within_fp32_range": False}
