"""Shared by the parity tests: the skip outside the parity environment, shared random weights, the result table."""

import importlib.util

import pytest
import torch
from torch import nn

# The official packages of tests/parity/requirements.txt, installed by `make parity` into .venv-parity only.
OFFICIAL = all(importlib.util.find_spec(name) is not None for name in ("mmengine", "mmdet", "mmpose", "timm", "tfan"))
RESULTS: list[dict] = []  # one row per comparison: compared, reference, max_abs_diff, identical, arrays


def require_official() -> None:
    """Skips the calling test module; every module skips from this line, so pytest reports them on one line."""
    if not OFFICIAL:
        pytest.skip("parity with the official code: `make parity` runs it in .venv-parity", allow_module_level=True)


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Draws at random every parameter that its init leaves constant (biases, norm gains, layer scales, tokens)
    and every BN statistic, so that no term sits at a neutral value that would hide a difference. Call it after
    `torch.manual_seed`, which draws the other weights as the module builds."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if bool((p == p.flatten()[0]).all()):
                p.add_(torch.rand(p.shape, generator=gen) - 0.5)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model.eval()


def record(model: str, reference: str, ours, theirs) -> bool:
    """Adds a row to the table printed after the run and written to metrics/parity.json (conftest); returns whether
    every pair of arrays holds the same values (compared in float64, so a decoder's float32 and float64 coordinates
    compare by value)."""
    pairs = [(torch.as_tensor(a).double(), torch.as_tensor(b).double()) for a, b in zip(ours, theirs, strict=True)]
    assert all(a.shape == b.shape for a, b in pairs)
    diff = max((a - b).abs().max().item() for a, b in pairs)
    identical = all(torch.equal(a, b) for a, b in pairs)
    RESULTS.append({"compared": model, "reference": reference, "max_abs_diff": diff, "identical": identical,
                    "arrays": len(pairs)})
    return identical
