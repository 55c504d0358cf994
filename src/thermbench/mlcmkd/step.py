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
  autocast without its weight-cast cache (a cached cast would be an allocation outside the graph's pool).
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
        return f"train.fit.cuda_graph: the device is {device.type}, not CUDA; the eager step runs"
    if world_size > 1:
        return (f"train.fit.cuda_graph: {world_size} processes (DDP's gradient all-reduce is not captured here); "
                "the eager step runs")
    return None


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
    it cannot be). `weights` (`LowPrecisionWeights`) and `counts` (`BatchNormCounts`), where given, take part in
    each step."""

    def __init__(self, runner: nn.Module, optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
                 precision: str, device: torch.device, clip: float | None, kp_scale: float, graph: bool = False,
                 weights: LowPrecisionWeights | None = None, counts: BatchNormCounts | None = None):
        self.runner, self.optimizer, self.params = runner, optimizer, params
        self.weights, self.counts = weights, counts
        self.precision, self.device, self.kp_scale = precision, device, kp_scale
        self.clip = math.inf if clip is None else clip
        self.graph_wanted, self.graph = graph, None
        self.names: list[str] | None = None
        self.steps = 0
        self.static_in: list | None = None
        self.static_out: tuple[torch.Tensor, torch.Tensor] | None = None

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
            return self.eager(args, kwargs)
        if self.graph is None and self.steps <= WARMUP_STEPS:
            return self._warm_up(args, kwargs)
        leaves, spec = tree_flatten((args, kwargs))
        if self.graph is None:
            try:
                self._capture(leaves, spec)
            except RuntimeError as err:
                reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
                print(f"train.fit.cuda_graph: capture failed ({reason}); the eager step runs", file=sys.stderr)
                self.graph_wanted = False
                return self.eager(args, kwargs)
        for static, leaf in zip(self.static_in, leaves):
            if isinstance(leaf, torch.Tensor):
                static.copy_(leaf, non_blocking=True)
            else:
                static.fill_(leaf)
        self.graph.replay()
        return self.static_out[0].clone(), self.static_out[1].clone()

    def _warm_up(self, args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            out = self.eager(*self.device_numbers(args, kwargs))
        torch.cuda.current_stream(self.device).wait_stream(stream)
        return out

    def device_numbers(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Python numbers of the inputs as device tensors, as the graph will see them (gamma: the same code path)."""
        leaves, spec = tree_flatten((args, kwargs))
        return tree_unflatten([leaf if isinstance(leaf, torch.Tensor) else
                               torch.full((), float(leaf), device=self.device) for leaf in leaves], spec)

    def _capture(self, leaves: list, spec) -> None:
        self.static_in = [leaf.clone() if isinstance(leaf, torch.Tensor) else
                          torch.full((), float(leaf), device=self.device) for leaf in leaves]
        args, kwargs = tree_unflatten(self.static_in, spec)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            self.static_out = self.eager(args, kwargs)
        self.graph = graph
        print(f"train.fit.cuda_graph: the step is captured after {WARMUP_STEPS} eager steps", file=sys.stderr)
