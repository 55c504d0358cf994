"""Tiny models with known behaviour, built by the tests themselves."""

from pathlib import Path

import numpy as np
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


def official_backbone_state(model: torch.nn.Module, seed: int) -> dict:
    """`model`'s backbone keys as MMPose, mmdet and mmcls files hold them (`backbone.` prefix), with seeded random
    values (BN variances positive, counters 7), so that a loaded backbone can only equal the file's by having been
    loaded from it."""
    gen = torch.Generator().manual_seed(seed)
    state = {f"backbone.{k}": torch.randn(v.shape, generator=gen) if v.is_floating_point() else torch.full_like(v, 7)
             for k, v in model.backbone.state_dict().items()}
    return {k: v.abs() + 0.5 if k.endswith("running_var") else v for k, v in state.items()}


def official_checkpoint(backbone: dict, layout: str, channels: int) -> dict:
    """A checkpoint in one of the published layouts (docs/sources.md) around `backbone` (`backbone.*`),
    `channels` its stage-4 width: "mmpose" (publish_model: `meta` with numpy objects, which weights-only loading
    refuses, + `state_dict` with a UDP heatmap head), "bare" (the state dict alone) or "mmcls" (an ImageNet classifier:
    mmcls 0.x `meta` + `state_dict` with `head.fc.*`)."""
    heatmap = {"head.deconv_layers.0.weight": torch.zeros(channels, 256, 4, 4),
               "head.deconv_layers.1.running_mean": torch.zeros(256),
               "head.final_layer.weight": torch.zeros(19, 256, 1, 1), "head.final_layer.bias": torch.zeros(19)}
    if layout == "mmpose":
        meta = {"mmpose_version": "1.0.0rc0", "epoch": 210, "dataset_meta": {"sigmas": np.full(17, 0.079)}}
        return {"meta": meta, "state_dict": {**backbone, **heatmap}}
    if layout == "bare":
        return {**backbone, **heatmap}
    if layout == "mmcls":
        meta = {"mmcls_version": "0.25.0", "CLASSES": ("tench", "goldfish"), "epoch": 600, "config": "model = ..."}
        return {"meta": meta, "state_dict": {**backbone, "head.fc.weight": torch.zeros(1000, channels),
                                             "head.fc.bias": torch.zeros(1000)}}
    raise ValueError(f"unknown layout {layout!r}")


class ConstantPoints(torch.nn.Module):
    """An ONNX-exportable landmark model that puts all 68 points at `point` (input px), whatever the image."""

    def __init__(self, point: tuple[float, float]):
        super().__init__()
        self.register_buffer("point", torch.tensor(point, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1, :1, :1].reshape(-1, 1, 1) * 0 + self.point.expand(68, 2)


class PooledPeak(torch.nn.Module):
    """68 heatmaps, each the 1-channel input average-pooled 2x2: every point's argmax is the brightest 2x2 block."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 2).expand(-1, 68, -1, -1)


def write_card(folder, model: torch.nn.Module, input_size: int, kind: str, names: list[str], channels: int = 3,
               mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), dynamic_batch: bool = True,
               **extra) -> Path:
    """`model` exported to ONNX (batch axis dynamic unless told) with its model card beside it; returns the card's
    path."""
    import yaml

    from thermbench.speed.pose_speed import export_onnx

    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(model, folder / "model.onnx", (1, channels, input_size, input_size), 17, names,
                dynamic_batch=dynamic_batch)
    card = {"onnx": "model.onnx", "keypoints": "ibug68",
            "input": {"size": [input_size, input_size], "layout": "NCHW", "channels": channels,
                      "mean": list(mean)[:channels], "std": list(std)[:channels], "window_c": None},
            "output": {"kind": kind, "names": names, **({"split_ratio": 2.0} if kind == "simcc" else {})},
            "face": {"detector": "hog", "upsample": 1, "crop_scale": 1.25}}
    for key, value in extra.items():
        section, _, field = key.partition(".")
        if field:
            card[section][field] = value
        else:
            card[section] = value
    (folder / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return folder / "card.yaml"
