"""What one KTL training step dispatches, counted on the CPU with a TorchDispatchMode: every aten op, those that launch
a kernel on a GPU (not views or bare allocations), the dtype casts, the backward's share, and every op that would
make the host wait for a GPU: a read of a device value on the host (`.item()`, `nonzero`, `linalg.inv`'s check) or
host data copied in (`torch.tensor`/`from_numpy` inside the step).

The step is the fit loop's own (`train.make_step`, `train.distill_inputs`, `loader.finish`): a DIKD task of two
RTMPose networks of one size on random crops, augmented on the device as the paper profile trains. The second step
is counted (the first allocates AdamW's state). The count does not depend on the input size or the batch, so a small
input gives RTMPose-l's count in seconds.

    python -m thermbench.mlcmkd.step_audit [--arch l] [--out metrics/step_ops.json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import platform

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from thermbench.core.io import write_json
from thermbench.core.numerics import numerics
from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.augment import AugmentConfig, flip_index
from thermbench.mlcmkd.loader import StepPlan, finish, make_batch
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.train import FitConfig, PlateauSchedule, distill_inputs, make_step, step_layout
from thermbench.models.rtmpose import build_rtmpose

ALLOCATIONS = frozenset({"empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided"})
HOST_DATA = frozenset({"lift_fresh", "lift_fresh_copy"})  # a tensor made from host numbers: a copy to the device
HOST_CHECKS = frozenset({"_linalg_check_errors"})  # reads an info tensor on the host
PAPER_AUGMENT = AugmentConfig(rotate_deg=30.0, scale=0.25, shift=0.1, flip_prob=0.5)


def host_wait(func, args: tuple) -> bool:
    """Whether aten op `func` on `args` makes the host wait for the device: its output depends on device values read
    on the host (`.item()`, `nonzero`, indexing by a boolean mask), it checks a result on the host, or it brings host
    data in."""
    name = func.overloadpacket.__name__
    if name in HOST_DATA or name in HOST_CHECKS or torch.Tag.data_dependent_output in func.tags:
        return True
    if name.startswith("index"):  # tagged dynamic-shape for its boolean-mask form only; integer indices are static
        indices = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else ()
        return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices)
    return torch.Tag.dynamic_output_shape in func.tags


class StepOps(TorchDispatchMode):
    """Counts the aten ops dispatched within it: `ops` by name, `backward` those run by autograd's engine,
    `host_waits` the names of the ops that would make the host wait (`host_wait`)."""

    def __init__(self):
        super().__init__()
        self.ops: collections.Counter[str] = collections.Counter()
        self.kernels = self.backward = self.casts = 0
        self.host_waits: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.ops[name] += 1
        self.kernels += not (func.is_view or name in ALLOCATIONS or name == "detach")
        self.backward += torch._C._current_autograd_node() is not None
        self.casts += name == "_to_copy"
        if host_wait(func, args):
            self.host_waits.append(name)
        return func(*args, **(kwargs or {}))

    def summary(self) -> dict:
        return {"ops": sum(self.ops.values()), "kernels": self.kernels, "backward": self.backward, "casts": self.casts,
                "host_waits": sorted(self.host_waits)}


def random_pairs(n: int, size: int, seed: int) -> Split:
    """Random thermal crops with random RGB twins and keypoints: what a step costs does not depend on the pixels."""
    rng = np.random.default_rng(seed)
    return Split(images=rng.integers(0, 256, (n, size, size), dtype=np.uint8),
                 paired=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                 kpts=rng.uniform(size * 0.2, size * 0.8, (n, 68, 2)).astype(np.float32),
                 visible=np.ones((n, 68), np.float32), scale=np.ones((n, 2), np.float32))


def audit_ktl_step(arch: str = "l", precision: str = "fp32", lean: bool = False, graph_form: bool = False,
                   input_px: int = 64, batch: int = 2, seed: int = 0) -> dict:
    """`StepOps.summary` of one KTL (DIKD) step of RTMPose-`arch` on the CPU: the input path (warps and targets on the
    device), the task's forward, backward, clipping, AdamW and the lr schedule, under `precision`; `lean` as
    `FitConfig.lean_step`; `graph_form` the step as a CUDA graph records it (gamma and the lr device tensors, AdamW
    capturable, autocast without its cache), run eagerly."""
    device = torch.device("cpu")
    torch.manual_seed(seed)
    student, teacher = (build_rtmpose(arch, input_size=(input_px, input_px)) for _ in range(2))
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True))
    cfg = FitConfig(epochs=1, batch_size=batch, seed=seed, precision=precision, lean_step=lean, cuda_graph=graph_form,
                    augment=PAPER_AUGMENT, augment_on_device=True, deterministic=True, progress=False)
    crops = random_pairs(2 * batch, input_px, seed)
    plan = StepPlan(len(crops), batch, seed, cfg.augment, (input_px, input_px))
    inputs, flips = distill_inputs(device, True, cfg), flip_index(68)
    lean_step = task.lean_step(torch.bfloat16 if precision == "bf16" else torch.float32)
    with lean_step if lean else contextlib.nullcontext(), numerics(precision, True, device):
        step_layout(task, device)  # the CPU's: a task built for this audit
        step, scheduler = make_step(task, task, cfg, device, 1, len(plan), PlateauSchedule(cfg), graph_form)
        for counted in (False, True):
            index, draws = next(iter(plan))
            batch_ = make_batch(crops, index, flips, student.cfg.input_size, draws, on_device=True)
            mode = StepOps()
            with mode if counted else contextlib.nullcontext():
                args, kwargs = inputs(finish(batch_, device, student.cfg.input_size), 1)
                if graph_form:
                    step.eager(*step.device_numbers(args, kwargs))
                else:
                    step(args, kwargs)
                scheduler.step()
    return mode.summary()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="l", choices=["t", "s", "m", "l", "x"])
    parser.add_argument("--out", default="metrics/step_ops.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = {}
    for precision in ("fp32", "bf16"):
        forms = (("plain", {}), ("lean", {"lean": True}), ("lean_graph", {"lean": True, "graph_form": True}))
        for form, flags in forms:
            rows.setdefault(precision, {})[form] = audit_ktl_step(args.arch, precision, **flags)
            print(f"{precision} {form}: {rows[precision][form]['kernels']} kernels", flush=True)
    write_json(args.out, {"arch": args.arch, "task": "KTL DIKD, teacher and student RTMPose-" + args.arch,
                          "counted_on": f"CPU ({platform.machine()}), torch {torch.__version__}",
                          "steps": rows})


if __name__ == "__main__":
    main()
