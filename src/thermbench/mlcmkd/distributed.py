"""torch.distributed for MLCM-KD runs under torchrun (WORLD_SIZE > 1): joining the process group, rank queries,
wrapping a task for data-parallel training, and rank 0's word on shared decisions. Without torchrun every helper is
the one-process case, so the training loop needs no branch of its own."""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed process group, (0, 1) without one."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


def init_distributed(device: str) -> torch.device:
    """Join the process group torchrun describes (WORLD_SIZE > 1): NCCL with one GPU per process on CUDA, else gloo.
    Without torchrun, nothing to join: the plain device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(device)
    return torch.device(device)


def is_main_process() -> bool:
    return world()[0] == 0


@contextlib.contextmanager
def main_process_first():
    """Rank 0 runs the block before the other ranks do (as mmengine downloads checkpoints: the others then find the
    file in place); without a process group, just the block."""
    rank, size = world()
    if size > 1 and rank > 0:
        dist.barrier()
    yield
    if size > 1 and rank == 0:
        dist.barrier()


def data_parallel(task: nn.Module, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """(task, runner): the module whose parameters train and the module a step calls. In a process group the task's
    BN layers become SyncBN on CUDA (the RTMPose configs'; CUDA-only in torch) and the runner is the task wrapped in
    DistributedDataParallel, which averages gradients over ranks; alone, both are the task."""
    if world()[1] == 1:
        return task, task
    if device.type == "cuda":
        task = nn.SyncBatchNorm.convert_sync_batchnorm(task)
    return task, nn.parallel.DistributedDataParallel(task, device_ids=[device] if device.type == "cuda" else None)


def main_process_value(value: float, device: torch.device) -> float:
    """Rank 0's `value` on every rank (so that every rank decides as rank 0 does); alone, `value` itself."""
    if world()[1] == 1:
        return value
    score = torch.tensor([value], device=device)
    dist.broadcast(score, 0)
    return float(score)
