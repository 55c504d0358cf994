"""One optimisation step of the MLCM-KD fit loop (`thermbench.mlcmkd.train`): the task's loss terms under the
precision's autocast, backward, gradient clipping and AdamW, with nothing read back to the host, so a GPU never waits
for the Python side; on CUDA, optionally captured once as a CUDA graph and replayed at every later step.

A step launches over a thousand small kernels (RTMPose-l, KTL; `step_audit` counts them): at the paper's batch of 64
their launch cost, not their arithmetic, decides an H100's speed. A CUDA graph replays all of them with one launch.
What capture needs:
- static shapes and inputs: every batch is full (`loader.StepPlan`), and each step's inputs are copied into the
  tensors the graph was recorded with; Python numbers of the inputs (gamma) become device tensors filled per step;
- the lr a device tensor, which the schedule fills in place, and AdamW `capturable` (its step counts on the device);
- warm-up steps on a side stream before capture (cuDNN's algorithm choice, AdamW's state, the allocator), and
  autocast without its weight-cast cache (a cached cast would be an allocation outside the graph's pool);
- capture in thread-local error mode: the data loader's pin-memory thread allocates pinned memory while the step
  is captured, which the default (global) mode forbids to every thread of the process.
A capture or replay that fails, whatever the error, leaves the eager step to run from that batch on, on the stream
the fit ran on before; `Step.graph_state` says which happened (captured | refused (why) | failed (why), the first
error of the chain), and the log says it once.
Pytorch's recipe: https://pytorch.org/docs/stable/notes/cuda.html#whole-network-capture
"""

from __future__ import annotations

import contextlib
import math
import sys

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from thermbench.core.numerics import autocast

WARMUP_STEPS = 3  # eager steps before capture, as PyTorch's whole-network example


def capture_refusal(cuda_graph: bool, device: torch.device, world_size: int) -> str | None:
    """Why a step asked to run as a CUDA graph cannot be captured here (one line), or None where it can (or was not
    asked to)."""
    if not cuda_graph:
        return None
    if device.type != "cuda":
        return f"the device is {device.type}, not CUDA"
    if world_size > 1:
        return f"{world_size} processes (DDP's gradient all-reduce is not captured here)"
    return None


class CudaCalls:
    """The CUDA calls of a captured step, in one object so that a test stands in for them on a CPU."""

    def graph(self):
        return torch.cuda.CUDAGraph()

    def capturing(self, graph) -> contextlib.AbstractContextManager:
        return torch.cuda.graph(graph, capture_error_mode="thread_local")

    def side_stream(self, device: torch.device):
        return torch.cuda.Stream(device)

    def current_stream(self, device: torch.device):
        return torch.cuda.current_stream(device)

    def on_stream(self, stream) -> contextlib.AbstractContextManager:
        return torch.cuda.stream(stream)

    def set_stream(self, stream) -> None:
        torch.cuda.set_stream(stream)

    def synchronize(self, device: torch.device) -> None:
        torch.cuda.synchronize(device)


def first_error(err: BaseException) -> BaseException:
    """The error that started `err`'s chain: a capture that an error breaks ends in `torch.cuda.graph`'s exit, whose
    `capture_end` raises an error of its own (the capture invalidated) with the first one as its context."""
    seen = {id(err)}
    while err.__context__ is not None and id(err.__context__) not in seen:
        err = err.__context__
        seen.add(id(err))
    return err


def make_optimizer(groups: list[dict], lr: float, graph: bool, device: torch.device) -> torch.optim.AdamW:
    """Fused AdamW over `groups`; for a graph, its lr a device tensor and its state capturable."""
    if graph:
        return torch.optim.AdamW(groups, lr=torch.tensor(lr, device=device), fused=True, capturable=True)
    return torch.optim.AdamW(groups, lr=lr, fused=True)


class LowPrecisionWeights:
    """The trainable weights autocast casts at each use (those of convolutions and linear layers), held as `dtype`
    copies that the step computes with while the optimizer keeps the float32 weights: the forward casts no weight and
    the backward casts no weight's gradient back (two kernels a weight a step under autocast); instead one foreach
    copy brings the gradients to the float32 weights and one refreshes the copies after the optimizer's step. The
    numbers are autocast's: the same rounding of each weight, the same `dtype` gradient, widened exactly."""

    def __init__(self, module: nn.Module, params: list[nn.Parameter], dtype: torch.dtype):
        trainable = {id(p) for p in params}
        self.slots = [(m, name, p, p.detach().to(dtype).requires_grad_())
                      for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
                      for name, p in m.named_parameters(recurse=False) if id(p) in trainable]

    @contextlib.contextmanager
    def swapped(self):
        """Within the block, the modules hold the copies (and their gradients are cleared)."""
        for m, name, _, copy in self.slots:
            copy.grad = None
            m._parameters[name] = copy
        try:
            yield
        finally:
            for m, name, weight, _ in self.slots:
                m._parameters[name] = weight

    def gradients_to_weights(self) -> None:
        used = [(weight, copy.grad) for _, _, weight, copy in self.slots if copy.grad is not None]
        for weight, grad in used:
            weight.grad = torch.empty_like(weight)
        torch._foreach_copy_([w.grad for w, _ in used], [g for _, g in used])

    @torch.no_grad()
    def refresh(self) -> None:
        torch._foreach_copy_([s[3] for s in self.slots], [s[2] for s in self.slots])


class BatchNormCounts:
    """The `num_batches_tracked` counters of `module`'s training BatchNorm layers advanced by one foreach add a step,
    not by one add each layer: during the forward the layers hold none. Only layers with a momentum (their counter
    is a record, unused by their statistics)."""

    def __init__(self, module: nn.Module):
        self.module = module

    @contextlib.contextmanager
    def swapped(self):
        counted = [m for m in self.module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                   and m.training and m.momentum is not None and m.num_batches_tracked is not None]
        counters = [m.num_batches_tracked for m in counted]
        for m in counted:
            m._buffers["num_batches_tracked"] = None
        try:
            yield
        finally:
            for m, counter in zip(counted, counters):
                m._buffers["num_batches_tracked"] = counter
            if counters:
                torch._foreach_add_(counters, 1)


class Step:
    """`step(args, kwargs)` -> (loss terms stacked in `names` order, the gradient norm before clipping), both on the
    device. `runner(*args, kp_scale=..., **kwargs)` returns the task's terms ({"loss": total, "loss_<term>": ...});
    `clip` None is no clipping. `graph`: captured after `WARMUP_STEPS` eager steps (`capture_refusal` says where
    it cannot be), through `cuda` (`CudaCalls`). `weights` (`LowPrecisionWeights`) and `counts` (`BatchNormCounts`),
    where given, take part in each step."""

    def __init__(self, runner: nn.Module, optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
                 precision: str, device: torch.device, clip: float | None, kp_scale: float, graph: bool = False,
                 weights: LowPrecisionWeights | None = None, counts: BatchNormCounts | None = None,
                 cuda: CudaCalls | None = None):
        self.runner, self.optimizer, self.params = runner, optimizer, params
        self.weights, self.counts = weights, counts
        self.precision, self.device, self.kp_scale = precision, device, kp_scale
        self.clip = math.inf if clip is None else clip
        self.graph_asked, self.graph_wanted, self.graph = graph, graph, None
        self.cuda = cuda or CudaCalls()
        self.failure: str | None = None
        self.names: list[str] | None = None
        self.steps = 0
        self.static_in: list | None = None
        self.static_spec = None
        self.static_out: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def graph_state(self) -> str | None:
        """captured | failed (why) | refused (why), for a step asked to run as a graph; None for one that was not."""
        if self.graph is not None:
            return "captured"
        if self.failure is not None:
            return f"failed ({self.failure})"
        if self.graph_wanted:
            return f"refused (the fit ran {self.steps} steps; capture follows {WARMUP_STEPS} eager warm-up steps)"
        return None

    def eager(self, args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        with (self.weights.swapped() if self.weights else contextlib.nullcontext(),
              self.counts.swapped() if self.counts else contextlib.nullcontext()):
            with autocast(self.precision, self.device, cache=not self.graph_wanted):
                terms = self.runner(*args, kp_scale=self.kp_scale, **kwargs)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if self.weights:
            self.weights.gradients_to_weights()
        norm = nn.utils.clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        if self.weights:
            self.weights.refresh()
        if self.names is None:
            self.names = sorted(k for k in terms if k.startswith("loss"))
        return torch.stack([terms[k].detach() for k in self.names]), norm.detach()

    def __call__(self, args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        self.steps += 1
        if self.graph is None and not self.graph_wanted:
            return self.eager(*self.graph_form(args, kwargs))
        if self.graph is None and self.steps <= WARMUP_STEPS:
            return self._warm_up(args, kwargs)
        leaves, spec = tree_flatten((args, kwargs))
        stage = "replay"
        try:
            if self.graph is None:
                stage = "capture"
                self._capture(leaves, spec)
                stage = "first replay"
                out = self._replay(leaves)
                print(f"train.fit.cuda_graph: the step is captured after {WARMUP_STEPS} eager steps",
                      file=sys.stderr)
                return out
            return self._replay(leaves)
        except Exception as err:  # noqa: BLE001 - whatever breaks a graph, the eager step can still train
            return self._fall_back(stage, first_error(err), args, kwargs)

    def _fall_back(self, stage: str, err: Exception, args: tuple, kwargs: dict):
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        self.failure = f"{stage}: {reason}"
        self.graph, self.graph_wanted = None, False
        self.static_in = self.static_out = None  # the graph's memory goes with them
        print(f"train.fit.cuda_graph: {stage} failed ({reason}); the eager step runs", file=sys.stderr)
        return self.eager(*self.graph_form(args, kwargs))

    def _warm_up(self, args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        side, current = self.cuda.side_stream(self.device), self.cuda.current_stream(self.device)
        side.wait_stream(current)
        with self.cuda.on_stream(side):
            out = self.eager(*self.graph_form(args, kwargs))
        current.wait_stream(side)
        return out

    def device_numbers(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Python numbers of the inputs as device tensors, as the graph will see them (gamma: the same code path)."""
        leaves, spec = tree_flatten((args, kwargs))
        return tree_unflatten([leaf if isinstance(leaf, torch.Tensor) else
                               torch.full((), float(leaf), device=self.device) for leaf in leaves], spec)

    def graph_form(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The inputs of an eager step: as the graph sees them (`device_numbers`) in a step asked for a graph, warm-up
        and fallback alike, so that one run computes one way; as given otherwise."""
        return self.device_numbers(args, kwargs) if self.graph_asked else (args, kwargs)

    def _capture(self, leaves: list, spec) -> None:
        self.static_in = [leaf.clone() if isinstance(leaf, torch.Tensor) else
                          torch.full((), float(leaf), device=self.device) for leaf in leaves]
        self.static_spec = spec
        args, kwargs = tree_unflatten(self.static_in, spec)
        graph = self.cuda.graph()
        self.optimizer.zero_grad(set_to_none=True)
        self.cuda.synchronize(self.device)  # the warm-up's kernels done: an error of theirs is not the capture's
        normal = self.cuda.current_stream(self.device)
        try:
            with self.cuda.capturing(graph):
                self.static_out = self.eager(args, kwargs)
        except BaseException:
            self.cuda.set_stream(normal)  # a capture end that raises leaves the capture's stream current
            raise
        self.graph = graph

    def _replay(self, leaves: list) -> tuple[torch.Tensor, torch.Tensor]:
        """The graph run on `leaves` (copied into the captured inputs)."""
        for static, leaf in zip(self.static_in, leaves):
            if isinstance(leaf, torch.Tensor):
                static.copy_(leaf, non_blocking=True)
            else:
                static.fill_(leaf)
        self.graph.replay()
        return self.static_out[0].clone(), self.static_out[1].clone()
