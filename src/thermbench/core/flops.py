"""Forward FLOPs of a torch model, counted by `torch.utils.flop_counter`.

Convention: one multiply-add is 2 FLOPs (conv and matmul only; biases, activations, norms and pooling are not
counted). mmpose's tables, the MLCM-KD paper's Table II (RTMPose-t "0.58 GFLOPs") and the hand count in
docs/sources.md count multiply-accumulates (MACs) and call them FLOPs. So compare their figures with
`gmacs = gflops / 2`, never with `gflops`.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_gflops(model: torch.nn.Module, input_shape: tuple[int, ...]) -> float:
    """GFLOPs of one forward pass at `input_shape` (B, C, H, W), 2 FLOPs per multiply-add (see the module doc).

    Runs on the model's own device, so a model built on the `meta` device is counted without allocating weights.
    """
    device = next(model.parameters()).device
    x = torch.zeros(input_shape, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9
