"""`step.CudaCalls` on the CPU, held to a CUDA graph's contract, so that a step which breaks the contract fails a test:

- capture records the aten ops the step dispatches and runs none of them: every tensor that existed before capture
  keeps its value, and a tensor capture allocated holds NaN until a replay fills it;
- replay runs only the recorded ops, on the recorded tensors, never the Python step: its results land in the tensors
  capture allocated, as a graph writes into its private pool;
- streams are names, and `log` says which stream each run of ops went to and which stream waited for which;
- `cache_at_capture`: whether autocast's weight-cast cache was on each time the step's forward ran in capture.

Failures, `fail`: ("capture", 1) capture's end raises; ("replay", n) the n-th replay raises; ("op", n, error) the
n-th op of capture raises `error`. A `torch.AcceleratorError` there is a failed launch: as on a GPU it invalidates the
capture, so each later op of the capture and its end raise too, and the end leaves the capture stream current (as
`torch.cuda.graph`'s exit does when its `capture_end` raises). Any other error is the step's Python code's and leaves
the capture as it was."""

import contextlib
import math

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils._pytree import tree_flatten

INVALIDATED = "CUDA error: operation failed due to a previous error during capture"


def _storages(tensors) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in tensors if isinstance(t, torch.Tensor)}


class FakeStream:
    def __init__(self, name: str, cuda: "FakeCuda"):
        self.name, self.cuda = name, cuda

    def wait_stream(self, other: "FakeStream") -> None:
        self.cuda.log.append(f"{self.name} waits for {other.name}")


class StreamWork(TorchDispatchMode):
    """Logs the stream that each run of aten ops went to ("ops on <stream>", consecutive ops as one entry)."""

    def __init__(self, cuda: "FakeCuda"):
        super().__init__()
        self.cuda = cuda

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        entry, log = f"ops on {self.cuda.stream.name}", self.cuda.log
        if not log or log[-1] != entry:
            log.append(entry)
        return func(*args, **(kwargs or {}))


class Capture(TorchDispatchMode):
    """Records every aten op into `graph.ops` with the tensors it read and returned; keeps the values of the
    tensors from before capture that an op reads, for `undo`."""

    def __init__(self, graph: "FakeGraph", cuda: "FakeCuda"):
        super().__init__()
        self.graph, self.cuda = graph, cuda
        self.allocated: list[torch.Tensor] = []
        self.fresh: set[int] = set()
        self.before: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.cuda.broken:
            raise torch.AcceleratorError(INVALIDATED)
        self.n += 1
        if self.cuda.fail is not None and self.cuda.fail[:2] == ("op", self.n):
            error = self.cuda.fail[2]
            self.cuda.broken = isinstance(error, torch.AcceleratorError)
            raise error
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        with _disable_current_modes():  # every one, not only those the schema marks written: BatchNorm's running
            for t in tensors:           # statistics are not
                if t.untyped_storage().data_ptr() not in self.fresh and id(t) not in self.before:
                    self.before[id(t)] = (t, t.detach().clone())
        result = func(*args, **kwargs)
        outs = tree_flatten(result)[0]
        inputs = _storages(tensors)
        for out in outs:  # a view or an in-place op's result shares an input's storage: no allocation
            if isinstance(out, torch.Tensor) and out.untyped_storage().data_ptr() not in inputs:
                self.fresh.add(out.untyped_storage().data_ptr())
                self.allocated.append(out)
        self.graph.ops.append((func, args, kwargs, outs))
        return result

    @torch.no_grad()
    def undo(self) -> None:
        """Capture ran nothing: the tensors from before get their values back (the last written first, so that of
        two views of one tensor the first value wins), the allocated ones hold NaN."""
        with _disable_current_modes():
            for t, value in reversed(self.before.values()):
                t.copy_(value)
            for t in self.allocated:
                if t.is_floating_point():
                    t.fill_(math.nan)


class FakeGraph:
    def __init__(self, cuda: "FakeCuda"):
        self.cuda = cuda
        self.ops: list[tuple] = []

    @torch.no_grad()
    def replay(self) -> None:
        cuda = self.cuda
        cuda.replays += 1
        if cuda.fail == ("replay", cuda.replays):
            raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")
        cuda.log.append("replay")
        for func, args, kwargs, outs in self.ops:
            for out, got in zip(outs, tree_flatten(func(*args, **kwargs))[0]):
                if isinstance(out, torch.Tensor) and _storages([got]) != _storages([out]):
                    out.copy_(got)


class FakeCuda:
    """`step.CudaCalls` on the CPU (the module's docstring); `task`, the step's runner, whose forward capture
    watches for autocast's cache; `watching()` logs the stream of the ops run within it."""

    def __init__(self, task: torch.nn.Module, fail: tuple | None = None):
        self.task, self.fail = task, fail
        self.log: list[str] = []
        self.replays, self.broken = 0, False
        self.stream = FakeStream("default", self)
        self.cache_at_capture: list[bool] = []

    def watching(self) -> TorchDispatchMode:
        return StreamWork(self)

    def graph(self) -> FakeGraph:
        return FakeGraph(self)

    @contextlib.contextmanager
    def capturing(self, graph: FakeGraph):
        self.log.append("capture")
        normal, self.stream = self.stream, FakeStream("capture", self)
        hook = self.task.register_forward_pre_hook(
            lambda *_: self.cache_at_capture.append(torch.is_autocast_cache_enabled()))
        mode = Capture(graph, self)
        try:
            with mode:
                yield
        except BaseException:
            mode.undo()
            if self.broken:
                raise RuntimeError(INVALIDATED)  # its context: the error that broke the capture
            self.stream = normal
            raise
        finally:
            hook.remove()
        mode.undo()
        if self.broken or self.fail == ("capture", 1):
            raise RuntimeError("operation not permitted when stream is capturing")
        self.stream = normal

    def side_stream(self, device) -> FakeStream:
        return FakeStream("side", self)

    def current_stream(self, device) -> FakeStream:
        return self.stream

    @contextlib.contextmanager
    def on_stream(self, stream: FakeStream):
        previous, self.stream = self.stream, stream
        try:
            yield
        finally:
            self.stream = previous

    def set_stream(self, stream: FakeStream) -> None:
        self.stream = stream

    def synchronize(self, device) -> None:
        self.log.append("sync")
