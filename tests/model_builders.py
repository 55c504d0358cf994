"""Tiny models with known behaviour, built by the tests themselves."""

import torch

from thermbench.models.rtmpose import build_rtmpose


def lively_rtmpose_t(size: int = 64) -> torch.nn.Module:
    """RTMPose-t whose outputs are O(1): at init its features vanish (~1e-11), which would let any ONNX graph pass and
    put every SimCC argmax in bin 0. BN statistics from one random batch and head Linear std 0.02 fix that."""
    torch.manual_seed(0)
    model = build_rtmpose("t", input_size=(size, size))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
            elif isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=0.02)
        model.train()(torch.randn(4, 3, size, size))
    return model.eval()
