"""How a torch run computes: precision (`fp32 | tf32 | bf16`), determinism, and the one-line error for an op that
has no deterministic kernel.

- fp32: strict float32; on CUDA TF32 is off for matmuls and cuDNN convolutions (torch leaves cuDNN's on by default).
- tf32: float32 tensors, TF32 tensor-core matmuls and convolutions on CUDA (on a CPU the same as fp32).
- bf16: autocast to bfloat16 with float32 master weights, as mmengine's AmpOptimWrapper(dtype='bfloat16'); bf16
  has float32's exponent range, so no loss scaling.

Deterministic mode sets `torch.use_deterministic_algorithms(True)`, cuDNN deterministic without benchmark, and
`CUBLAS_WORKSPACE_CONFIG=:4096:8` (cuBLAS reads it when it first allocates its workspace, so it is set here before
any CUDA work where possible); it leaves new memory unfilled (`fill_uninitialized_memory = False`: the NaN fill only
exposes reads of memory never written, which no op here makes, and costs a kernel per allocation). Otherwise, on
CUDA, cuDNN benchmarks its algorithms for each new shape (the training shapes are static). On a CPU none of this
changes a number of this project's ops.
"""

from __future__ import annotations

import contextlib
import os
import re

import torch

from thermbench.core.io import InputError

PRECISIONS = ("fp32", "tf32", "bf16")
CUBLAS_WORKSPACE = ":4096:8"
# torch's message: "<op> does not have a deterministic implementation, but you set 'torch.use_deterministic_..."
_NONDETERMINISTIC = re.compile(r"^\s*(\S+) does not have a deterministic implementation")


def check_precision(precision: str, where: str) -> None:
    if precision not in PRECISIONS:
        raise InputError(f"params.yaml: '{where}' must be one of {', '.join(PRECISIONS)}, not {precision!r}")


def check_device(name: str, where: str) -> torch.device:
    """A params device name -> the torch device it names; one line where torch names none (`gpu`)."""
    try:
        return torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"params.yaml: '{where}' must be a torch device (cpu, cuda, cuda:N, mps), not {name!r}") \
            from None


def autocast(precision: str, device: torch.device | str, cache: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` where `precision` is bf16, else nothing; `cache` False for a region captured as a
    CUDA graph (a cached weight cast would live outside the graph's memory)."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=cache)


def inference_autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """bf16 autocast for a frozen network's forward on a CUDA device; a CPU stays in float32 (its bf16 kernels are
    slower than float32 on CPUs without bf16 matrix units, and CPU results stay comparable across machines)."""
    device = torch.device(device)
    return autocast(precision if device.type == "cuda" else "fp32", device)


@contextlib.contextmanager
def numerics(precision: str, deterministic: bool, device: torch.device | str, where: str = "train.fit",
             benchmark: bool = True):
    """Set the process-wide flags of `precision` and `deterministic` for a run on `device` and restore them on exit
    (`benchmark` False keeps cuDNN's benchmarking off on CUDA, to measure what it brings); an op without a
    deterministic kernel raises one line (InputError) naming it and the params section `where`."""
    device = torch.device(device)
    fill = torch.utils.deterministic
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
             fill.fill_uninitialized_memory)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.benchmark = benchmark and not deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
        torch.use_deterministic_algorithms(True)
        fill.fill_uninitialized_memory = False
    try:
        yield
    except RuntimeError as err:
        named = nondeterministic_error(err, where)
        if named is err:
            raise
        raise named from err
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
         torch.backends.cudnn.deterministic) = saved[:4]
        torch.use_deterministic_algorithms(saved[4])
        fill.fill_uninitialized_memory = saved[5]


def nondeterministic_error(err: RuntimeError, where: str) -> Exception:
    """torch's error for an op with no deterministic kernel -> one line naming the op; any other error as it was."""
    match = _NONDETERMINISTIC.search(str(err))
    if match is None:
        return err
    return InputError(f"{where}.deterministic: {match.group(1)} has no deterministic implementation on this device "
                      "(set deterministic: false to run it)")
