"""The training step as a GPU runs it, checked on the CPU: no op that makes the host wait, fewer kernels in its lean
form, the same function after the teacher's BatchNorm is folded, and the CUDA-graph form of the step (its capture
path driven through `fake_cuda`, whose graph replays only the ops it captured)."""

import numpy as np
import pytest
import torch

from fake_cuda import FakeCuda
from split_builders import dot_split
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.run_outputs import training_summary
from thermbench.mlcmkd.step import (
    WARMUP_STEPS,
    BatchNormCounts,
    CudaCalls,
    LowPrecisionWeights,
    Step,
    capture_refusal,
    first_error,
    make_optimizer,
)
from thermbench.mlcmkd.step_audit import StepOps, audit_ktl_step
from thermbench.mlcmkd.train import FitConfig, fit_ktl
from thermbench.models import simcc
from thermbench.models.rtmpose import build_rtmpose, fold_batchnorm, to_input

SIZE = 64
DIKD = DistillConfig(fd=True, ld=True, fi=True, ri=True)


def _model(seed: int, arch: str = "t", size: int = SIZE):
    torch.manual_seed(seed)
    return build_rtmpose(arch, input_size=(size, size))


def test_the_audit_sees_every_kind_of_host_wait():
    x = torch.arange(6.0)
    with StepOps() as mode:
        x[torch.tensor([1, 2])]         # host numbers copied in: lift_fresh
        x[x > 2]                        # a boolean mask: its size is read on the host
        float(x.sum())                  # .item()
        torch.linalg.inv(torch.eye(2))  # checks its result on the host
        torch.linalg.inv_ex(torch.eye(2))
        x[torch.arange(2)]              # integer indices: no wait
    assert mode.summary()["host_waits"] == ["_linalg_check_errors", "_local_scalar_dense", "index", "lift_fresh"]


@pytest.mark.parametrize("precision, lean, graph_form", [("fp32", False, False), ("bf16", True, True)])
def test_a_ktl_step_never_makes_the_host_wait(precision, lean, graph_form):
    """Input path (warps and targets on the device), forward, backward, clipping, AdamW and the schedule."""
    ops = audit_ktl_step("t", precision, lean=lean, graph_form=graph_form)
    assert ops["host_waits"] == []
    assert ops["backward"] > 0 and ops["kernels"] > 200


def test_the_lean_step_launches_fewer_kernels_and_casts():
    plain, lean = audit_ktl_step("t", "bf16"), audit_ktl_step("t", "bf16", lean=True)
    assert lean["kernels"] <= plain["kernels"] * 2 / 3 and lean["casts"] < plain["casts"] / 3
    # fp32: the teacher's 75 ConvModules (RTMPose-t: 3 stem + 4 down + 4 CSP x 3 + blocks + SPP 2) lose their BN
    fp32_plain, fp32_lean = audit_ktl_step("t", "fp32"), audit_ktl_step("t", "fp32", lean=True)
    assert fp32_plain["ops"] - fp32_lean["ops"] > 20


def test_folding_batchnorm_keeps_the_eval_function():
    model = _model(0)
    for m in model.modules():  # trained-looking statistics, not the identity of a fresh BN
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        before = model(x)
        folded = fold_batchnorm(model)
        after = folded(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_lean_step_is_a_folded_cast_copy_and_the_task_gets_its_own_back():
    student, teacher = _model(0), _model(1)
    task = DistillTask(student, teacher, DIKD)
    with task.lean_step(torch.bfloat16):
        assert task.teacher is not teacher and task.lean
        assert {p.dtype for p in task.teacher.parameters()} == {torch.bfloat16}
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in task.teacher.modules())
        assert not any(p.requires_grad for p in task.teacher.parameters())
    assert task.teacher is teacher and not task.lean
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in teacher.modules())


@pytest.mark.parametrize("cfg", [DIKD, DistillConfig(fd=True, ld=True), DistillConfig(fd=False, ld=True, ri=True),
                                 DistillConfig(fd=True, ld=True, fi=True, ri=True, dikd_mode="equations")])
def test_stacked_loss_terms_weigh_as_the_plain_sum(cfg):
    torch.manual_seed(0)
    student, teacher = _model(0), _model(1, "s")  # unequal widths: the aligners take part
    task = DistillTask(student, teacher, cfg).train()
    x, targets = _inputs()
    plain = task(x, x, targets, gamma=0.4, kp_scale=2.0)
    task.lean = True
    stacked = task(x, x, targets, gamma=0.4, kp_scale=2.0)
    assert list(stacked["weighted"]) == list(plain["weighted"])
    for name in plain["weighted"]:
        torch.testing.assert_close(stacked["weighted"][name], plain["weighted"][name])
    torch.testing.assert_close(stacked["loss"], plain["loss"])
    expected = 0.1 * 2.0 * plain["loss_kp"] + 0.4 * 1e-3 * sum(v for k, v in plain.items()
                                                               if k.startswith("loss_") and k != "loss_kp")
    torch.testing.assert_close(stacked["loss"], expected)


def _inputs(size: int = SIZE):
    split = dot_split(2, 0, size)
    x = to_input(split.images)
    tx, ty, w = (torch.from_numpy(a) for a in simcc.encode(split.kpts, split.visible, (size, size)))
    return x, {"target_x": tx, "target_y": ty, "weight": w}


def _step_pair():
    """Two copies of one KTL task, a plain step and the graph form's step (run eagerly on the CPU)."""
    tasks = []
    for _ in range(2):
        student, teacher = _model(0), _model(1)
        tasks.append(DistillTask(student, teacher, DIKD).train())
    steps = []
    for task, graph in zip(tasks, (False, True)):
        params = list(task.trainable_parameters())
        optimizer = make_optimizer([{"params": params}], 1e-3, graph, torch.device("cpu"))
        steps.append(Step(task, optimizer, params, "fp32", torch.device("cpu"), 1.0, 1.0, graph))
    return tasks, steps


def test_the_graph_form_step_trains_as_the_plain_step():
    """gamma and the lr as device tensors, AdamW capturable: the same training, up to float rounding."""
    (plain_task, graph_task), (plain, graph) = _step_pair()
    x, targets = _inputs()
    args, kwargs = (x, x, targets), {"gamma": 0.5}
    scheduler = torch.optim.lr_scheduler.LambdaLR(graph.optimizer, lambda i: 0.5 ** i)
    torch.optim.lr_scheduler.LambdaLR(plain.optimizer, lambda i: 0.5 ** i)
    for _ in range(2):
        losses_plain, norm_plain = plain(args, kwargs)
        graph_args, graph_kwargs = graph.device_numbers(args, kwargs)
        assert isinstance(graph_kwargs["gamma"], torch.Tensor)
        losses_graph, norm_graph = graph.eager(graph_args, graph_kwargs)
        scheduler.step()
        plain.optimizer.param_groups[0]["lr"] = float(graph.optimizer.param_groups[0]["lr"])
        torch.testing.assert_close(losses_graph, losses_plain)
        torch.testing.assert_close(norm_graph, norm_plain)
    assert isinstance(graph.optimizer.param_groups[0]["lr"], torch.Tensor)
    assert graph.names == plain.names == ["loss", "loss_fi", "loss_fm", "loss_kp", "loss_lg", "loss_ri"]
    for a, b in zip(plain_task.student.parameters(), graph_task.student.parameters()):
        # a tensor lr rounds otherwise in fused AdamW, and Adam turns a rounding of a near-zero gradient into up to
        # lr (1e-3) a step
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


# Where the CPU computes bf16 natively (AVX512-BF16, AMX), oneDNN's bf16 kernels fix no reduction order a user can
# rely on, so two bf16 paths agree within bf16's rounding, not bit for bit. Its AVX512-BF16 weight-gradient kernel of
# the head's 7x7 convolution (384 -> 68 channels) returns different, at times infinite, values from run to run on a
# 2 x 2 feature map (64 px crops; seen with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16, oneDNN 3.12), not on 4 x 4: the bf16
# steps train on 128 px crops.
BF16_SIZE = 128
LR, STEPS = 1e-3, 2


def test_bf16_weight_copies_and_batched_bn_counts_train_as_autocast_does():
    """Two bf16 steps of one lean KTL task, with the student's weights cast by autocast at each use and its BN
    counters advanced by each layer, or with `LowPrecisionWeights` and `BatchNormCounts`: the same losses, dtypes and
    counters, and weights apart by no more than bf16's rounding lets AdamW move them."""
    x, targets = _inputs(BF16_SIZE)
    states, losses = [], []
    for lean_parts in (False, True):
        student, teacher = _model(0, size=BF16_SIZE), _model(1, size=BF16_SIZE)
        task = DistillTask(student, teacher, DIKD).train()
        with task.lean_step(torch.bfloat16):
            params = list(task.trainable_parameters())
            optimizer = make_optimizer([{"params": params}], LR, False, torch.device("cpu"))
            weights = LowPrecisionWeights(task, params, torch.bfloat16) if lean_parts else None
            step = Step(task, optimizer, params, "bf16", torch.device("cpu"), 1.0, 1.0, False, weights,
                        BatchNormCounts(task) if lean_parts else None)
            if lean_parts:  # every conv and linear layer of the student, none of the frozen teacher
                layers = [m for m in student.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
                assert len(weights.slots) == sum(len(list(m.parameters())) for m in layers)
            losses.append([step((x, x, targets), {"gamma": 0.5}) for _ in range(STEPS)])
        assert {p.dtype for p in student.parameters()} == {torch.float32}  # the float32 weights are back
        states.append(student.state_dict())
    assert states[0]["backbone.stem.0.bn.num_batches_tracked"] == STEPS
    # the first step's losses: the same forward from the same weights, each term rounded to bf16 at worst (2^-8)
    torch.testing.assert_close(losses[1][0][0], losses[0][0][0], rtol=2 ** -8, atol=0.0)
    for (terms_a, norm_a), (terms_b, norm_b) in zip(*losses):
        assert torch.isfinite(terms_a).all() and torch.isfinite(norm_a) and torch.isfinite(norm_b)
        assert terms_a.dtype == terms_b.dtype and norm_a.dtype == norm_b.dtype
    # AdamW's first steps move each weight by about lr whatever its gradient's size (m / sqrt(v) ~ sign(g)): where a
    # bf16 rounding (relative 2^-8) flips the sign of a near-zero gradient, a weight moves the other way, 2 lr a step
    # at most; elsewhere the moves differ by the rounding, 2^-8 lr a step, which most weights must keep to.
    for name, value in states[0].items():
        other = states[1][name]
        assert other.dtype == value.dtype, name
        if not value.is_floating_point():
            assert torch.equal(value, other), name
            continue
        gap = (value - other).abs()
        assert gap.max() <= 2 * LR * STEPS * (1 + 2 ** -8), name
        assert (gap > 2 ** -8 * LR * STEPS + 1e-6 * value.abs()).float().mean() <= 0.01, name


def test_capture_is_refused_in_one_line_where_it_cannot_run():
    assert capture_refusal(False, torch.device("cpu"), 1) is None
    assert capture_refusal(True, torch.device("cuda"), 1) is None
    cpu = capture_refusal(True, torch.device("cpu"), 1)
    assert cpu == "the device is cpu, not CUDA"
    assert "2 processes" in capture_refusal(True, torch.device("cuda"), 2)


def test_the_cuda_calls_are_torchs_and_capture_runs_in_thread_local_error_mode(monkeypatch):
    """The loader's pin-memory thread allocates while a step is captured: only a thread-local capture allows it."""
    seen = []
    names = ("CUDAGraph", "graph", "Stream", "current_stream", "stream", "set_stream", "synchronize")
    for name in names:
        monkeypatch.setattr(torch.cuda, name, lambda *a, _name=name, **kw: seen.append((_name, a, kw)) or _name)
    calls, device, graph = CudaCalls(), torch.device("cuda"), object()
    assert calls.graph() == "CUDAGraph" and calls.capturing(graph) == "graph"
    assert calls.side_stream(device) == "Stream" and calls.current_stream(device) == "current_stream"
    assert calls.on_stream("s") == "stream"
    calls.set_stream("s")
    calls.synchronize(device)
    assert seen[1] == ("graph", (graph,), {"capture_error_mode": "thread_local"})
    assert seen[5] == ("set_stream", ("s",), {})
    assert [s[0] for s in seen] == list(names)


def _graph_and_reference(fail=None):
    """The same KTL task twice: a step asked for a graph, through `FakeCuda`, and a reference that runs every step
    eagerly as the graph form (device numbers, AdamW capturable), each with its own lr schedule and, as the lean
    step, its BatchNorm counters advanced by one op."""
    steps = []
    for graph in (True, False):
        task = DistillTask(_model(0), _model(1), DistillConfig(fd=True, ld=True, ri=True)).train()
        params = list(task.trainable_parameters())
        optimizer = make_optimizer([{"params": params}], 1e-3, True, torch.device("cpu"))
        step = Step(task, optimizer, params, "fp32", torch.device("cpu"), 1.0, 1.0, graph,
                    counts=BatchNormCounts(task), cuda=FakeCuda(task, fail) if graph else None)
        steps.append((step, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.9 ** i)))
    return steps


def _run_both(steps, n: int):
    """`n` steps on alternating batches and a changing gamma: the graph's inputs are copied in at each replay. Each
    step's results equal the reference's when returned and still at the end (a later replay must not change them);
    the graph step's ops are logged by stream."""
    batches = [_inputs(), (to_input(dot_split(2, 5, SIZE).images), _inputs()[1])]
    (graph, graph_lr), (reference, reference_lr) = steps
    results = []
    for i in range(n):
        x, targets = batches[i % 2]
        args, kwargs = (x, x, targets), {"gamma": 0.5 - 0.05 * i}
        with graph.cuda.watching():
            got = graph(args, kwargs)
        want = reference.eager(*reference.device_numbers(args, kwargs))
        for a, b in zip(got, want):
            assert torch.equal(a, b), i
        results.append((got, [w.clone() for w in want]))
        graph_lr.step()
        reference_lr.step()
    for i, (got, want) in enumerate(results):
        for a, b in zip(got, want):
            assert torch.equal(a, b), i
    for a, b in zip(graph.params, reference.params):
        assert torch.equal(a, b)
    for (name, a), b in zip(graph.runner.named_buffers(), reference.runner.buffers()):
        assert torch.equal(a, b), name


def test_the_captured_step_warms_up_captures_replays_and_trains_as_the_eager_step(capsys):
    steps = _graph_and_reference()
    _run_both(steps, WARMUP_STEPS + 3)
    step = steps[0][0]
    assert step.graph_state == "captured"
    # each warm-up step's work on a side stream that waits for the current one, the current one then waiting for
    # it; the graph's inputs made, then the capture after a synchronize, on its own stream; each replay's input copies
    # and work on the current stream
    warm_up = ["side waits for default", "ops on side", "default waits for side"]
    assert step.cuda.log == (warm_up * WARMUP_STEPS + ["ops on default", "sync", "capture", "ops on capture"]
                             + ["ops on default", "replay"] * 3 + ["ops on default"])
    # the step's forward captured once, autocast's weight-cast cache off (a cached cast outlives the graph's memory)
    assert step.cuda.cache_at_capture == [False]
    assert capsys.readouterr().err.count("train.fit.cuda_graph: the step is captured after 3 eager steps") == 1


@pytest.mark.parametrize("fail, state", [
    (("capture", 1), "failed (capture: operation not permitted when stream is capturing)"),
    (("replay", 1), "failed (first replay: CUDA error: an illegal memory access was encountered)"),
    (("replay", 2), "failed (replay: CUDA error: an illegal memory access was encountered)")])
def test_a_capture_or_replay_that_fails_leaves_the_eager_step_to_train(fail, state, capsys):
    steps = _graph_and_reference(fail)
    _run_both(steps, WARMUP_STEPS + 3)
    step = steps[0][0]
    assert step.graph_state == state and step.graph is None and not step.graph_wanted
    err = capsys.readouterr().err
    assert err.count("train.fit.cuda_graph:") == 1 + (fail[0] == "replay" and fail[1] > 1)
    assert err.count("; the eager step runs") == 1


@pytest.mark.parametrize("error", [torch.AcceleratorError("CUDA error: misaligned address"),
                                   ValueError("a shape the graph cannot take")])
def test_a_capture_broken_by_any_error_records_that_error_and_trains_on_the_normal_stream(error, capsys):
    """A failed launch invalidates the capture, so its end raises an error of its own (the fake's INVALIDATED, with
    the launch's as its context) and leaves the capture's stream current; an error of the step's Python code is no
    RuntimeError. Either way: the first error recorded, the eager steps after it on the stream of before."""
    steps = _graph_and_reference(("op", 5, error))
    _run_both(steps, WARMUP_STEPS + 3)
    step = steps[0][0]
    assert step.graph_state == f"failed (capture: {error})" and step.graph is None
    # the capture's ops, then the eager steps (the broken capture's and the two after it) on the default stream
    assert step.cuda.log[-3:] == ["capture", "ops on capture", "ops on default"]
    assert capsys.readouterr().err.count(f"train.fit.cuda_graph: capture failed ({error}); the eager step runs") == 1


def test_first_error_follows_the_context_chain_to_its_start():
    try:
        try:
            raise ValueError("first")
        except ValueError:
            raise RuntimeError("second")  # noqa: B904 - the chain an error raised while handling another leaves
    except RuntimeError as err:
        caught = err
    assert str(first_error(caught)) == "first" and first_error(ValueError("alone")).args == ("alone",)


def test_a_fit_shorter_than_the_warm_up_says_the_graph_never_ran():
    step = _graph_and_reference()[0][0]
    assert step.graph_state.startswith("refused (the fit ran 0 steps")
    assert Step(step.runner, step.optimizer, step.params, "fp32", torch.device("cpu"), 1.0, 1.0).graph_state is None


def test_a_fit_asked_for_a_cuda_graph_on_the_cpu_says_so_and_trains_as_without(capsys):
    data = {"train": dot_split(4, 0, SIZE, twin="same"), "val": dot_split(2, 1, SIZE)}
    cfg = FitConfig(epochs=1, batch_size=4, seed=0, optim=OptimConfig(lr=1e-4), grad_norm_steps=1, progress=False)
    weights = []
    for graph in (False, True):
        student, teacher = _model(0), _model(1)
        task = DistillTask(student, teacher, DIKD)
        history = fit_ktl(student, teacher, task, data, FitConfig(**{**cfg.__dict__, "cuda_graph": graph}))
        weights.append(student.state_dict())
        assert len(history["grad_norms"]) == 1
        # the history and the run's metrics record the graph only where one was asked for
        assert history.get("graph") == ("refused (the device is cpu, not CUDA)" if graph else None)
        assert training_summary(history).get("graph") == history.get("graph")
        assert ("graph" in training_summary(history)) == graph
    assert capsys.readouterr().err.count("train.fit.cuda_graph: the device is cpu, not CUDA; the eager step runs") == 1
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_a_lean_fit_trains_and_leaves_the_teacher_as_it_was():
    data = {"train": dot_split(4, 0, SIZE, twin="same"), "val": dot_split(2, 1, SIZE)}
    student, teacher = _model(0), _model(1)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    task = DistillTask(student, teacher, DIKD)
    cfg = FitConfig(epochs=1, batch_size=4, seed=0, lean_step=True, val_batch_size=1, progress=False)
    history = fit_ktl(student, teacher, task, data, cfg)
    assert np.isfinite(history["epochs"][0]["train_loss"]) and np.isfinite(history["best_val_nme"])
    assert task.teacher is teacher
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_a_bf16_paper_like_fit_runs_every_task_path_in_bf16(capsys):
    """The paper profile's fit settings, small: bf16, the lean step, a CUDA graph asked for (the CPU refuses it),
    gradient shares at the start and the end, gradient norms and validation: each path runs the lean task, whose
    teacher computes in bf16."""
    data = {"train": dot_split(4, 0, BF16_SIZE, twin="same"), "val": dot_split(2, 1, BF16_SIZE)}
    student, teacher = _model(0, size=BF16_SIZE), _model(1, size=BF16_SIZE)
    task = DistillTask(student, teacher, DIKD)
    cfg = FitConfig(epochs=1, batch_size=2, seed=0, precision="bf16", lean_step=True, cuda_graph=True,
                    share_batches=2, gamma_warmup=1, grad_norm_steps=2, val_batch_size=2, augment_on_device=True,
                    deterministic=True, progress=False)
    history = fit_ktl(student, teacher, task, data, cfg)
    shares = history["gradient_shares"]
    assert set(shares) == {"start", "end"}
    assert sorted(shares["start"]) == ["fi", "fm", "kp", "lg", "ri"]
    for when in ("start", "end"):  # gamma 1 (warm-up): every distillation term has a share
        assert sum(shares[when].values()) == pytest.approx(1.0) and all(v > 0 for v in shares[when].values())
    assert len(history["grad_norms"]) == 2 and np.isfinite(history["grad_norms"]).all()
    assert np.isfinite(history["best_val_nme"]) and np.isfinite(history["epochs"][0]["train_loss"])
    assert task.teacher is teacher and {p.dtype for p in student.parameters()} == {torch.float32}
    assert "the device is cpu, not CUDA" in capsys.readouterr().err
